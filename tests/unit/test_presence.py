"""The busy-lamp notifier on its own, with a fake clock: who may watch, what each
SUBSCRIBE gets, the NOTIFYs and their order (one in flight, the newest state next),
refresh, unsubscribe, expiry, failures, the stop, and the dialog-info document."""

from __future__ import annotations

import heapq
import itertools
import random
import xml.etree.ElementTree as ET
from dataclasses import replace

import pytest

from proxy.config.loader import parse_config
from proxy.core.local import Interface, LocalAddresses
from proxy.dialog import DialogState, DialogView, Direction, HeldBy, LineChange, LineView, Party
from proxy.policy.trust import Source, SourceKind
from proxy.presence import (
    Action,
    Notifier,
    Outcome,
    PresenceSettings,
    RestUntil,
    SendNotify,
    SubscriptionEnded,
    SubscriptionStarted,
)
from proxy.presence.dialog_info import NAMESPACE, full_state
from proxy.presence.line_log import LineLog, Since
from proxy.presence.machine import (
    _TABLE,
    IMPOSSIBLE,
    IN_FLIGHT,
    SubscriptionAction,
    SubscriptionInput,
    SubscriptionState,
)
from proxy.presence.notifier import LOG_TRIM_AT
from proxy.sip.hop import Hop
from proxy.sip.message import Request, parse_message

CONFIG = """
listen: [{transport: udp, host: 127.0.0.1, port: 5060}]
trusted_peers: ["127.0.0.9/32"]
domain: vipproxy.test
users:
  alice: {name: Alice, lines: ["1000", "+14155550100"], endpoints: ["sip:alice@127.0.0.2:5070"]}
  bob: {name: Bob, lines: ["1001"], endpoints: ["sip:bob@127.0.0.3:5070"]}
  carl: {name: Carl, lines: ["1002"], endpoints: ["sip:carl@127.0.0.4:5070"]}
  dana: {name: Dana, lines: ["1003"], endpoints: ["sip:dana@127.0.0.5:5070"]}
delegations:
  alice:
    delegates:
      bob: {privileges: [answer_calls], status: accepted}
      carl: {privileges: [answer_calls], status: pending}
"""
DIRECTORY = parse_config(CONFIG).directory
LOCAL = LocalAddresses((Interface("UDP", "127.0.0.1", 5060), Interface("TCP", "127.0.0.1", 5060)))
PHONE = Hop("UDP", "127.0.0.50", 5062)
EDGE = Hop("UDP", "127.0.0.9", 5060)
T0 = 1_700_000_000.0
NS = {"d": NAMESPACE}


def watcher(user: str | None = "bob", hop: Hop = PHONE) -> Source:
    return Source(hop, SourceKind.PHONE, user, authenticated=user is not None)


def subscribe(uri: str = "sip:1000@vipproxy.test", *, expires: int | None = 600,
              to_tag: str | None = None, cseq: int = 1, event: str = "dialog",
              extra: str = "", call_id: str = "sub-1@127.0.0.50") -> Request:
    to = "<sip:1000@vipproxy.test>" + (f";tag={to_tag}" if to_tag else "")
    message = parse_message((
        f"SUBSCRIBE {uri} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.50:5062;branch=z9hG4bKs{cseq};rport=5062;"
        "received=127.0.0.50\r\n"
        "Max-Forwards: 70\r\n"
        "From: \"Bob\" <sip:bob@vipproxy.test>;tag=watcher\r\n"
        f"To: {to}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} SUBSCRIBE\r\n"
        "Contact: <sip:bob@192.168.1.20:5062>\r\n"
        f"Event: {event}\r\n"
        + ("" if expires is None else f"Expires: {expires}\r\n")
        + f"{extra}Content-Length: 0\r\n\r\n").encode())
    assert isinstance(message, Request)
    return message


class Lines:
    """What the dialog tracker would show: idle lines unless a test set a view."""

    def __init__(self) -> None:
        self.views: dict[str, LineView] = {}

    def line(self, number: str) -> LineView | None:
        return self.views.get(number, LineView(number, "alice", ()))

    def call_dialogs(self, number: str, call_id: str) -> tuple[DialogView, ...]:
        view = self.line(number)
        return tuple(d for d in view.dialogs if d.call_id == call_id) if view else ()

    def calls_on(self, number: str) -> int:
        view = self.line(number)
        return len({d.call_id for d in view.dialogs}) if view else 0

    def show(self, line: str, *dialogs: DialogView, ended: tuple[DialogView, ...] = (),
             began: bool = False) -> LineChange:
        self.views[line] = LineView(line, "alice", dialogs)
        changed = (*dialogs, *ended)
        return LineChange(line, ended, changed[0].call_id if changed else "", began)


def make(settings: PresenceSettings | None = None) -> tuple[Notifier, Lines]:
    lines = Lines()
    tags = (f"tag{index}" for index in itertools.count(1))
    return Notifier(DIRECTORY, lines, LOCAL, lambda: next(tags), settings), lines


def answer(notifier: Notifier, notify: SendNotify, now: float = T0) -> list[Action]:
    """The 200 to ``notify`` at ``now``, and then the minimum interval run out (the
    rest timer fired at its time): what both make the notifier do."""
    actions = notifier.answered(notify.key, 200, now)
    for rest in [action for action in actions if isinstance(action, RestUntil)]:
        actions += notifier.rested(rest.key, rest.cseq, rest.until)
    return [action for action in actions if not isinstance(action, RestUntil)]


