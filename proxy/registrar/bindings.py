"""The registrar's values: a binding of an address of record to a contact.

The fields are those of the store's ``Registration`` and ``Received``
(``proxy.store.records``), one for one, so that the composition root maps them
field by field; the registrar itself never imports the store.
"""

from __future__ import annotations

from dataclasses import dataclass

from proxy.sip.address import NameAddr
from proxy.sip.params import Params

# RFC 3261 §20.10 leaves a Contact without q unranked; the registrar ranks it like
# q=1.0, the highest preference, as most registrars do.
Q_WHEN_ABSENT = 1.0


@dataclass(frozen=True, slots=True)
class Received:
    """Where a REGISTER came from: the flow to send requests for the binding back on
    (RFC 5626 §5.2, RFC 3581)."""

    transport: str  # "UDP", "TCP", ...
    host: str  # IP literal, IPv6 without brackets
    port: int


@dataclass(frozen=True, slots=True)
class Binding:
    """One binding of an address of record to a contact (RFC 3261 §10.3).

    Times are in the registrar's clock: wall-clock Unix seconds, so that a binding
    restored after a restart (or read by another proxy) keeps its meaning.
    A binding is identified by ``(aor, contact)``.
    """

    aor: str  # address of record, canonical form (RFC 3261 §10.3 step 5)
    contact: str  # the Contact URI, as the UA wrote it
    expires_at: float
    call_id: str
    cseq: int
    received: Received
    updated_at: float
    q: float | None = None  # Contact ;q= (RFC 3261 §20.10), None when absent
    instance_id: str | None = None  # Contact ;+sip.instance= without quotes (RFC 5626 §4.1)
    reg_id: int | None = None  # Contact ;reg-id= (RFC 5626 §4.2)
    path: tuple[str, ...] = ()  # Path header values, in order (RFC 3327)
    user_agent: str | None = None

    def key(self) -> tuple[str, str]:
        """The binding's identity: ``(aor, contact)``."""
        return (self.aor, self.contact)

    def expired(self, now: float) -> bool:
        """True from ``expires_at`` on: a binding lives for ``[updated_at, expires_at)``."""
        return self.expires_at <= now

    def remaining(self, now: float) -> int:
        """Whole seconds left (rounded down, so a UA refreshes early rather than late)."""
        return max(0, int(self.expires_at - now))

    @property
    def preference(self) -> float:
        """The q-value used to rank contacts (absent counts as 1.0)."""
        return Q_WHEN_ABSENT if self.q is None else self.q

    def contact_header(self, now: float) -> str:
        """The Contact value listing this binding in a 200 to REGISTER (§10.3 step 8):
        the URI with its ``expires``, ``q`` and RFC 5626 instance parameters."""
        params: Params = (("expires", str(self.remaining(now))),)
        if self.q is not None:
            params += (("q", format_q(self.q)),)
        if self.instance_id is not None:
            params += (("+sip.instance", f'"{self.instance_id}"'),)
        if self.reg_id is not None:
            params += (("reg-id", str(self.reg_id)),)
        return str(NameAddr(None, self.contact, params))


def format_q(q: float) -> str:
    """A q-value as the grammar writes it (RFC 3261 §25.1 qvalue): ``1``, ``0.5``, ``0.125``."""
    return f"{q:.3f}".rstrip("0").rstrip(".")


def ranked(bindings: list[Binding]) -> list[Binding]:
    """Highest q first; among equals the most recently updated first."""
    return sorted(bindings, key=lambda binding: (-binding.preference, -binding.updated_at))
