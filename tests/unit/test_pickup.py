"""Picking up a held call, through the real core and dialog tracker over the fake link
and clock: an INVITE with Replaces and the "seize the held call" INVITE reach the
held party over the held dialog's route, the held party's BYE ends the line's old
dialog, and the two dialogs leave one history record answered by the delegate.
Refusals (no privilege, not a delegate, nothing held) leave the held call as it was.
A call ringing on the line is picked up the same way, with answer_calls.
"""

from __future__ import annotations

import gc
from dataclasses import replace

import pytest
from fakelink import CALLER, TOKENS, FakeLoop, Link, answer, cancel_for, invite, make_core

from proxy.core.driver import ProxyCore
from proxy.dialog import CallRecord, DialogSettings, DialogState, DialogTracker, LineChange
from proxy.dialog.calls import Call
from proxy.dialog.views import HeldBy
from proxy.sip.hop import Hop
from proxy.sip.message import Request, Response
from proxy.sip.replaces import parse_replaces

ALICE = Hop("UDP", "127.0.0.2", 5070)
BOB = Hop("UDP", "127.0.0.3", 5070)
DANA = Hop("UDP", "127.0.0.4", 5070)
ERIN = Hop("UDP", "127.0.0.5", 5070)
FRANK = Hop("UDP", "127.0.0.6", 5070)
HELD_CALL = "call-1@127.0.0.9"
PICKUP_CALL = "pickup-1@127.0.0.3"
# The held party (the caller, a trusted PBX) at its Contact: where a pick-up goes.
HELD_PARTY_CONTACT = "sip:carol@127.0.0.9:5090"

CONFIG = """
listen: [{transport: udp, host: 127.0.0.1, port: 5060}]
trusted_peers: ["127.0.0.9/32"]
users:
  alice: {name: Alice, lines: ["1000"], endpoints: ["sip:alice@127.0.0.2:5070"]}
  bob: {name: Bob, lines: ["1001"], endpoints: ["sip:bob@127.0.0.3:5070"]}
  dana: {name: Dana, lines: ["1002"], endpoints: ["sip:dana@127.0.0.4:5070"]}
  erin: {name: Erin, lines: ["1003"], endpoints: ["sip:erin@127.0.0.5:5070"]}
  frank: {name: Frank, lines: ["1004"], endpoints: ["sip:frank@127.0.0.6:5070"]}
delegations:
  alice:
    delegates:
      bob: {privileges: [answer_calls, pickup_held_calls], status: accepted}
      dana: {privileges: [answer_calls], status: accepted}
      frank: {privileges: [pickup_held_calls], status: accepted}
    vip_delegation: {enabled: true, vip_callers: ring_me_only, other_callers: ring_me_only}
    ring_timeout: 20s
"""


class Office:
    """The core with a tracker listening and picking up, as the app wires them."""

    def __init__(self, settings: DialogSettings | None = None) -> None:
        self.core, self.loop, self.link = _core()
        self.tracker = DialogTracker(self.core._trust.directory, settings)
        self.records: list[CallRecord] = []
        self.changes: list[LineChange] = []
        self.core.events.subscribe(self._observe)
        self.core._line_full = self.tracker.line_full
        self.core._classifier = replace(self.core._classifier, dialogs=self.tracker)

    def _observe(self, event: object) -> None:
        update = self.tracker.observe(event)  # type: ignore[arg-type]
        self.records.extend(update.finished)
        self.changes.extend(update.changed)

    def sent(self) -> list[tuple[Hop, Request | Response]]:
        return [(hop, message) for hop, message in self.link.take()
                if isinstance(message, (Request, Response))]

    def forwarded(self, to: Hop) -> Request:
        [request] = [m for hop, m in self.sent() if isinstance(m, Request) and hop == to]
        return request

    def final(self, to: Hop) -> Response:
        finals = [m for hop, m in self.sent()
                  if isinstance(m, Response) and hop == to and m.status >= 200]
        return finals[-1]

    def held_by_alice(self) -> None:
        """A call from the PBX to line 1000, answered by alice, who holds it."""
        self.core.receive(invite("sip:1000@127.0.0.1:5060"), CALLER)
        to_alice = self.forwarded(ALICE)
        self.core.receive(answer(to_alice, 200, "OK", to_tag="a"), ALICE)
        self.link.take()
        self.loop.advance(5)
        hold = _request("INVITE", "sip:carol@127.0.0.9:5090", call_id=HELD_CALL,
                        from_="<sip:1000@127.0.0.1>;tag=a",
                        to="<sip:+14155550199@127.0.0.9>;tag=caller-tag", cseq=1,
                        via="127.0.0.2:5070", branch="z9hG4bKhold", body=_sdp("sendonly"),
                        token=TOKENS.mint(HELD_CALL, "caller-tag"))
        self.core.receive(hold, ALICE)
        self.core.receive(answer(self.forwarded(CALLER), 200, "OK"), CALLER)
        self.link.take()

    def held_party_byes_alice(self) -> None:
        """RFC 3891 §3: the held party ends the replaced dialog."""
        bye = _request("BYE", "sip:a@127.0.0.2:5070", call_id=HELD_CALL,
                       from_="<sip:+14155550199@127.0.0.9>;tag=caller-tag",
                       to="<sip:1000@127.0.0.1>;tag=a", cseq=2, via="127.0.0.9:5090",
                       branch="z9hG4bKbyealice", token=TOKENS.mint(HELD_CALL, "caller-tag"))
        self.core.receive(bye, CALLER)
        self.core.receive(answer(self.forwarded(ALICE), 200, "OK"), ALICE)
        self.link.take()

    def line(self) -> list[tuple[str | None, DialogState, HeldBy | None]]:
        view = self.tracker.line("1000")
        assert view is not None
        return [(d.local.user, d.state, d.held_by) for d in view.dialogs]