def dialog(state: DialogState, *, number: int = 1, held: HeldBy | None = None,
           ended_by: str | None = None, call: str = "call-1") -> DialogView:
    return DialogView(
        id=f"d{number}", call_id=call, local_tag=f"callee{number}", remote_tag="caller",
        direction=Direction.RECIPIENT, state=state,
        local=Party("sip:1000@vipproxy.test", "Alice", f"sip:alice@127.0.0.{number}:5070",
                    "alice"),
        remote=Party("sip:+14155550199@127.0.0.9", "Carol", "sip:carol@127.0.0.9"),
        held_by=held, terminated_by=ended_by)


def notifies(actions: list[object] | tuple[object, ...]) -> list[SendNotify]:
    return [action for action in actions if isinstance(action, SendNotify)]


def only_notify(actions: list[object] | tuple[object, ...]) -> SendNotify:
    sent = notifies(actions)
    assert len(sent) == 1, actions
    return sent[0]


def document(notify: SendNotify) -> ET.Element:
    assert notify.request.header("content-type") == "application/dialog-info+xml"
    return ET.fromstring(notify.request.body)


def states(notify: SendNotify) -> list[tuple[str, str]]:
    """(dialog id, state) of every dialog in a NOTIFY's body."""
    root = document(notify)
    return [(element.get("id") or "", element.findtext("d:state", namespaces=NS) or "")
            for element in root.findall("d:dialog", NS)]


def subscribed(notifier: Notifier, now: float = T0) -> tuple[Outcome, SendNotify]:
    outcome = notifier.subscribe(subscribe(), watcher(), now)
    assert outcome.reply.status == 200, outcome.reply
    return outcome, only_notify(outcome.actions)


# --- who may watch -------------------------------------------------------------------------


@pytest.mark.parametrize(("user", "uri", "status"), [
    ("alice", "sip:1000@vipproxy.test", 200),  # the line's owner
    ("bob", "sip:1000@vipproxy.test", 200),  # an accepted delegate
    ("bob", "sip:+1%20415%20555%200100@vipproxy.test", 200),  # the other line, any format
    ("bob", "sip:alice@vipproxy.test", 200),  # the delegator's address of record
    ("carl", "sip:1000@vipproxy.test", 403),  # a pending delegate
    ("dana", "sip:1000@vipproxy.test", 403),  # nobody's delegate
    ("alice", "sip:1001@vipproxy.test", 403),  # bob did not delegate to alice
    (None, "sip:1000@vipproxy.test", 403),  # not authenticated
    ("bob", "sip:9999@vipproxy.test", 404),
])
def test_the_owner_and_accepted_delegates_may_watch_a_line_and_nobody_else(
        user: str | None, uri: str, status: int) -> None:
    notifier, _ = make()
    outcome = notifier.subscribe(subscribe(uri), watcher(user), T0)
    assert outcome.reply.status == status, outcome.reply
    assert bool(outcome.actions) == (status == 200)


def test_a_subscription_gets_200_then_one_notify_with_the_full_state() -> None:
    notifier, _ = make()
    outcome, notify = subscribed(notifier)
    reply = outcome.reply
    assert reply.to_tag == "tag1"
    assert dict(reply.headers) == {"Expires": "600",
                                   "Contact": "<sip:1000@127.0.0.1:5060;transport=udp>"}
    assert isinstance(outcome.actions[0], SubscriptionStarted)
    request = notify.request
    assert (request.method, request.uri) == ("NOTIFY", "sip:bob@192.168.1.20:5062")
    assert notify.hop == PHONE  # where the SUBSCRIBE came from (received/rport)
    assert request.header("from") == "<sip:1000@vipproxy.test>;tag=tag1"
    assert request.header("to") == "\"Bob\" <sip:bob@vipproxy.test>;tag=watcher"
    assert (request.call_id, request.cseq) == ("sub-1@127.0.0.50", (1, "NOTIFY"))
    assert request.header("event") == "dialog"
    assert request.header("subscription-state") == "active;expires=600"
    assert request.header("contact") == "<sip:1000@127.0.0.1:5060;transport=udp>"
    assert "branch=z9hG4bKtag1.1" in request.top_via
    root = document(notify)
    assert root.attrib == {"version": "0", "state": "full", "entity": "sip:1000@vipproxy.test"}
    # An idle line still has a node (some phones need one).
    assert states(notify) == [("idle", "terminated")]


@pytest.mark.parametrize(("expires", "granted"), [(None, "3600"), (7200, "3600"), (60, "60")])
def test_the_interval_defaults_to_an_hour_and_is_shortened_to_the_maximum(
        expires: int | None, granted: str) -> None:
    notifier, _ = make()
    outcome = notifier.subscribe(subscribe(expires=expires), watcher(), T0)
    assert dict(outcome.reply.headers)["Expires"] == granted


@pytest.mark.parametrize(("request_", "status", "header"), [
    (subscribe(expires=30), 423, ("Min-Expires", "60")),
    (subscribe(event="presence"), 489, ("Allow-Events", "dialog")),
    (subscribe(extra="Accept: application/pidf+xml\r\n"), 406, None),
    (subscribe(extra="Accept: application/dialog-info+xml;q=0\r\n"), 406, None),
    (subscribe(extra="Accept: \r\n"), 406, None),  # RFC 3261 §20.1: no format at all
])
def test_refusals_say_what_would_be_accepted(request_: Request, status: int,
                                            header: tuple[str, str] | None) -> None:
    notifier, _ = make()
    outcome = notifier.subscribe(request_, watcher(), T0)
    assert outcome.reply.status == status and not outcome.actions
    if header is not None:
        assert header in outcome.reply.headers
    assert len(notifier) == 0


@pytest.mark.parametrize("accept", ["application/dialog-info+xml;q=0.5",
                                    "application/pidf+xml, application/*"])
def test_an_accept_that_takes_dialog_info_is_served(accept: str) -> None:
    notifier, _ = make()
    outcome = notifier.subscribe(subscribe(extra=f"Accept: {accept}\r\n"), watcher(), T0)
    assert outcome.reply.status == 200


