"""The record a call leaves in the shared history: who called whom on which line,
why it rang whom (the routing decision), who answered or placed it, how it ended."""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace


class Outcome(enum.StrEnum):
    ANSWERED = "answered"
    MISSED = "missed"  # nobody answered (timeouts, unavailable)
    VOICEMAIL = "voicemail"  # the shared mailbox took it
    BUSY = "busy"  # 486, 600 or 603 (declined); also a call to a full line (486)
    CANCELLED = "cancelled"  # the caller hung up while it rang
    FAILED = "failed"  # any other final response: see ``status``


class CallDirection(enum.StrEnum):
    INCOMING = "incoming"  # to the line
    OUTGOING = "outgoing"  # placed from the line


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One call on one line. A call between two users' lines leaves two records,
    one in each line's history.

    Times are on the call events' clock (the proxy's loop clock): whoever stores a
    record turns them into wall-clock time. ``hung_up_by`` is None when nobody did
    (the call was never answered, its dialog expired, or the proxy stopped);
    ``end_reason`` says which: ``bye``, ``rejected``, ``cancelled``, ``expired``,
    ``proxy stopped``.
    """

    call_id: str
    line: str
    delegator: str  # the line's owner
    direction: CallDirection
    caller: str | None
    caller_source: str  # p-asserted-identity, from, or authenticated
    callee: str | None
    vip: str | None  # the VIP contact matched, as labelled
    policy: str | None
    stages: str | None  # the stages the decision planned, as the route.decision log
    reason: str | None  # why that policy, in words
    rung: tuple[str, ...]  # every person (user id) or target rung, in order
    answered_by: str | None  # user id ("voicemail" for the mailbox)
    answered_phone: str | None  # the Contact of the phone that answered
    made_by: str | None  # the user who placed an outgoing call
    outcome: Outcome
    status: int  # the final response the caller got
    started: float
    answered: float | None
    ended: float
    hung_up_by: str | None
    end_reason: str
    # Who last put the call on hold (a person, as ``answered_by`` names them) and
    # when; kept when someone else picked the held call up.
    held_by: str | None = None
    held_at: float | None = None

    @property
    def duration(self) -> float:
        """Seconds talked (0 for a call never answered)."""
        return 0.0 if self.answered is None else max(0.0, self.ended - self.answered)

    def on_wall_clock(self, offset: float) -> CallRecord:
        """The record with its times moved by ``offset`` (loop clock -> Unix time)."""
        return replace(self, started=self.started + offset,
                       answered=None if self.answered is None else self.answered + offset,
                       ended=self.ended + offset,
                       held_at=None if self.held_at is None else self.held_at + offset)

    def fields(self) -> dict[str, str | int | float | None]:
        """Flat values, as the ``call.ended`` log line and ``history --json`` show them."""
        return {
            "call_id": self.call_id, "line": self.line, "delegator": self.delegator,
            "direction": self.direction.value, "caller": self.caller,
            "caller_source": self.caller_source, "callee": self.callee, "vip": self.vip,
            "policy": self.policy, "stages": self.stages, "reason": self.reason,
            "rung": ", ".join(self.rung) or None, "answered_by": self.answered_by,
            "answered_phone": self.answered_phone, "made_by": self.made_by,
            "outcome": self.outcome.value, "status": self.status, "started": self.started,
            "answered": self.answered, "ended": self.ended,
            "duration": round(self.duration, 3), "hung_up_by": self.hung_up_by,
            "end_reason": self.end_reason, "held_by": self.held_by, "held_at": self.held_at,
        }