def _core() -> tuple[ProxyCore, FakeLoop, Link]:
    return make_core(CONFIG)


def _sdp(direction: str) -> str:
    return ("v=0\r\no=- 1 2 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\n"
            f"m=audio 4000 RTP/AVP 0\r\na={direction}\r\n")


def _request(method: str, uri: str, *, call_id: str, from_: str, to: str, cseq: int, via: str,
             branch: str, body: str = "", extra: str = "", token: str | None = None,
             contact: str = "") -> bytes:
    route = f"Route: <sip:127.0.0.1:5060;transport=udp;lr;vpt={token}>\r\n" if token else ""
    content = "Content-Type: application/sdp\r\n" if body else ""
    return (f"{method} {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {via};branch={branch}\r\n{route}"
            f"Max-Forwards: 70\r\nFrom: {from_}\r\nTo: {to}\r\nCall-ID: {call_id}\r\n"
            f"CSeq: {cseq} {method}\r\n{contact}{extra}{content}"
            f"Content-Length: {len(body)}\r\n\r\n{body}").encode()


def _pickup(uri: str = "sip:1000@127.0.0.1", *, calling: str = "1000", extra: str = "",
            via: str = "127.0.0.3:5070", call_id: str = PICKUP_CALL) -> bytes:
    """An INVITE from a delegate's phone: from the line to the line (a seize), or to
    the held party with a Replaces (``extra``)."""
    user = via.split(".")[3].split(":")[0]
    return _request("INVITE", uri, call_id=call_id, from_=f"<sip:{calling}@127.0.0.1>;tag=pk",
                    to=f"<{uri}>", cseq=1, via=via, branch=f"z9hG4bK{user}-{call_id.split('@')[0]}",
                    body=_sdp("sendrecv"), extra=extra,
                    contact=f"Contact: <sip:phone@{via}>\r\n")


def _picked_up_by_bob() -> Office:
    """Alice held the call, bob picked it up, and the held party ended alice's leg."""
    office = Office()
    office.held_by_alice()
    _picks_up(office, _pickup())
    office.held_party_byes_alice()
    office.loop.advance(10)
    return office


def _bobs_offer(office: Office, cseq: int, direction: str) -> None:
    """Bob's phone, in the call it picked up, offers ``direction`` media; accepted."""
    office.core.receive(_request(
        "INVITE", HELD_PARTY_CONTACT, call_id=PICKUP_CALL, from_="<sip:1000@127.0.0.1>;tag=pk",
        to=f"<{HELD_PARTY_CONTACT}>;tag=held", cseq=cseq, via="127.0.0.3:5070",
        branch=f"z9hG4bKbob{cseq}", body=_sdp(direction),
        token=TOKENS.mint(PICKUP_CALL, "pk")), BOB)
    office.core.receive(answer(office.forwarded(CALLER), 200, "OK"), CALLER)


def _picks_up(office: Office, request: bytes, phone: Hop = BOB) -> Request:
    """The phone's INVITE reaches the far party, which accepts it; what it got."""
    office.core.receive(request, phone)
    to_held_party = office.forwarded(CALLER)
    accepted = answer(to_held_party, 200, "OK", to_tag="held").replace(
        b"<sip:held@127.0.0.2:5070>", f"<{HELD_PARTY_CONTACT}>".encode())
    office.core.receive(accepted, CALLER)
    assert office.final(phone).status == 200
    return to_held_party


