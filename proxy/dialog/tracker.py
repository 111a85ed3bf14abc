"""The dialog tracker: every call to or from a user's line followed from the call
events the core publishes, turned into line state (for lamps and ``max_calls``)
and, when a call is over, one history record per line it was on.

Pure (ARCHITECTURE, ``proxy/dialog/``): events in, ``Update`` out, time passed
in. The tracker never sends or stores anything; whoever feeds it acts on the
``Update``. A dialog whose BYE is lost ends at its RFC 4028 Session-Expires, or
after ``max_duration`` when none was negotiated, so no line stays busy for ever.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import assert_never

from proxy.core.decorate import calling_identity
from proxy.core.events import (
    BranchResponded,
    BranchRung,
    CallAnswered,
    CallEvent,
    CallRouted,
    CallSettled,
    InDialogAnswered,
    RequestRefused,
)
from proxy.core.flows import caller_flow
from proxy.core.pickup import LineDialog, Pickup
from proxy.defaults import DIALOG_MAX_DURATION_SECONDS, LINE_MAX_CALLS
from proxy.dialog.calls import Appearance, Call, Leg, LegEnd, Side, person
from proxy.dialog.machine import LegInput
from proxy.dialog.records import CallRecord
from proxy.dialog.sdp import holds_media, is_sdp
from proxy.dialog.views import (
    DialogState,
    DialogView,
    Direction,
    LineChange,
    LineView,
    Party,
)
from proxy.policy.decision import Decision
from proxy.policy.directory import Directory
from proxy.policy.placing import Placement, own_line
from proxy.sip.address import address_tag, address_user, parse_name_addr
from proxy.sip.errors import SipParseError
from proxy.sip.message import Request, Response

# RFC 4028 §4: a Session-Expires below 90 s is not allowed; a smaller value is a
# broken header, read as no session timer at all.
_MIN_SESSION_EXPIRES = 90


@dataclass(frozen=True, slots=True)
class DialogSettings:
    max_duration: float = DIALOG_MAX_DURATION_SECONDS  # a quiet call without a session timer
    max_calls: int = LINE_MAX_CALLS  # per line; the next call gets 486


@dataclass(frozen=True, slots=True)
class Update:
    """What changed: the lines to show again, and the calls that are over."""

    changed: tuple[LineChange, ...] = ()
    finished: tuple[CallRecord, ...] = ()


NO_UPDATE = Update()


class DialogTracker:
    """Calls on users' lines, keyed by Call-ID, and each line's calls in order."""

    def __init__(self, directory: Directory, settings: DialogSettings | None = None) -> None:
        self._directory = directory
        self._settings = settings or DialogSettings()
        self._calls: dict[str, Call] = {}
        self._lines: dict[str, dict[str, Call]] = {}  # line -> call id -> call

    def use_directory(self, directory: Directory) -> None:
        """A reloaded directory: lines are found and normalised by it from now on;
        the calls already followed keep their records."""
        self._directory = directory

    # --- questions ------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._calls)

    def line(self, number: str) -> LineView | None:
        """The line now; None when ``number`` is nobody's line."""
        owner = self._directory.line_owner(number)
        if owner is None:
            return None
        line = self._directory.normalize(number)
        calls = self._lines.get(line, {})
        dialogs = tuple(view for call in calls.values() for view in _live_views(call, line))
        return LineView(line, owner.id, dialogs)

    def busy_lines(self) -> list[LineView]:
        """Every line with a call on it now (the idle ones are not listed)."""
        return [view for number in self._lines if (view := self.line(number)) is not None]

    def calls_on(self, number: str) -> int:
        """How many calls the line carries now."""
        return len(self._lines.get(self._directory.normalize(number), ()))

    def call_dialogs(self, number: str, call_id: str) -> tuple[DialogView, ...]:
        """The live dialogs of one call on the line (what changed when it changed)."""
        line = self._directory.normalize(number)
        call = self._lines.get(line, {}).get(call_id)
        return () if call is None else tuple(_live_views(call, line))

    def dialogs_on(self, line: str) -> tuple[LineDialog, ...]:
        """The dialogs of the calls on ``line`` a pick-up may take
        (``core.pickup.LineDialogs``)."""
        normalised = self._directory.normalize(line)
        return tuple(dialog for call in self._lines.get(normalised, {}).values()
                     for appearance in call.appearances if appearance.line == normalised
                     for dialog in call.line_dialogs(appearance))

    def dialogs_of(self, call_id: str) -> tuple[LineDialog, ...]:
        """The dialogs of one call a pick-up may take, once per line it is on."""
        call = self._calls.get(call_id)
        if call is None:
            return ()
        return tuple(dialog for appearance in call.appearances
                     for dialog in call.line_dialogs(appearance))

    def line_full(self, number: str) -> bool:
        """Whether a new call to ``number`` would go past ``max_calls`` (486)."""
        calls = self._lines.get(self._directory.normalize(number))
        return calls is not None and len(calls) >= self._settings.max_calls

    # --- events -------------------------------------------------------------------

    def observe(self, event: CallEvent) -> Update:
        """Follow one call event."""
        match event:
            case CallRouted():
                return self._routed(event)
            case BranchRung():
                return self._rung(event)
            case BranchResponded():
                return self._responded(event)
            case CallAnswered():
                return self._answered(event)
            case CallSettled():
                return self._settled(event)
            case InDialogAnswered():
                return self._in_dialog(event)
            case RequestRefused():
                return NO_UPDATE
            case _:
                assert_never(event)

    def expire(self, now: float) -> Update:
        """End the calls that went quiet past their deadline (a lost BYE)."""
        due = [call for call in self._calls.values() if call.deadline <= now]
        return self._merge(self._end_call(call, LegInput.EXPIRED, LegEnd.EXPIRED, now)
                           for call in due)

    def stop(self, now: float) -> Update:
        """The proxy stops: every call still followed is recorded as it stands."""
        calls = list(self._calls.values())
        return self._merge(self._end_call(call, LegInput.STOPPED, LegEnd.STOPPED, now)
                           for call in calls)

    # --- the call's start -------------------------------------------------------------

    def _routed(self, event: CallRouted) -> Update:
        request = event.request
        if event.method != "INVITE" or event.call_id in self._calls:
            return NO_UPDATE
        if event.pickup is not None:
            return self._picked_up(event, event.pickup)
        appearances = self._appearances(event)
        if not appearances:
            return NO_UPDATE  # no user's line in it: nothing to show or keep
        decision = event.decision
        source = event.source
        caller_identity = _identity(request, decision)
        callee = _party(request.header("to"))
        call = Call(
            call_id=event.call_id, from_tag=address_tag(request.header("from")) or "",
            started=event.at,
            caller=Party(caller_identity.identity, caller_identity.display,
                         _contact(request), source.user),
            callee=callee, appearances=appearances, decision=decision,
            caller_number=(decision.caller if decision is not None
                           else address_user(request.header("from"))),
            caller_source=("authenticated" if source.authenticated else
                           decision.caller_source if decision is not None else "from"),
            callee_number=(decision.line if decision is not None
                           else address_user(request.header("to"))),
            made_by=source.user, deadline=event.at + self._settings.max_duration,
            caller_flow=caller_flow(request, source.hop) if source.authenticated else "")
        return self._follow(call)

    def _follow(self, call: Call) -> Update:
        self._calls[call.call_id] = call
        for appearance in call.appearances:
            self._lines.setdefault(appearance.line, {})[call.call_id] = call
        return self._changes(call, [], began=True)

    def _picked_up(self, event: CallRouted, pickup: Pickup) -> Update:
        """A phone picks up a held (or ringing) call: its INVITE to the far party is
        a call of its own, shown on the picked-up call's lines (the picking phone
        is its caller, the far party its callee) and joined to that call for the
        history (``_records``)."""
        held = self._calls.get(pickup.call_id)
        if held is None:
            return NO_UPDATE  # over meanwhile: the held party will refuse it (481)
        picked_line = next((appearance for appearance in held.appearances
                            if appearance.line == pickup.line), None)
        if picked_line is None:
            return NO_UPDATE
        # The picking phone shows as the line (what the held call showed there),
        # at its own Contact; the far party stays who it was.
        if picked_line.direction is Direction.RECIPIENT:
            line, far, far_number = held.callee, held.caller, held.caller_number
        else:
            leg = held.answered_leg
            line, far_number = held.caller, held.callee_number
            far = Party(held.callee.identity, held.callee.display,
                        leg.contact if leg is not None else None, leg.user if leg else None)
        request, source = event.request, event.source
        call = Call(
            call_id=event.call_id, from_tag=address_tag(request.header("from")) or "",
            started=event.at,
            caller=Party(line.identity, line.display, _contact(request), source.user),
            callee=far,
            appearances=tuple(
                Appearance(appearance.line, appearance.owner,
                           Direction.INITIATOR if appearance is picked_line
                           else Direction.RECIPIENT)
                for appearance in held.appearances),
            decision=None, caller_number=address_user(request.header("from")),
            caller_source="authenticated" if source.authenticated else "from",
            callee_number=far_number, made_by=pickup.by,
            deadline=event.at + self._settings.max_duration,
            caller_flow=caller_flow(request, source.hop) if source.authenticated else "",
            replaces=held)
        held.replaced_by = call
        return self._follow(call)

    def _appearances(self, event: CallRouted) -> tuple[Appearance, ...]:
        """The lines the call is on: the called line when it is a user's, and the
        line the call was placed on (its owner's, also when a delegate placed it)."""
        directory = self._directory
        appearances = []
        decision = event.decision
        called = decision.line if decision is not None else None
        owner = directory.line_owner(called) if called is not None else None
        if called is not None and owner is not None:
            appearances.append(Appearance(called, owner.id, Direction.RECIPIENT))
        placed = self._placed_on(event)
        if placed is not None and placed.line != called:
            appearances.append(Appearance(placed.line, placed.owner, Direction.INITIATOR))
        return tuple(appearances)

    def _placed_on(self, event: CallRouted) -> Placement | None:
        """The line the policy placed the call on; for a request that followed its
        own Route (no decision), the line of the phone's user (``own_line``)."""
        if event.decision is not None:
            return event.decision.placing
        caller = event.source.user
        if caller is None:
            return None
        return own_line(self._directory, caller, address_user(event.request.header("from")))

    def _rung(self, event: BranchRung) -> Update:
        call = self._calls.get(event.call_id)
        if call is None or event.branch_id in call.legs:
            return NO_UPDATE
        call.legs[event.branch_id] = Leg(event.branch_id, event.target, event.user, event.role,
                                          event.at)
        rung = person(event.role, event.user, event.target)
        if rung not in call.rung:
            call.rung.append(rung)
        return self._changes(call, [])

    # --- responses ------------------------------------------------------------------

    def _responded(self, event: BranchResponded) -> Update:
        call = self._calls.get(event.call_id)
        leg = call.legs.get(event.branch_id) if call is not None else None
        if call is None or leg is None:
            return NO_UPDATE
        response = event.response
        status = response.status
        if status < 200:
            to_tag = address_tag(response.header("to"))
            if to_tag is None or leg.state is not DialogState.TRYING:
                return NO_UPDATE  # §12.1: no To tag, no early dialog; later 1xx: nothing new
            leg.to_tag, leg.contact = to_tag, _contact(response) or leg.contact
            return self._changes(call, []) if leg.apply(LegInput.PROVISIONAL) else NO_UPDATE
        if status < 300:
            # The dialog is the 2xx's (RFC 3261 §12.1, §13.2.2.4): an element beyond
            # the branch may have forked it, so its To tag can differ from the 1xx's.
            leg.to_tag = address_tag(response.header("to")) or leg.to_tag
            leg.contact = _contact(response) or leg.contact
            if not leg.apply(LegInput.SUCCESS):
                return NO_UPDATE
            leg.confirmed = event.at
            call.session_interval = _session_expires(response) or call.session_interval
            call.deadline = event.at + self._interval(call)
            return self._changes(call, [])
        end = LegEnd.CANCELLED if status == 487 else LegEnd.REJECTED
        if not leg.apply(LegInput.FAILURE, end):
            return NO_UPDATE
        return self._after_ending(call, [leg], event.at)

    def _answered(self, event: CallAnswered) -> Update:
        call = self._calls.get(event.call_id)
        if call is not None and call.answered_leg is None:
            call.answered_leg = call.legs.get(event.branch_id)
            call.answered_at = event.at
        return NO_UPDATE

    def _settled(self, event: CallSettled) -> Update:
        """The caller has its final response: every other branch is over (RFC 3261
        §16.7 step 10 cancels them), so exactly one dialog stays confirmed."""
        call = self._calls.get(event.call_id)
        if call is None or call.status is not None or event.method != "INVITE":
            return NO_UPDATE  # a CANCEL's 200 settles the CANCEL, not the call
        call.status = event.status
        ending = [leg for leg in call.legs.values() if leg is not call.answered_leg]
        ended = [leg for leg in ending
                 if leg.apply(LegInput.ANSWERED_ELSEWHERE, LegEnd.CANCELLED)]
        return self._after_ending(call, ended, event.at)

    # --- inside the dialog ------------------------------------------------------------

    def _in_dialog(self, event: InDialogAnswered) -> Update:
        request = event.request
        call = self._calls.get(request.call_id)
        if call is None:
            return NO_UPDATE
        found = call.leg_for_tags(address_tag(request.header("from")),
                                  address_tag(request.header("to")))
        if found is None:
            return NO_UPDATE
        leg, side = found
        if request.method == "BYE":
            # §15.1.2: whatever the answer, the dialog is over once BYE was sent.
            end = LegEnd.BYE_FROM_CALLER if side is Side.CALLER else LegEnd.BYE_FROM_CALLEE
            answered = leg.state is DialogState.CONFIRMED
            if not leg.apply(LegInput.BYE, end):
                return NO_UPDATE
            if answered:  # a caller's BYE to an early dialog hangs up no call (§15)
                call.hung_up_by = call.hung_up_by or side
            return self._after_ending(call, [leg], event.at)
        if event.status // 100 != 2:
            return NO_UPDATE
        # RFC 4028 §10: a refresh (any 2xx re-INVITE or UPDATE) restarts the session
        # timer, with the interval its 2xx names (§9: none there, no timer any more);
        # other 2xx traffic shows the call is alive as well.
        refresh = request.method in ("INVITE", "UPDATE")
        if refresh:
            call.session_interval = _session_expires(event.response)
        call.deadline = event.at + self._interval(call)
        if refresh and is_sdp(request.header("content-type")):
            return self._hold(call, leg, side, holds_media(request.body), event.at)
        return NO_UPDATE

    def _hold(self, call: Call, leg: Leg, side: Side, holding: bool, at: float) -> Update:
        """RFC 3264 §8.4: the side that offered held media holds the call; its offer
        of active media resumes it. The other side's offers do not undo a hold, and
        both sides may hold at once (RFC 6337 §5.3)."""
        if holding and side not in leg.holding:
            leg.holding[side] = at
            call.held_by, call.held_at = call.person_on(side, leg), at
        elif not holding and side in leg.holding:
            del leg.holding[side]
        else:
            return NO_UPDATE
        return self._changes(call, [])

    # --- the call's end -----------------------------------------------------------------

    def _end_call(self, call: Call, event: LegInput, end: LegEnd, now: float) -> Update:
        call.status = call.status or 408
        ended = [leg for leg in call.legs.values() if leg.apply(event, end)]
        return self._after_ending(call, ended, now)

    def _after_ending(self, call: Call, ended: list[Leg], now: float) -> Update:
        if not call.finished:
            return self._changes(call, ended)
        del self._calls[call.call_id]
        for appearance in call.appearances:
            calls = self._lines.get(appearance.line)
            if calls is not None:
                calls.pop(call.call_id, None)
                if not calls:
                    del self._lines[appearance.line]
        return Update(self._changes(call, ended).changed, self._records(call, now))

    @staticmethod
    def _records(call: Call, now: float) -> tuple[CallRecord, ...]:
        """The history of a call that is over. A held call and the pick-ups that
        replaced it one after the other are one call: recorded once all are over,
        on the first call's lines. A pick-up the held party refused leaves no
        record: the call it aimed at goes on as it was."""
        if call.replaces is not None and call.answered_leg is None:
            call.replaces.replaced_by = None
        first = call
        while first.replaces is not None:
            first = first.replaces
        chain = [first]
        while (following := chain[-1].replaced_by) is not None:
            chain.append(following)
        if not all(part.finished for part in chain):
            return ()
        records = tuple(first.record(appearance, now, chain[1:])
                        for appearance in first.appearances)
        for part in chain:
            # No reference cycles: the calls are freed by reference counting alone.
            part.replaces = part.replaced_by = None
        return records

    def _changes(self, call: Call, ended: list[Leg], *, began: bool = False) -> Update:
        return Update(tuple(
            LineChange(appearance.line, tuple(call.view(leg, appearance) for leg in ended),
                       call.call_id, began)
            for appearance in call.appearances))

    def _interval(self, call: Call) -> float:
        return call.session_interval or self._settings.max_duration

    @staticmethod
    def _merge(updates: Iterable[Update]) -> Update:
        changed: list[LineChange] = []
        finished: list[CallRecord] = []
        for update in updates:
            changed.extend(update.changed)
            finished.extend(update.finished)
        return Update(tuple(changed), tuple(finished))


