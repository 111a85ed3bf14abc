"""Values the store keeps. Frozen: the services build them, the store writes them."""

from __future__ import annotations

import enum
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Received:
    """Where a REGISTER came from: the flow to send requests for the binding back on
    (RFC 5626 §5.2, RFC 3581)."""

    transport: str  # "UDP", "TCP", ...
    host: str  # IP literal, IPv6 without brackets
    port: int


class HistoryOrder(enum.StrEnum):
    """Which calls of the history come first in a page."""

    OLDEST_FIRST = "oldest"  # as ``vipproxy history`` prints them
    NEWEST_FIRST = "newest"  # as the console shows them: the call just over on top


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


@dataclass(frozen=True, slots=True)
class CallHistory:
    """One call on one line, as the shared call history keeps it: flat values, named
    as the ``call.ended`` log line names them, so a row read back prints the same.

    Times are wall-clock Unix seconds; ``duration`` is the seconds talked. A call is
    identified by ``(call_id, line, started)``: a call between two users' lines
    leaves one row per line, and a Call-ID reused by a new INVITE starts later.
    """

    call_id: str
    line: str  # the line's number, normalised
    delegator: str  # who owns the line (user id)
    direction: str  # incoming, outgoing
    caller: str | None
    caller_source: str  # where the caller's identity came from
    callee: str | None
    vip: str | None  # the VIP contact matched
    policy: str | None
    stages: str | None  # the stages the routing decision planned
    reason: str | None  # why that policy
    rung: str | None  # everybody rung, in order, comma separated
    answered_by: str | None
    answered_phone: str | None
    made_by: str | None
    outcome: str  # answered, missed, voicemail, busy, cancelled, failed
    status: int  # the final response the caller got
    started: float
    answered: float | None
    ended: float
    duration: float
    hung_up_by: str | None
    end_reason: str
    held_by: str | None = None  # who last put the call on hold
    held_at: float | None = None

    def key(self) -> tuple[str, str, float]:
        """The row's identity: ``(call_id, line, started)``."""
        return (self.call_id, self.line, self.started)