def test_expires_zero_fetches_the_state_once() -> None:
    notifier, _ = make()
    outcome = notifier.subscribe(subscribe(expires=0), watcher(), T0)
    notify = only_notify(outcome.actions)
    assert notify.request.header("subscription-state") == "terminated;reason=timeout"
    ended = notifier.answered(notify.key, 200, T0)
    assert [type(action) for action in ended] == [SubscriptionEnded] and len(notifier) == 0


# --- NOTIFYs: one in flight, the newest state next ------------------------------------------


def test_changes_while_a_notify_is_in_flight_leave_as_one_notify_with_the_newest_state() -> None:
    notifier, lines = make()
    _, first = subscribed(notifier)
    assert notifier.note_change(lines.show("1000", dialog(DialogState.EARLY)), T0 + 1)
    assert notifier.flush(T0 + 1) == []  # the first NOTIFY is still unanswered
    notifier.note_change(lines.show("1000", dialog(DialogState.CONFIRMED)), T0 + 2)
    assert notifier.flush(T0 + 2) == []
    second = only_notify(answer(notifier, first, T0 + 3))  # long after the interval
    assert states(second) == [("d1", "confirmed")]
    assert second.request.cseq == (2, "NOTIFY")
    assert document(second).get("version") == "1"
    assert second.changed_at == T0 + 1  # the oldest change it carries
    assert second.request.header("subscription-state") == "active;expires=597"
    assert answer(notifier, second, T0 + 3) == []
    assert notifier.notifying == 0


def test_an_ended_dialog_is_shown_once_as_terminated_with_why() -> None:
    notifier, lines = make()
    _, first = subscribed(notifier)
    answer(notifier, first)
    notifier.note_change(lines.show("1000", dialog(DialogState.EARLY, number=1),
                                    dialog(DialogState.EARLY, number=2)), T0 + 1)
    both = only_notify(notifier.flush(T0 + 1))
    assert states(both) == [("d1", "early"), ("d2", "early")]  # two branches, two dialogs
    answer(notifier, both, T0 + 1)
    cancelled = dialog(DialogState.TERMINATED, number=2, ended_by="cancelled")
    notifier.note_change(lines.show("1000", dialog(DialogState.CONFIRMED, number=1),
                                    ended=(cancelled,)), T0 + 2)
    answered = only_notify(notifier.flush(T0 + 2))
    assert states(answered) == [("d1", "confirmed"), ("d2", "terminated")]
    ended = document(answered).findall("d:dialog", NS)[1]
    assert ended.find("d:state", NS).get("event") == "cancelled"  # type: ignore[union-attr]
    # Its ids and why it ended, not its sides again: a busy line ends many at once.
    assert ended.get("call-id") == "call-1" and ended.get("local-tag") == "callee2"
    assert [child.tag.split("}")[1] for child in ended] == ["state"]
    answer(notifier, answered, T0 + 2)
    notifier.note_change(lines.show("1000", dialog(DialogState.CONFIRMED, number=1,
                                                   held=HeldBy.LOCAL)), T0 + 3)
    held = only_notify(notifier.flush(T0 + 3))
    assert states(held) == [("d1", "confirmed")]  # the cancelled branch is not shown again


def test_a_line_nobody_watches_costs_one_look_up_and_sends_nothing() -> None:
    notifier, lines = make()
    subscribed(notifier)
    assert not notifier.note_change(lines.show("1001", dialog(DialogState.EARLY)), T0)
    assert notifier.flush(T0) == []


def test_the_address_of_record_shows_every_line_of_its_user() -> None:
    notifier, lines = make()
    outcome = notifier.subscribe(subscribe("sip:alice@vipproxy.test"), watcher(), T0)
    answer(notifier, only_notify(outcome.actions))
    other = DIRECTORY.normalize("+14155550100")
    assert notifier.note_change(lines.show(other, dialog(DialogState.EARLY)), T0 + 1)
    notify = only_notify(notifier.flush(T0 + 1))
    assert states(notify) == [("d1", "early")]
    assert document(notify).get("entity") == "sip:alice@vipproxy.test"


# --- the minimum interval (RFC 6665 §4.2.2 throttling) ---------------------------------------

INTERVAL = PresenceSettings().notify_min_interval


def test_changes_within_the_minimum_interval_leave_as_one_notify_at_its_end() -> None:
    notifier, lines = make()
    _, first = subscribed(notifier)
    rest = notifier.answered(first.key, 200, T0 + 0.01)
    assert rest == [RestUntil(first.key, T0 + INTERVAL, 1)]  # from when the first left
    notifier.note_change(lines.show("1000", dialog(DialogState.EARLY)), T0 + 0.02)
    assert notifier.flush(T0 + 0.02) == []
    notifier.note_change(lines.show("1000", dialog(DialogState.CONFIRMED)), T0 + 0.03)
    assert notifier.flush(T0 + 0.03) == []
    assert notifier.notifying == 0  # resting, nothing on the wire
    merged = only_notify(notifier.rested(first.key, 1, T0 + INTERVAL))
    assert states(merged) == [("d1", "confirmed")]  # the newest state, once
    assert merged.changed_at == T0 + 0.02  # its delay counts from the oldest change
    assert document(merged).get("version") == "1"
    # Nothing changed during the next interval: it ends quietly, and the next
    # change leaves at once.
    assert notifier.answered(merged.key, 200, T0 + 0.07) == [
        RestUntil(merged.key, (T0 + INTERVAL) + INTERVAL, 2)]  # from when it left
    assert notifier.rested(merged.key, 2, T0 + 2 * INTERVAL) == []
    notifier.note_change(lines.show("1000", dialog(DialogState.CONFIRMED, held=HeldBy.LOCAL)),
                         T0 + 1)
    held = only_notify(notifier.flush(T0 + 1))
    assert held.changed_at == T0 + 1 and document(held).get("version") == "2"