def _live_views(call: Call, line: str) -> Iterator[DialogView]:
    """The call's dialogs not yet over, as the watchers of ``line`` see them."""
    for appearance in call.appearances:
        if appearance.line == line:
            for leg in call.legs.values():
                if leg.state is not DialogState.TERMINATED:
                    yield call.view(leg, appearance)


# --- reading the messages ----------------------------------------------------------------



def _party(value: str | None) -> Party:
    if not value:
        return Party("")
    try:
        address = parse_name_addr(value)
    except SipParseError:
        return Party("")
    return Party(address.uri, address.display_name or None)


def _identity(request: Request, decision: Decision | None) -> Party:
    """The caller as the routing decision believed it (RFC 3325: the asserted
    identity from a trusted peer, the line an authenticated phone placed the call
    on, else the From)."""
    identity = calling_identity(request, decision)
    if identity is not None:
        return Party(identity.uri, identity.display_name)
    if decision is not None and decision.caller_source == "p-asserted-identity":
        values = request.header_values("p-asserted-identity")
        if values:
            return _party(values[0])
    return _party(request.header("from"))


def _contact(message: Request | Response) -> str | None:
    value = message.header("contact")
    if not value:
        return None
    try:
        return parse_name_addr(value.split(",")[0]).uri
    except SipParseError:
        return None


def _session_expires(message: Request | Response) -> float | None:
    """RFC 4028 §4: ``Session-Expires: 1800;refresher=uac`` (compact ``x``)."""
    value = message.header("session-expires")
    if not value:
        return None
    digits = value.split(";")[0].strip()
    if not digits.isdigit() or int(digits) < _MIN_SESSION_EXPIRES:
        return None
    return float(digits)