def test_seizing_the_held_call_sends_the_held_party_an_invite_that_replaces_alice() -> None:
    office = Office()
    office.held_by_alice()
    held_at = office.loop.time()
    assert office.line() == [("alice", DialogState.CONFIRMED, HeldBy.LOCAL)]

    to_held_party = _picks_up(office, _pickup())

    assert to_held_party.uri == HELD_PARTY_CONTACT
    replaces = parse_replaces(to_held_party.header("replaces") or "")
    # RFC 3891 §3: named as the held party sees the dialog: its own tag, then alice's.
    assert (replaces.call_id, replaces.to_tag, replaces.from_tag) == (HELD_CALL, "caller-tag",
                                                                     "a")
    assert to_held_party.header("require") == "replaces"
    [record_route] = to_held_party.header_values("record-route")
    assert f"vpt={TOKENS.mint(PICKUP_CALL, 'pk')}" in record_route
    # Both dialogs show until the held party ends alice's.
    assert sorted(office.line(), key=str) == sorted(
        [("alice", DialogState.CONFIRMED, HeldBy.LOCAL),
         ("bob", DialogState.CONFIRMED, None)], key=str)

    office.held_party_byes_alice()
    assert office.line() == [("bob", DialogState.CONFIRMED, None)]
    # RFC 4235 §4.1.6.2: alice's dialog shows as replaced, not as hung up.
    assert [dialog.terminated_by for change in office.changes for dialog in change.ended] == [
        "replaced"]
    [bobs] = office.tracker.line("1000").dialogs  # type: ignore[union-attr]
    assert bobs.local.target == "sip:phone@127.0.0.3:5070"  # the lamp: in use by bob
    # Shown as the line, as alice's dialog was (the To the call came with).
    assert (bobs.local.identity, bobs.local.user) == ("sip:2000@127.0.0.1", "bob")
    assert bobs.remote.identity == "sip:+14155550199@127.0.0.9"
    assert office.records == []  # one call: recorded when the pick-up is over too

    office.loop.advance(30)
    bye = _request("BYE", HELD_PARTY_CONTACT, call_id=PICKUP_CALL,
                   from_="<sip:1000@127.0.0.1>;tag=pk",
                   to="<sip:carol@127.0.0.9:5090>;tag=held", cseq=2, via="127.0.0.3:5070",
                   branch="z9hG4bKbyebob", token=TOKENS.mint(PICKUP_CALL, "pk"))
    office.core.receive(bye, BOB)
    office.core.receive(answer(office.forwarded(CALLER), 200, "OK"), CALLER)
    [record] = office.records
    assert (record.call_id, record.line, record.direction.value) == (HELD_CALL, "1000",
                                                                     "incoming")
    assert (record.answered_by, record.answered_phone) == ("bob", "sip:phone@127.0.0.3:5070")
    assert (record.held_by, record.held_at) == ("alice", held_at)
    assert record.answered == 1000.0  # alice's answer: the call was up from then
    assert (record.hung_up_by, record.end_reason, record.outcome.value) == ("bob", "bye",
                                                                           "answered")
    assert len(office.tracker) == 0


def test_an_invite_with_replaces_from_the_lamp_goes_to_the_held_party() -> None:
    office = Office()
    office.held_by_alice()
    request = _pickup(HELD_PARTY_CONTACT, calling="1001",
                      extra=f"Replaces: {HELD_CALL};to-tag=caller-tag;from-tag=a\r\n")

    to_held_party = _picks_up(office, request)

    assert to_held_party.uri == HELD_PARTY_CONTACT
    assert to_held_party.header("replaces") == f"{HELD_CALL};to-tag=caller-tag;from-tag=a"
    assert to_held_party.header("require") is None  # the phone chose what it requires
    office.held_party_byes_alice()
    [record] = office.tracker.stop(office.loop.time()).finished
    assert (record.answered_by, record.held_by, record.end_reason) == ("bob", "alice",
                                                                       "proxy stopped")