def test_an_answer_after_the_interval_is_over_needs_no_rest() -> None:
    notifier, lines = make()
    _, first = subscribed(notifier)
    notifier.note_change(lines.show("1000", dialog(DialogState.EARLY)), T0 + 0.01)
    assert notifier.flush(T0 + 0.01) == []  # the first is in flight
    second = only_notify(notifier.answered(first.key, 200, T0 + INTERVAL + 0.01))
    assert states(second) == [("d1", "early")]
    assert notifier.answered(second.key, 200, T0 + 2 * INTERVAL + 0.02) == []


def test_a_call_that_rings_and_ends_within_the_interval_is_still_shown_terminated() -> None:
    notifier, lines = make()
    _, first = subscribed(notifier)
    notifier.answered(first.key, 200, T0)
    notifier.note_change(lines.show("1000", dialog(DialogState.EARLY)), T0 + 0.01)
    rejected = dialog(DialogState.TERMINATED, ended_by="rejected")
    notifier.note_change(lines.show("1000", ended=(rejected,)), T0 + 0.02)
    assert notifier.flush(T0 + 0.02) == []
    shown = only_notify(notifier.rested(first.key, 1, T0 + INTERVAL))
    assert states(shown) == [("d1", "terminated")]  # RFC 4235 §4.1: once, as terminated


def test_a_call_that_came_and_went_within_the_interval_sends_no_notify() -> None:
    """The watcher never saw it: telling it the call ended would only cost a NOTIFY
    (and bytes: on a busy line, most of one). The next change leaves at once."""
    notifier, lines = make()
    _, first = subscribed(notifier)
    notifier.answered(first.key, 200, T0)
    notifier.note_change(lines.show("1000", dialog(DialogState.EARLY), began=True), T0 + 0.01)
    rejected = dialog(DialogState.TERMINATED, ended_by="rejected")
    notifier.note_change(lines.show("1000", ended=(rejected,)), T0 + 0.02)
    assert notifier.flush(T0 + 0.02) == []
    assert notifier.rested(first.key, 1, T0 + INTERVAL) == []
    notifier.note_change(lines.show("1000", dialog(DialogState.EARLY, call="call-2"),
                                    began=True), T0 + INTERVAL + 0.01)
    ringing = only_notify(notifier.flush(T0 + INTERVAL + 0.01))
    assert states(ringing) == [("d1", "early")]
    assert document(ringing).get("version") == "1"  # versions count what was sent


def test_a_branch_refused_before_it_was_shown_is_left_out_and_its_call_shown() -> None:
    notifier, lines = make()
    _, first = subscribed(notifier)
    notifier.answered(first.key, 200, T0)
    ringing = dialog(DialogState.EARLY, number=1)
    notifier.note_change(lines.show("1000", ringing, began=True), T0 + 0.01)
    busy = dialog(DialogState.TERMINATED, number=2, ended_by="rejected")
    notifier.note_change(lines.show("1000", ringing, ended=(busy,)), T0 + 0.02)
    assert notifier.flush(T0 + 0.02) == []
    shown = only_notify(notifier.rested(first.key, 1, T0 + INTERVAL))
    assert states(shown) == [("d1", "early")]
    # Once shown, the call's end is told, as always.
    answer(notifier, shown, T0 + INTERVAL)
    gone = dialog(DialogState.TERMINATED, number=1, ended_by="cancelled")
    notifier.note_change(lines.show("1000", ended=(gone,)), T0 + 1)
    assert states(only_notify(notifier.flush(T0 + 1))) == [("d1", "terminated")]


def test_a_busy_line_sends_nothing_for_a_call_that_came_and_went() -> None:
    notifier, lines = make()
    busy = [dialog(DialogState.CONFIRMED, number=n, call=f"call-{n}") for n in range(1, 6)]
    lines.show("1000", *busy)
    first = subscribed(notifier)[1]
    answer(notifier, first)
    fleeting = dialog(DialogState.EARLY, number=9, call="call-9")
    lines.show("1000", *busy, fleeting)
    notifier.note_change(LineChange("1000", (), "call-9", began=True), T0 + 1)
    lines.show("1000", *busy)
    notifier.note_change(LineChange("1000", (fleeting,), "call-9"), T0 + 1)
    assert notifier.flush(T0 + 1) == []
    assert notifier.notifying == 0


def test_a_refresh_and_the_end_do_not_wait_for_the_interval() -> None:
    notifier, lines = make()
    _, first = subscribed(notifier)
    notifier.answered(first.key, 200, T0)
    notifier.note_change(lines.show("1000", dialog(DialogState.EARLY)), T0 + 0.01)
    notifier.flush(T0 + 0.01)
    # RFC 6665 §4.2.1: a refresh gets its NOTIFY at once, with the change in it.
    refreshed = notifier.subscribe(_in_dialog(first, 600), watcher(), T0 + 0.02)
    again = only_notify(refreshed.actions)
    assert states(again) == [("d1", "early")] and again.changed_at == T0 + 0.01
    assert notifier.rested(first.key, 1, T0 + INTERVAL) == []  # that rest is stale
    assert notifier.answered(again.key, 200, T0 + 0.03) == [
        RestUntil(again.key, T0 + 0.02 + INTERVAL, 2)]
    ended = dialog(DialogState.TERMINATED, ended_by="local-bye")
    notifier.note_change(lines.show("1000", ended=(ended,)), T0 + 0.04)
    notifier.flush(T0 + 0.04)
    final = only_notify(notifier.subscribe(_in_dialog(first, 0, cseq=3), watcher(),
                                           T0 + 0.05).actions)
    assert final.request.header("subscription-state") == "terminated;reason=timeout"
    assert states(final) == [("d1", "terminated")]
    assert notifier.rested(first.key, 2, T0 + 0.02 + INTERVAL) == []


