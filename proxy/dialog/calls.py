"""The tracker's state for one call: its branches (each an early or confirmed
dialog), the lines it appears on, and how it turns into views and records."""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace

from proxy.core.pickup import LineDialog
from proxy.dialog.machine import LegInput, next_state
from proxy.dialog.records import CallDirection, CallRecord, Outcome
from proxy.dialog.views import DialogState, DialogView, Direction, HeldBy, Party
from proxy.policy.decision import Decision as PolicyDecision
from proxy.policy.plan import TargetRole


class Side(enum.Enum):
    """A party of the call, whatever line it is seen from."""

    CALLER = "caller"
    CALLEE = "callee"


class LegEnd(enum.Enum):
    """How a branch's dialog ended; RFC 4235 §4.1.6.2 names each from a line's side."""

    CANCELLED = "cancelled"
    REJECTED = "rejected"
    BYE_FROM_CALLER = "bye from the caller"
    BYE_FROM_CALLEE = "bye from the callee"
    EXPIRED = "expired"
    STOPPED = "proxy stopped"


@dataclass(frozen=True, slots=True)
class Appearance:
    """The call shows on ``line`` (owned by ``owner``), placed from it or received."""

    line: str
    owner: str
    direction: Direction


@dataclass(slots=True)
class Leg:
    """One branch of the call: the dialog the callee's phone makes (RFC 3261 §12.1)."""

    branch_id: int
    target: str  # the URI rung
    user: str | None
    role: TargetRole
    started: float
    state: DialogState = DialogState.TRYING
    to_tag: str | None = None
    contact: str | None = None  # the callee phone's Contact
    confirmed: float | None = None
    # The sides holding the call now, each since when: both may (RFC 3264 §8.4,
    # RFC 6337 §5.3), and one resuming leaves the other's hold in place.
    holding: dict[Side, float] = field(default_factory=dict)
    end: LegEnd | None = None

    def apply(self, event: LegInput, end: LegEnd | None = None) -> bool:
        """Feed ``event``; True when the dialog's state changed."""
        state = next_state(self.state, event)
        if state is self.state:
            return False
        self.state = state
        if state is DialogState.TERMINATED:
            self.end = end
        return True