@pytest.mark.parametrize(("phone", "reason"), [
    (DANA, "Forbidden (dana lacks the pickup_held_calls privilege from alice)"),
    (ERIN, "Forbidden (erin is not a delegate of alice)"),
])
def test_a_phone_without_the_privilege_gets_403_and_the_call_stays_held(
        phone: Hop, reason: str) -> None:
    office = Office()
    office.held_by_alice()
    for request in (_pickup(via=f"{phone.host}:5070"),
                    _pickup(HELD_PARTY_CONTACT, via=f"{phone.host}:5070", call_id="other",
                            extra=f"Replaces: {HELD_CALL};to-tag=caller-tag;from-tag=a\r\n")):
        office.core.receive(request, phone)
        sent = office.sent()
        assert [(hop, m.status, m.reason) for hop, m in sent if isinstance(m, Response)
                and m.status >= 200] == [(phone, 403, reason)]
        assert not any(hop == CALLER for hop, _ in sent)  # the held party heard nothing
    assert office.line() == [("alice", DialogState.CONFIRMED, HeldBy.LOCAL)]
    assert office.core.stats["refused_pickup"] == 2


def test_a_call_not_on_hold_cannot_be_picked_up() -> None:
    office = Office()
    office.core.receive(invite("sip:1000@127.0.0.1:5060"), CALLER)
    office.core.receive(answer(office.forwarded(ALICE), 200, "OK", to_tag="a"), ALICE)
    office.link.take()

    office.core.receive(_pickup(), BOB)
    seized = office.final(BOB)
    office.core.receive(_pickup(HELD_PARTY_CONTACT, call_id="other",
                                extra=f"Replaces: {HELD_CALL};to-tag=caller-tag;from-tag=a\r\n"),
                        BOB)
    replaced = office.final(BOB)

    assert (seized.status, seized.reason) == (
        481, "Call/Transaction Does Not Exist (no call is on hold on line 1000)")
    assert (replaced.status, replaced.reason) == (
        481, "Call/Transaction Does Not Exist (the call on line 1000 is not on hold)")
    assert office.line() == [("alice", DialogState.CONFIRMED, None)]


def test_a_pick_up_the_held_party_refuses_leaves_the_call_held_by_alice() -> None:
    office = Office()
    office.held_by_alice()
    office.core.receive(_pickup(), BOB)
    office.core.receive(answer(office.forwarded(CALLER), 481, "Call Does Not Exist",
                               to_tag="held"), CALLER)
    assert office.final(BOB).status == 481
    assert office.line() == [("alice", DialogState.CONFIRMED, HeldBy.LOCAL)]
    assert office.records == []  # the failed pick-up is no call of its own

    office.held_party_byes_alice()
    [record] = office.records
    assert (record.answered_by, record.held_by, record.hung_up_by) == ("alice", "alice",
                                                                      "+14155550199")


TRANSFERRED_BY_ALICE = (f"Replaces: {HELD_CALL};to-tag=caller-tag;from-tag=a\r\n"
                        "Referred-By: <sip:1000@127.0.0.1>\r\n")


def test_a_transfer_acting_on_a_refer_is_no_pick_up() -> None:
    office = Office()
    office.core.receive(invite("sip:1000@127.0.0.1:5060"), CALLER)
    office.core.receive(answer(office.forwarded(ALICE), 200, "OK", to_tag="a"), ALICE)
    office.link.take()
    office.core.receive(_pickup("sip:1000@127.0.0.1", calling="1001",
                                extra=TRANSFERRED_BY_ALICE), BOB)
    [request] = [m for _, m in office.sent() if isinstance(m, Request)]
    assert request.uri == "sip:alice@127.0.0.2:5070"  # routed as a call to the line


def test_referred_by_does_not_let_a_phone_take_a_held_call_without_the_privilege() -> None:
    office = Office()
    office.held_by_alice()
    office.core.receive(_pickup(HELD_PARTY_CONTACT, via="127.0.0.4:5070", call_id="other",
                                extra=TRANSFERRED_BY_ALICE), DANA)
    sent = office.sent()
    assert [(m.status, m.reason) for _, m in sent if isinstance(m, Response)
            and m.status >= 200] == [
        (403, "Forbidden (dana lacks the pickup_held_calls privilege from alice)")]
    assert not any(hop == CALLER for hop, _ in sent)  # the held party heard nothing
    assert office.line() == [("alice", DialogState.CONFIRMED, HeldBy.LOCAL)]


def test_the_record_names_whoever_held_the_call_last_after_a_pick_up() -> None:
    office = _picked_up_by_bob()
    held_at = office.loop.time()
    for cseq, direction in ((2, "sendonly"), (3, "sendrecv")):  # bob holds and resumes
        _bobs_offer(office, cseq, direction)
        office.loop.advance(5)
    [record] = office.tracker.stop(office.loop.time()).finished
    assert (record.answered_by, record.held_by, record.held_at) == ("bob", "bob", held_at)


