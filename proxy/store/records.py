"""Values the store keeps. Frozen: the services build them, the store writes them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Received:
    """Where a REGISTER came from: the flow to send requests for the binding back on
    (RFC 5626 §5.2, RFC 3581)."""

    transport: str  # "UDP", "TCP", ...
    host: str  # IP literal, IPv6 without brackets
    port: int


@dataclass(frozen=True, slots=True)
class Registration:
    """One binding of an address of record to a contact (RFC 3261 §10.3).

    Times are wall-clock Unix seconds (``time.time()``): they must mean the same
    thing after a restart and on another proxy, which the event loop's clock does not.
    A binding is identified by ``(aor, contact)``.
    """

    aor: str  # address of record, canonical form (RFC 3261 §10.3 step 5)
    contact: str  # the Contact URI
    expires_at: float
    call_id: str
    cseq: int
    received: Received
    updated_at: float
    q: float | None = None  # Contact ;q= (RFC 3261 §20.10), None when absent
    instance_id: str | None = None  # Contact ;+sip.instance= (RFC 5626 §4.1)
    reg_id: int | None = None  # Contact ;reg-id= (RFC 5626 §4.2)
    path: tuple[str, ...] = ()  # Path header values, in order (RFC 3327)
    user_agent: str | None = None

    def key(self) -> tuple[str, str]:
        """The binding's identity: ``(aor, contact)``."""
        return (self.aor, self.contact)