@dataclass(slots=True)
class Call:
    """A call the proxy routed that touches at least one user's line."""

    call_id: str
    from_tag: str
    started: float
    caller: Party
    callee: Party
    appearances: tuple[Appearance, ...]
    decision: PolicyDecision | None
    caller_number: str | None
    caller_source: str
    callee_number: str | None
    made_by: str | None
    deadline: float
    legs: dict[int, Leg] = field(default_factory=dict)
    rung: list[str] = field(default_factory=list)
    answered_leg: Leg | None = None
    answered_at: float | None = None
    status: int | None = None  # the final response the caller got
    session_interval: float | None = None  # RFC 4028 Session-Expires, when negotiated
    hung_up_by: Side | None = None
    # The flow the caller's phone called from, for a phone behind a NAT ('' none).
    caller_flow: str = ""
    held_by: str | None = None  # who put the call on hold last (a person), and when
    held_at: float | None = None
    # A pick-up (``proxy.core.pickup``) is a call of its own, joined to the held
    # call it replaces: the two leave one record per line, when both are over.
    replaces: Call | None = None  # on the pick-up: the held call
    replaced_by: Call | None = None  # on the held call: the pick-up under way or done
    _id_prefix: str = ""

    def __post_init__(self) -> None:
        self._id_prefix = hashlib.blake2s(self.call_id.encode(), digest_size=6).hexdigest()

    @property
    def finished(self) -> bool:
        return self.status is not None and all(
            leg.state is DialogState.TERMINATED for leg in self.legs.values())

    def leg_for_tags(self, from_tag: str | None, to_tag: str | None) -> tuple[Leg, Side] | None:
        """The branch an in-dialog request belongs to, and which side sent it: the
        caller's requests carry its tag in From, the callee's in To (§12.2.1.1)."""
        for leg in self.legs.values():
            if leg.to_tag is None:
                continue
            if from_tag == self.from_tag and to_tag == leg.to_tag:
                return leg, Side.CALLER
            if to_tag == self.from_tag and from_tag == leg.to_tag:
                return leg, Side.CALLEE
        return None

    def person_on(self, side: Side, leg: Leg | None) -> str | None:
        """Who is on ``side`` of the call (the callee through ``leg``), as the
        history names them."""
        if side is Side.CALLER:
            return self.made_by or self.caller_number or self.caller.identity
        return _answered_by(leg)

    # --- what it shows ------------------------------------------------------------

    def line_dialogs(self, appearance: Appearance) -> Iterator[LineDialog]:
        """The dialogs a pick-up on ``appearance.line`` may take: confirmed ones
        (held or not), and the early ones of a call ringing the line (only its
        caller can replace those, RFC 3891 §3). The far party is the caller when
        the line received the call, else the callee. A call whose pick-up is under
        way offers nothing more to pick up."""
        line_side = Side.CALLEE if appearance.direction is Direction.RECIPIENT else Side.CALLER
        free = self.replaced_by is None
        for leg in self.legs.values():
            if leg.to_tag is None:
                continue
            if leg.state is DialogState.EARLY and line_side is Side.CALLEE and free:
                yield LineDialog(self.call_id, appearance.line, appearance.owner, leg.to_tag,
                                 self.from_tag, self.caller.target, self.caller_flow,
                                 held=False, ringing=True)
            if leg.state is not DialogState.CONFIRMED:
                continue
            held = line_side in leg.holding and free
            if line_side is Side.CALLEE:
                yield LineDialog(self.call_id, appearance.line, appearance.owner, leg.to_tag,
                                 self.from_tag, self.caller.target, self.caller_flow, held)
            else:
                # The callee's flow is not kept: a held callee is reached at its Contact.
                yield LineDialog(self.call_id, appearance.line, appearance.owner,
                                 self.from_tag, leg.to_tag, leg.contact, "", held)

    def view(self, leg: Leg, appearance: Appearance) -> DialogView:
        """``leg`` as the watchers of ``appearance.line`` see it (RFC 4235 §4.1)."""
        line_side = Side.CALLEE if appearance.direction is Direction.RECIPIENT else Side.CALLER
        callee = Party(self.callee.identity, self.callee.display, leg.contact, leg.user)
        local, remote = (callee, self.caller) if line_side is Side.CALLEE else (
            self.caller, callee)
        local_tag, remote_tag = (leg.to_tag, self.from_tag) if line_side is Side.CALLEE else (
            self.from_tag, leg.to_tag)
        # The line's own hold first: it is what a delegate may pick up.
        holder = line_side if line_side in leg.holding else next(iter(leg.holding), None)
        held = None if holder is None else (
            HeldBy.LOCAL if holder is line_side else HeldBy.REMOTE)
        # The caller is a VIP contact of the called line's owner: not of the line
        # the call was placed from.
        vip = self.decision.vip if self.decision is not None and line_side is Side.CALLEE else None
        return DialogView(
            id=f"{self._id_prefix}-{leg.branch_id}", call_id=self.call_id,
            local_tag=local_tag, remote_tag=remote_tag, direction=appearance.direction,
            state=leg.state, local=local, remote=remote, held_by=held,
            terminated_by=self._terminated_by(leg, line_side), started=leg.started,
            confirmed=leg.confirmed, held_at=None if holder is None else leg.holding[holder],
            vip=vip.label if vip is not None else None)

    def _terminated_by(self, leg: Leg, line_side: Side) -> str | None:
        """RFC 4235 §4.1.6.2 ``event``; a dialog that a pick-up's INVITE with Replaces
        took over ends with the BYE of RFC 3891 §3, and says ``replaced``."""
        if self.replaced_by is not None and leg.end in (LegEnd.BYE_FROM_CALLER,
                                                         LegEnd.BYE_FROM_CALLEE):
            return "replaced"
        return _terminated_event(leg.end, line_side)

    def record(self, appearance: Appearance, ended: float,
               pickups: Sequence[Call] = ()) -> CallRecord:
        """What the line's history keeps of the call once it is over. A call picked
        up while it was held (``pickups``, in order: each took the one before) is
        one call: answered by whoever picked it up last (at their phone), hung up
        and ended as that pick-up was, held by whoever put it on hold last (before
        a pick-up, or after it); the first answer stays."""
        record = self._own_record(appearance, ended)
        if not pickups:
            return record
        last = pickups[-1]
        held = max((call for call in (self, *pickups) if call.held_at is not None),
                   key=lambda call: call.held_at or 0.0, default=self)
        hung_up_by = (last.made_by if last.hung_up_by is Side.CALLER
                      else last.callee_number if last.hung_up_by is Side.CALLEE else None)
        record = replace(record, answered_by=last.made_by, answered_phone=last.caller.target,
                         hung_up_by=hung_up_by, end_reason=last._end_reason(),
                         held_by=held.held_by, held_at=held.held_at)
        if self.answered_leg is None:
            # Picked up while it rang: the caller CANCELled its INVITE (487) for the
            # pick-up's, which was answered then.
            record = replace(record, outcome=Outcome.ANSWERED, status=pickups[0].status or 200,
                             answered=pickups[0].answered_at)
        return record

    def _own_record(self, appearance: Appearance, ended: float) -> CallRecord:
        decision = self.decision
        answered = self.answered_leg
        return CallRecord(
            call_id=self.call_id, line=appearance.line, delegator=appearance.owner,
            direction=(CallDirection.INCOMING if appearance.direction is Direction.RECIPIENT
                       else CallDirection.OUTGOING),
            caller=self.caller_number, caller_source=self.caller_source,
            callee=self.callee_number,
            vip=decision.vip.label if decision is not None and decision.vip else None,
            policy=decision.policy if decision is not None else None,
            stages=decision.planned_stages if decision is not None else None,
            reason=decision.reason if decision is not None else None,
            rung=tuple(self.rung),
            answered_by=_answered_by(answered), answered_phone=(
                (answered.contact or answered.target) if answered is not None else None),
            made_by=self.made_by if appearance.direction is Direction.INITIATOR else None,
            outcome=self._outcome(), status=self.status or 0, started=self.started,
            answered=self.answered_at, ended=ended, hung_up_by=self._hung_up_by(),
            end_reason=self._end_reason(), held_by=self.held_by, held_at=self.held_at)

    def _outcome(self) -> Outcome:
        answered = self.answered_leg
        if answered is not None:
            return Outcome.VOICEMAIL if answered.role is TargetRole.VOICEMAIL else (
                Outcome.ANSWERED)
        return _OUTCOMES.get(self.status or 0, Outcome.FAILED)

    def _hung_up_by(self) -> str | None:
        if self.hung_up_by is Side.CALLER:
            return self.person_on(Side.CALLER, None)
        if self.hung_up_by is Side.CALLEE:
            return _answered_by(self.answered_leg) or self.callee_number
        return None

    def _end_reason(self) -> str:
        answered = self.answered_leg
        if answered is None:
            return "cancelled" if self.status == 487 else "rejected"
        end = answered.end
        if end in (LegEnd.BYE_FROM_CALLER, LegEnd.BYE_FROM_CALLEE):
            return "bye"
        return end.value if end is not None else "bye"