def test_no_interval_sends_every_change_as_soon_as_the_answer_comes() -> None:
    notifier, lines = make(PresenceSettings(notify_min_interval=0))
    _, first = subscribed(notifier)
    assert notifier.answered(first.key, 200, T0) == []
    notifier.note_change(lines.show("1000", dialog(DialogState.EARLY)), T0)
    assert states(only_notify(notifier.flush(T0))) == [("d1", "early")]


@pytest.mark.parametrize("seed", range(5))
def test_a_busy_line_gets_at_most_one_notify_per_interval_each_within_it_of_its_change(
        seed: int) -> None:
    """Changes every few ms for two seconds, each NOTIFY answered within 30 ms, on a
    fake clock: NOTIFYs are an interval apart, one at a time, numbered in order; no
    change waits longer than the interval, nor 100 ms (RFC 6446 §3 lets the notifier
    choose it; a lamp must follow its line within 100 ms); the last NOTIFY shows the
    line as it is."""
    notifier, lines = make()
    rng = random.Random(seed)
    events: list[tuple[float, int, str, object]] = []
    order = itertools.count()

    def run(actions: list[Action], now: float) -> None:
        for action in actions:
            if isinstance(action, SendNotify):
                sent.append((now, action))
                assert sum(1 for a in answers_due if a) == 0, "two NOTIFYs in flight"
                answers_due.append(action)
                heapq.heappush(events, (now + rng.uniform(0, 0.03), next(order),
                                        "answer", action))
            elif isinstance(action, RestUntil):
                heapq.heappush(events, (action.until, next(order), "rest", action))

    sent: list[tuple[float, SendNotify]] = []
    answers_due: list[SendNotify | None] = []
    outcome = notifier.subscribe(subscribe(), watcher(), T0)
    run(list(outcome.actions), T0)
    now = T0
    while now < T0 + 2:
        now += rng.expovariate(1 / 0.004)
        heapq.heappush(events, (now, next(order), "change", rng.choice(list(DialogState))))
    while events:
        at, _, kind, data = heapq.heappop(events)
        if kind == "change":
            assert isinstance(data, DialogState)
            notifier.note_change(lines.show("1000", dialog(data)), at)
            run(notifier.flush(at), at)
        elif kind == "answer":
            assert isinstance(data, SendNotify)
            answers_due[answers_due.index(data)] = None
            run(notifier.answered(data.key, 200, at), at)
        else:
            assert isinstance(data, RestUntil)
            run(notifier.rested(data.key, data.cseq, at), at)
    times = [at for at, _ in sent]
    # 1e-6: around T0 a float resolves about 0.2 µs.
    assert all(later - earlier >= INTERVAL - 1e-6 for earlier, later in itertools.pairwise(times))
    assert all(at - notify.changed_at <= min(INTERVAL + 1e-6, 0.1)
               for at, notify in sent if notify.changed_at is not None)
    assert [document(n).get("version") for _, n in sent] == [str(i) for i in range(len(sent))]
    assert len(sent) <= 2 / INTERVAL + 2  # not one per change (about 500 of them)
    last_state = lines.views["1000"].dialogs[0].state.value
    assert states(sent[-1][1]) == [("d1", last_state)]


def test_watchers_notified_from_different_points_each_get_what_they_lack() -> None:
    notifier, lines = make()
    busy = [dialog(DialogState.CONFIRMED, number=n, call=f"call-{n}") for n in range(1, 7)]
    lines.show("1000", *busy)
    answer(notifier, only_notify(notifier.subscribe(subscribe(), watcher(), T0).actions))
    slow = only_notify(notifier.subscribe(subscribe(call_id="sub-2"), watcher(),
                                          T0 + 0.5).actions)  # left unanswered a while
    notifier.note_change(LineChange("1000", (), "call-2"), T0 + 1)
    fast = only_notify(notifier.flush(T0 + 1))
    assert [d.get("id") for d in document(fast)] == ["d2"]
    answer(notifier, fast, T0 + 1)
    ended = dialog(DialogState.TERMINATED, number=3, call="call-3", ended_by="remote-bye")
    lines.show("1000", *busy[:2], *busy[3:])
    notifier.note_change(LineChange("1000", (ended,), "call-3"), T0 + 2)
    fast = only_notify(notifier.flush(T0 + 2))
    assert [d.get("id") for d in document(fast)] == ["d3"]
    behind = only_notify(answer(notifier, slow, T0 + 2))  # both changes, the end once
    assert states(behind) == [("d2", "confirmed"), ("d3", "terminated")]
    assert [document(n).get("version") for n in (fast, behind)] == ["2", "1"]


def test_a_busy_line_keeps_only_the_changes_some_watcher_still_lacks() -> None:
    notifier, lines = make()
    lines.show("1000", *[dialog(DialogState.CONFIRMED, number=n, call=f"call-{n}")
                         for n in range(1, 6)])
    fast = only_notify(notifier.subscribe(subscribe(), watcher(), T0).actions)
    slow = only_notify(notifier.subscribe(subscribe(call_id="sub-2"), watcher(), T0).actions)
    answer(notifier, fast)
    now = T0
    for change in range(LOG_TRIM_AT * 2):  # the slow watcher never answers
        now += 1
        notifier.note_change(LineChange("1000", (), f"call-{change % 5 + 1}"), now)
        for notify in notifies(notifier.flush(now)):
            answer(notifier, notify, now)
    log = notifier._logs["1000"]  # type: ignore[attr-defined]
    assert len(log) == LOG_TRIM_AT * 2  # all of it: the slow watcher has none of it
    late = only_notify(answer(notifier, slow, now))
    assert sorted(d.get("id") for d in document(late)) == ["d1", "d2", "d3", "d4", "d5"]
    answer(notifier, late, now)
    notifier.note_change(LineChange("1000", (), "call-1"), now + 1)
    for notify in notifies(notifier.flush(now + 1)):
        answer(notifier, notify, now + 1)
    assert len(log) <= LOG_TRIM_AT