def test_a_seize_is_no_new_call_on_a_full_line() -> None:
    office = Office(DialogSettings(max_calls=1))
    office.held_by_alice()
    assert office.tracker.line_full("1000")

    _picks_up(office, _pickup())  # the held call changes phones: still one call


def test_alice_takes_back_the_call_bob_picked_up_and_put_on_hold() -> None:
    office = _picked_up_by_bob()
    _bobs_offer(office, 2, "sendonly")
    bob_held_at = office.loop.time()
    assert office.line() == [("bob", DialogState.CONFIRMED, HeldBy.LOCAL)]

    back = _picks_up(office, _pickup(via="127.0.0.2:5070", call_id="pickup-2@127.0.0.2"),
                         ALICE)

    assert back.header("replaces") == f"{PICKUP_CALL};to-tag=held;from-tag=pk"
    office.core.receive(_request("BYE", "sip:phone@127.0.0.3:5070", call_id=PICKUP_CALL,
                                 from_=f"<{HELD_PARTY_CONTACT}>;tag=held",
                                 to="<sip:1000@127.0.0.1>;tag=pk", cseq=1, via="127.0.0.9:5090",
                                 branch="z9hG4bKbyebob", token=TOKENS.mint(PICKUP_CALL, "pk")),
                        CALLER)
    office.core.receive(answer(office.forwarded(BOB), 200, "OK"), BOB)
    assert office.line() == [("alice", DialogState.CONFIRMED, None)]
    assert office.records == []
    [record] = office.tracker.stop(office.loop.time()).finished
    assert (record.call_id, record.answered_by, record.held_by, record.held_at) == (
        HELD_CALL, "alice", "bob", bob_held_at)


def _ringing_alice(office: Office) -> Request:
    """A call from the PBX ringing alice's phone; the INVITE her phone got."""
    office.core.receive(invite("sip:1000@127.0.0.1:5060"), CALLER)
    rung = office.forwarded(ALICE)
    office.core.receive(answer(rung, 180, "Ringing", to_tag="a"), ALICE)
    office.link.take()
    return rung


RINGING_REPLACES = f"Replaces: {HELD_CALL};to-tag=caller-tag;from-tag=a\r\n"


def test_a_delegate_picks_up_a_call_ringing_on_the_line() -> None:
    office = Office()
    rung = _ringing_alice(office)
    office.loop.advance(3)
    request = _pickup(HELD_PARTY_CONTACT, calling="1002", extra=RINGING_REPLACES,
                      via=f"{DANA.host}:5070")

    _picks_up(office, request, DANA)  # answer_calls is enough to pick up a ringing call
    picked_up_at = office.loop.time()
    # RFC 3891 §3: the caller replaces its own early dialog and CANCELs its INVITE.
    office.core.receive(cancel_for(invite("sip:1000@127.0.0.1:5060")), CALLER)
    office.core.receive(answer(office.forwarded(ALICE), 200, "OK", to_tag="a"), ALICE)
    office.core.receive(answer(rung, 487, "Request Terminated", to_tag="a"), ALICE)
    assert office.line() == [("dana", DialogState.CONFIRMED, None)]
    assert office.records == []

    [record] = office.tracker.stop(office.loop.time() + 10).finished
    assert (record.call_id, record.outcome.value, record.status, record.answered_by) == (
        HELD_CALL, "answered", 200, "dana")
    assert (record.answered, record.held_by) == (picked_up_at, None)


def test_picking_up_a_ringing_call_takes_answer_calls() -> None:
    office = Office()
    _ringing_alice(office)
    office.core.receive(_pickup(HELD_PARTY_CONTACT, extra=RINGING_REPLACES,
                                via=f"{FRANK.host}:5070"), FRANK)
    refused = office.final(FRANK)
    assert (refused.status, refused.reason) == (
        403, "Forbidden (frank lacks the answer_calls privilege from alice)")
    assert office.line() == [("alice", DialogState.EARLY, None)]


def test_a_picked_up_call_once_recorded_leaves_no_cycle_of_calls() -> None:
    office = Office()
    office.held_by_alice()
    _picks_up(office, _pickup())
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        office.held_party_byes_alice()
        assert len(office.tracker.stop(office.loop.time()).finished) == 1
        gc.collect()
        assert not [thing for thing in gc.garbage if isinstance(thing, Call)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