# RFC 3261 §21: what an unanswered call's final status means for its history.
_OUTCOMES = {
    487: Outcome.CANCELLED,  # the caller's CANCEL (§9.1)
    486: Outcome.BUSY, 600: Outcome.BUSY, 603: Outcome.BUSY,
    408: Outcome.MISSED, 480: Outcome.MISSED,
}


def person(role: TargetRole, user: str | None, target: str) -> str:
    """Who a branch rings, as the history names them: the shared mailbox as
    ``voicemail`` (its target names the delegator whose mailbox it is, who was not
    rung), a user by id, anyone else by the URI rung."""
    if role is TargetRole.VOICEMAIL:
        return "voicemail"
    return user or target


def _answered_by(leg: Leg | None) -> str | None:
    return None if leg is None else person(leg.role, leg.user, leg.target)


def _terminated_event(end: LegEnd | None, line_side: Side) -> str | None:
    """RFC 4235 §4.1.6.2 ``event``: a BYE is local or remote seen from the line."""
    match end:
        case None | LegEnd.STOPPED:
            return None
        case LegEnd.CANCELLED:
            return "cancelled"
        case LegEnd.REJECTED:
            return "rejected"
        case LegEnd.EXPIRED:
            return "timeout"
        case LegEnd.BYE_FROM_CALLER:
            return "local-bye" if line_side is Side.CALLER else "remote-bye"
        case LegEnd.BYE_FROM_CALLEE:
            return "local-bye" if line_side is Side.CALLEE else "remote-bye"