def test_a_line_log_reads_what_changed_after_a_point_once() -> None:
    log = LineLog()
    log.note("call-1", ())
    log.note("call-2", (("d2", "<dialog id='d2'/>"),))
    log.note("call-1", ())
    assert log.since(0) == Since(("call-1", "call-2"), (("d2", "<dialog id='d2'/>"),))
    assert log.since(2) == Since(("call-1",), ())
    assert log.since(0) is log.since(0)  # read once per point until the next change
    log.forget_through(2)
    assert len(log) == 1 and log.since(2) == Since(("call-1",), ())
    with pytest.raises(ValueError, match="forgotten"):
        log.since(1)


def test_a_line_log_leaves_out_what_ended_of_calls_that_came_after_the_point() -> None:
    log = LineLog()
    log.note("call-1", (), began=True)
    log.note("call-2", (), began=True)
    log.note("call-1", (("d1", "<dialog id='d1'/>"),))
    log.note("call-2", (("d2", "<dialog id='d2'/>"),))
    assert log.since(0) == Since(("call-1", "call-2"), (), frozenset({"call-1", "call-2"}))
    # Notified after call-1 came: its end is news, call-2's is not.
    assert log.since(1) == Since(("call-2", "call-1"), (("d1", "<dialog id='d1'/>"),),
                                 frozenset({"call-2"}))


# --- refresh, unsubscribe, expiry, failures, stop --------------------------------------------


def _in_dialog(notify: SendNotify, expires: int, cseq: int = 2, **fields: str) -> Request:
    return subscribe(notify.request.uri.replace("sip:bob@192.168.1.20:5062",
                                                "sip:1000@127.0.0.1:5060"),
                     expires=expires, to_tag=notify.key[2], cseq=cseq, **fields)


def test_a_refresh_extends_the_subscription_and_sends_the_state_again() -> None:
    notifier, _ = make()
    _, first = subscribed(notifier)
    notifier.answered(first.key, 200, T0)
    outcome = notifier.subscribe(_in_dialog(first, 900), watcher(), T0 + 300)
    assert outcome.reply.status == 200 and ("Expires", "900") in outcome.reply.headers
    again = only_notify(outcome.actions)
    assert again.request.header("subscription-state") == "active;expires=900"
    assert notifier.expire(T0 + 1000) == []  # the first interval would have run out


def test_a_refresh_of_an_unknown_subscription_gets_481() -> None:
    notifier, _ = make()
    _, first = subscribed(notifier)
    stranger = replace(first, key=(first.key[0], first.key[1], "guessed"))
    assert notifier.subscribe(_in_dialog(stranger, 600), watcher(), T0).reply.status == 481


def test_unsubscribe_waits_for_the_notify_in_flight_then_sends_the_final_one() -> None:
    notifier, _ = make()
    _, first = subscribed(notifier)
    outcome = notifier.subscribe(_in_dialog(first, 0), watcher(), T0 + 1)
    assert outcome.reply.status == 200 and not outcome.actions
    final = only_notify(notifier.answered(first.key, 200, T0 + 1))
    assert final.request.header("subscription-state") == "terminated;reason=timeout"
    assert final.request.cseq == (2, "NOTIFY")
    # Too late to refresh: the subscription is ending.
    refresh = notifier.subscribe(_in_dialog(first, 600, cseq=3), watcher(), T0 + 1)
    assert refresh.reply.status == 481
    ended = notifier.answered(final.key, 200, T0 + 1)
    assert [(type(a), a.reason) for a in ended if isinstance(a, SubscriptionEnded)] == [
        (SubscriptionEnded, "timeout")]
    assert len(notifier) == 0


def test_a_subscription_expires_on_time_with_a_final_notify() -> None:
    notifier, _ = make()
    _, first = subscribed(notifier)
    notifier.answered(first.key, 200, T0)
    assert notifier.expire(T0 + 599) == []
    final = only_notify(notifier.expire(T0 + 600))
    assert final.request.header("subscription-state") == "terminated;reason=timeout"


@pytest.mark.parametrize("status", [481, 408, 503])
def test_a_notify_answered_481_or_timing_out_ends_the_subscription(status: int) -> None:
    notifier, lines = make()
    _, first = subscribed(notifier)
    ended = notifier.answered(first.key, status, T0)
    assert [a.reason for a in ended if isinstance(a, SubscriptionEnded)] == [
        f"NOTIFY answered {status}"]
    assert not notifier.note_change(lines.show("1000", dialog(DialogState.EARLY)), T0)
    assert len(notifier) == 0


def test_the_stop_deactivates_every_subscription_and_refuses_new_ones() -> None:
    notifier, _ = make()
    _, first = subscribed(notifier)
    notifier.answered(first.key, 200, T0)
    final = only_notify(notifier.stop(T0))
    assert final.request.header("subscription-state") == "terminated;reason=deactivated"
    assert notifier.notifying == 1
    late = notifier.subscribe(subscribe(call_id="sub-2"), watcher(), T0)
    assert late.reply.status == 503 and ("Retry-After", "30") in late.reply.headers
    notifier.answered(final.key, 200, T0)
    assert notifier.notifying == 0 and len(notifier) == 0


def test_an_edge_proxys_record_route_is_followed_anyone_elses_is_not() -> None:
    record_route = "Record-Route: <sip:127.0.0.9:5060;lr>\r\n"
    for hop, routes, next_hop in ((EDGE, ["<sip:127.0.0.9:5060;lr>"], EDGE),
                                  (PHONE, [], PHONE)):
        notifier, _ = make()
        outcome = notifier.subscribe(subscribe(extra=record_route), watcher(hop=hop), T0)
        notify = only_notify(outcome.actions)
        assert notify.request.header_values("route") == routes
        assert notify.hop == next_hop
        # RFC 3261 §12.1.1: the phone learns the same route set from the 200.
        assert [value for name, value in outcome.reply.headers
                if name == "Record-Route"] == routes


def test_a_refreshed_subscriptions_notify_goes_to_the_new_contact_through_the_same_route(
        ) -> None:
    """Every header line of a NOTIFY after a target refresh, in order: the lines the
    subscription prepared once (route set, dialog, Contact, Event) around the new CSeq."""
    notifier, _ = make()
    outcome = notifier.subscribe(
        subscribe(extra="Record-Route: <sip:127.0.0.9:5060;lr>\r\n"), watcher(hop=EDGE), T0)
    first = only_notify(outcome.actions)
    notifier.answered(first.key, 200, T0)
    moved = _in_dialog(first, 600).with_headers(
        (name, "<sip:bob@192.168.1.21:5062>" if name == "Contact" else value)
        for name, value in _in_dialog(first, 600).headers)
    again = only_notify(notifier.subscribe(moved, watcher(hop=EDGE), T0 + 10).actions)
    assert (again.request.uri, again.hop) == ("sip:bob@192.168.1.21:5062", EDGE)
    assert [(name, value) for name, value in again.request.headers if name != "Via"] == [
        ("Max-Forwards", "70"),
        ("Route", "<sip:127.0.0.9:5060;lr>"),
        ("From", "<sip:1000@vipproxy.test>;tag=tag1"),
        ("To", "\"Bob\" <sip:bob@vipproxy.test>;tag=watcher"),
        ("Call-ID", "sub-1@127.0.0.50"),
        ("CSeq", "2 NOTIFY"),
        ("Contact", "<sip:1000@127.0.0.1:5060;transport=udp>"),
        ("Event", "dialog"),
        ("Subscription-State", "active;expires=600"),
        ("Content-Type", "application/dialog-info+xml"),
        ("Content-Length", str(len(again.request.body))),
    ]
    assert again.request.headers[0] == (
        "Via", "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKtag1.2;rport")


# --- the machine and the document -----------------------------------------------------------


def test_every_state_and_input_has_a_written_answer_or_cannot_happen() -> None:
    for state in SubscriptionState:
        for event in SubscriptionInput:
            assert ((state, event) in _TABLE) != ((state, event) in IMPOSSIBLE), (state, event)


def test_no_input_sends_a_notify_while_one_is_in_flight() -> None:
    in_flight = IN_FLIGHT
    sends = {SubscriptionAction.SEND_STATE, SubscriptionAction.SEND_FINAL}
    for (state, event), step in _TABLE.items():
        if step.action in sends:
            # Only from nothing in flight, or on the answer to the one in flight.
            assert state not in in_flight or event is SubscriptionInput.ANSWERED
        ending = state in (SubscriptionState.FINAL_DUE, SubscriptionState.FINAL_SENDING)
        if ending:  # once ending, never active again
            assert step.state in (state, SubscriptionState.FINAL_SENDING,
                                  SubscriptionState.TERMINATED)


def test_a_second_change_before_the_notify_changes_nothing_in_the_machine() -> None:
    # The notifier feeds the machine only the first change after a NOTIFY: a change
    # that sends nothing leaves a state where the next change does nothing either.
    for (state, event), step in _TABLE.items():
        if event is SubscriptionInput.CHANGED and step.action is SubscriptionAction.NONE:
            again = _TABLE[(step.state, SubscriptionInput.CHANGED)]
            assert (again.state, again.action) == (step.state, SubscriptionAction.NONE), state


def test_the_document_escapes_what_came_from_the_network_and_shows_a_hold() -> None:
    hostile = replace(dialog(DialogState.CONFIRMED, held=HeldBy.LOCAL),
                      remote=Party("sip:x@127.0.0.9", 'Eve <"&\x01\udcff>', "sip:x@10.0.0.1"))
    root = ET.fromstring(full_state("sip:1000@vipproxy.test", 7, [hostile], "idle"))
    element = root.find("d:dialog", NS)
    assert element is not None and root.get("version") == "7"
    assert element.attrib == {"id": "d1", "call-id": "call-1", "local-tag": "callee1",
                              "remote-tag": "caller", "direction": "recipient"}
    identity = element.find("d:remote/d:identity", NS)
    assert identity is not None and identity.get("display") == 'Eve <"&??>'
    rendering = {side: element.find(f"d:{side}/d:target/d:param", NS) for side in
                 ("local", "remote")}
    assert {side: param.get("pvalue") for side, param in rendering.items()
            if param is not None} == {"local": "no", "remote": "yes"}
    # A branch that has not answered has no remote target yet: no <target>.
    trying = ET.fromstring(full_state("sip:1000@vipproxy.test", 0, [
        replace(dialog(DialogState.TRYING), local=Party("sip:1000@vipproxy.test"))], "idle"))
    assert trying.find("d:dialog/d:local/d:target", NS) is None
    assert trying.find("d:dialog/d:remote/d:target", NS) is not None


@pytest.mark.parametrize("seed", range(3))
def test_any_value_from_the_network_reads_back_as_it_was_sent(seed: int) -> None:
    """The dialog text is written by hand: whatever a display name, tag or URI holds
    (markup, quotes, tabs, line ends, what XML cannot carry), a parser reads back
    the value, with only what XML 1.0 cannot carry replaced by "?"."""
    rng = random.Random(seed)

    def value() -> str:
        return "".join(rng.choice('ab<>&"\'\t\n\r ;=\x01\udcff\u20ac')
                       for _ in range(rng.randint(1, 8)))

    def carried(text: str) -> str:
        return "".join("?" if char in "\x01\udcff" else char for char in text)

    for _ in range(200):
        shown = replace(dialog(DialogState.CONFIRMED), id=value(), call_id=value(),
                        local_tag=value(), remote=Party(value(), value(), value()))
        root = ET.fromstring(full_state("sip:1000@vipproxy.test", 0, [shown], "idle"))
        element = root.find("d:dialog", NS)
        assert element is not None
        assert [element.get(name) for name in ("id", "call-id", "local-tag")] == [
            carried(shown.id), carried(shown.call_id), carried(shown.local_tag)]
        identity = element.find("d:remote/d:identity", NS)
        target = element.find("d:remote/d:target", NS)
        assert identity is not None and target is not None
        assert (identity.text, identity.get("display"), target.get("uri")) == (
            carried(shown.remote.identity), carried(shown.remote.display or ""),
            carried(shown.remote.target or ""))


def test_a_busy_line_gets_only_the_calls_that_changed_after_the_first_notify() -> None:
    notifier, lines = make()
    busy = [dialog(DialogState.CONFIRMED, number=n, call=f"call-{n}") for n in range(1, 6)]
    lines.show("1000", *busy)
    first = subscribed(notifier)[1]
    assert document(first).get("state") == "full" and len(states(first)) == 5
    answer(notifier, first)
    held = dialog(DialogState.CONFIRMED, number=3, call="call-3", held=HeldBy.LOCAL)
    lines.show("1000", *busy[:2], held, *busy[3:])
    notifier.note_change(LineChange("1000", (), "call-3"), T0 + 1)
    [second] = notifies(notifier.flush(T0 + 1))
    root = document(second)
    assert (root.get("state"), root.get("version")) == ("partial", "1")
    assert [d.get("id") for d in root] == ["d3"]  # RFC 4235 §4.1: only what changed


def test_a_refresh_or_unsubscribe_from_another_address_is_refused() -> None:
    # Whoever saw the dialog's ids on the wire must not move the NOTIFYs elsewhere
    # nor end the subscription: only where the NOTIFYs go may refresh it.
    notifier, _ = make()
    _, first = subscribed(notifier)
    answer(notifier, first)
    elsewhere = Hop("UDP", "127.0.0.66", 5062)
    for expires in (600, 0):
        refused = notifier.subscribe(_in_dialog(first, expires, cseq=5 + expires),
                                     watcher(None, hop=elsewhere), T0 + 1)
        assert refused.reply.status == 403 and refused.actions == ()
    assert len(notifier) == 1
    again = notifier.subscribe(_in_dialog(first, 600, cseq=3), watcher(), T0 + 2)
    assert again.reply.status == 200  # its CSeq was not moved by the refused ones
    assert only_notify(again.actions).hop == PHONE


def test_an_edge_whose_record_route_names_another_address_still_refreshes() -> None:
    # The edge may Record-Route an interface (or a name) other than the one it sends
    # from: its refreshes come from where its SUBSCRIBE did.
    notifier, _ = make()
    outcome = notifier.subscribe(subscribe(extra="Record-Route: <sip:127.0.0.19:5060;lr>\r\n"),
                                 watcher(hop=EDGE), T0)
    first = only_notify(outcome.actions)
    assert first.hop.host == "127.0.0.19"
    answer(notifier, first)
    refreshed = notifier.subscribe(_in_dialog(first, 600), watcher(hop=EDGE), T0 + 1)
    assert refreshed.reply.status == 200


def test_a_late_unsubscribe_does_not_undo_a_newer_refresh() -> None:
    # RFC 3261 §12.2.2: a request of the dialog with a lower CSeq is out of order.
    notifier, _ = make()
    _, first = subscribed(notifier)
    answer(notifier, first)
    refreshed = notifier.subscribe(_in_dialog(first, 600, cseq=5), watcher(), T0 + 1)
    assert refreshed.reply.status == 200
    late = notifier.subscribe(_in_dialog(first, 0, cseq=3), watcher(), T0 + 2)
    assert late.reply.status == 500 and "CSeq 3 is out of order" in late.reply.reason
    assert late.actions == () and len(notifier) == 1


def test_a_refresh_gets_the_full_state_even_on_a_busy_line() -> None:
    # RFC 6665 §4.2.1, RFC 4235 §4.1: a refresh is how a watcher that missed a
    # version catches up; a partial document with nothing in it would not help.
    notifier, lines = make()
    lines.show("1000", *[dialog(DialogState.CONFIRMED, number=n, call=f"call-{n}")
                         for n in range(1, 7)])
    first = subscribed(notifier)[1]
    answer(notifier, first)
    again = only_notify(notifier.subscribe(_in_dialog(first, 600), watcher(), T0 + 5).actions)
    root = document(again)
    assert (root.get("state"), root.get("version"), len(root)) == ("full", "1", 6)
    answer(notifier, again, T0 + 5)
    lines.show("1000", *[dialog(DialogState.CONFIRMED, number=n, call=f"call-{n}")
                         for n in range(1, 6)])
    notifier.note_change(LineChange("1000", (), "call-6"), T0 + 6)
    [after] = notifies(notifier.flush(T0 + 6))
    assert document(after).get("state") == "partial"  # back to what changed only


def test_a_quiet_line_always_gets_the_full_state() -> None:
    notifier, lines = make()
    first = subscribed(notifier)[1]
    answer(notifier, first)
    notifier.note_change(lines.show("1000", dialog(DialogState.EARLY, number=1),
                                    dialog(DialogState.EARLY, number=2)), T0 + 1)
    [second] = notifies(notifier.flush(T0 + 1))
    assert document(second).get("state") == "full" and len(states(second)) == 2
