"""The dialog tracker fed by the real core over the fake link: line state through
ringing, answer, hold, resume and hang-up, forked early dialogs, CANCEL, the lost
BYE, the line that is full, and the record each call leaves."""

from __future__ import annotations

import pytest
from fakelink import CALLER, TOKENS, answer, cancel_for, invite, make_core

from proxy.config.loader import parse_config
from proxy.core.events import BranchRung, CallRouted
from proxy.core.router import route_request
from proxy.dialog import (
    CallRecord,
    DialogSettings,
    DialogState,
    DialogTracker,
    Direction,
    HeldBy,
    LineChange,
    LineState,
    Outcome,
)
from proxy.dialog.machine import _TABLE, LegInput
from proxy.policy.plan import TargetRole
from proxy.policy.trust import Source, SourceKind
from proxy.sip.hop import Hop
from proxy.sip.message import Request, Response, parse_message

ALICE_HOP = Hop("UDP", "127.0.0.2", 5070)
BOB_HOP = Hop("UDP", "127.0.0.3", 5070)
VOICEMAIL_HOP = Hop("UDP", "127.0.0.4", 5070)
TOKEN = TOKENS.mint("call-1@127.0.0.9", "caller-tag")

CONFIG = """
listen: [{transport: udp, host: 127.0.0.1, port: 5060}]
trusted_peers: ["127.0.0.9/32"]
users:
  alice: {name: Alice, lines: ["1000"], endpoints: ["sip:alice@127.0.0.2:5070"]}
  bob: {name: Bob, lines: ["1001"], endpoints: ["sip:bob@127.0.0.3:5070"]}
delegations:
  alice:
    delegates:
      bob: {privileges: [answer_calls], status: accepted}
    vip_delegation: {enabled: false}
    ring_timeout: 20s
    voicemail: sip:vm@127.0.0.4:5070
"""

VIP_DELEGATION = """vip_delegation: {enabled: true, vip_callers: ring_me_only,
                     other_callers: ring_me_only}
    vip_contacts:
      - {first_name: Carol, last_name: Ng, company: Acme, numbers: ["+14155550199"]}"""


class Proxy:
    """The core with a tracker listening, as the app wires them."""

    def __init__(self, config: str = CONFIG, settings: DialogSettings | None = None) -> None:
        self.core, self.loop, self.link = make_core(config)
        self.tracker = DialogTracker(self.core_directory, settings)
        self.changes: list[LineChange] = []
        self.records: list[CallRecord] = []
        self.core.events.subscribe(self._observe)
        self.core._line_full = self.tracker.line_full

    @property
    def core_directory(self):  # type: ignore[no-untyped-def]
        return self.core._trust.directory

    def _observe(self, event: object) -> None:
        update = self.tracker.observe(event)  # type: ignore[arg-type]
        self.changes.extend(update.changed)
        self.records.extend(update.finished)

    def ring(self, uri: str = "sip:1000@127.0.0.1:5060") -> dict[str, Request]:
        self.core.receive(invite(uri), CALLER)
        return {f"{hop.host}": m for hop, m in self.link.take() if isinstance(m, Request)}

    def respond(self, request: Request, status: int, reason: str, hop: Hop, tag: str,
                extra: str = "") -> None:
        self.core.receive(answer(request, status, reason, to_tag=tag, extra=extra), hop)

    def states(self, line: str = "1000") -> list[tuple[str | None, DialogState]]:
        view = self.tracker.line(line)
        assert view is not None
        return [(dialog.local.user, dialog.state) for dialog in view.dialogs]


def _in_dialog(method: str, *, from_callee: str | None = None, body: str = "",
               cseq: int = 2, branch: str = "z9hG4bKindialog") -> bytes:
    """A request inside the dialog with alice's phone (tag ``a``), from the caller,
    or from the callee whose tag is ``from_callee``, along our Record-Route."""
    if from_callee is None:
        start, hop_via = f"{method} sip:a@127.0.0.2:5070 SIP/2.0", "127.0.0.9:5090"
        from_to = ("From: <sip:+14155550199@127.0.0.9>;tag=caller-tag\r\n"
                   "To: <sip:1000@127.0.0.1>;tag=a\r\n")
    else:
        start, hop_via = f"{method} sip:carol@127.0.0.9:5090 SIP/2.0", "127.0.0.2:5070"
        from_to = (f"From: <sip:1000@127.0.0.1>;tag={from_callee}\r\n"
                   "To: <sip:+14155550199@127.0.0.9>;tag=caller-tag\r\n")
    content = "Content-Type: application/sdp\r\n" if body else ""
    return (
        f"{start}\r\nVia: SIP/2.0/UDP {hop_via};branch={branch}\r\n"
        f"Route: <sip:127.0.0.1:5060;transport=udp;lr;vpt={TOKEN}>\r\n"
        f"Max-Forwards: 70\r\n{from_to}Call-ID: call-1@127.0.0.9\r\nCSeq: {cseq} {method}\r\n"
        f"{content}Content-Length: {len(body)}\r\n\r\n{body}"
    ).encode()


def _forwarded(proxy: Proxy) -> Request:
    requests = [m for _, m in proxy.link.take() if isinstance(m, Request)]
    assert len(requests) == 1
    return requests[0]


def _sdp(direction: str, address: str = "127.0.0.2") -> str:
    return (f"v=0\r\no=- 1 2 IN IP4 {address}\r\ns=-\r\nc=IN IP4 {address}\r\nt=0 0\r\n"
            f"m=audio 4000 RTP/AVP 0\r\na={direction}\r\n")


def _answered_by_alice(proxy: Proxy) -> dict[str, Request]:
    branches = proxy.ring()
    proxy.respond(branches["127.0.0.2"], 180, "Ringing", ALICE_HOP, "a")
    proxy.respond(branches["127.0.0.3"], 180, "Ringing", BOB_HOP, "b")
    proxy.respond(branches["127.0.0.2"], 200, "OK", ALICE_HOP, "a")
    proxy.link.take()
    return branches


def test_a_forked_call_shows_each_branch_early_and_exactly_one_confirmed() -> None:
    proxy = Proxy()
    assert proxy.tracker.line("1000").state is LineState.IDLE  # type: ignore[union-attr]
    branches = proxy.ring()
    assert proxy.states() == [("alice", DialogState.TRYING), ("bob", DialogState.TRYING)]
    proxy.respond(branches["127.0.0.2"], 180, "Ringing", ALICE_HOP, "a")
    proxy.respond(branches["127.0.0.3"], 180, "Ringing", BOB_HOP, "b")
    # Only the change that put the call on the line says so (a lamp never shown
    # the call need not hear of its end).
    first, *later = proxy.changes
    assert first.began and later and not any(change.began for change in later)
    view = proxy.tracker.line("1000")
    assert view is not None and view.state is LineState.RINGING
    assert [(d.local.user, d.state, d.local_tag, d.remote_tag) for d in view.dialogs] == [
        ("alice", DialogState.EARLY, "a", "caller-tag"),
        ("bob", DialogState.EARLY, "b", "caller-tag")]
    assert len({dialog.id for dialog in view.dialogs}) == 2
    assert all(d.direction is Direction.RECIPIENT for d in view.dialogs)

    proxy.changes.clear()
    proxy.respond(branches["127.0.0.2"], 200, "OK", ALICE_HOP, "a")
    assert proxy.states() == [("alice", DialogState.CONFIRMED)]
    last = proxy.changes[-1]
    assert [(d.local.user, d.state, d.terminated_by) for d in last.ended] == [
        ("bob", DialogState.TERMINATED, "cancelled")]
    assert last.line == "1000"
    confirmed = proxy.tracker.line("1000").dialogs[0]  # type: ignore[union-attr]
    assert confirmed.local.target == "sip:a@127.0.0.2:5070"  # the phone to pick up from
    assert confirmed.remote.identity == "sip:+14155550199@127.0.0.9"
    assert confirmed.remote.target == "sip:carol@127.0.0.9:5090"

    proxy.changes.clear()
    proxy.respond(branches["127.0.0.3"], 487, "Request Terminated", BOB_HOP, "b")
    assert proxy.changes == []  # bob's late 487 changes nothing: never early again


def test_hold_and_resume_by_either_side_and_the_hang_up_leave_a_record() -> None:
    proxy = Proxy()
    _answered_by_alice(proxy)
    proxy.loop.advance(0.25)  # less than T1: nothing is retransmitted meanwhile
    held_at = proxy.loop.time()
    proxy.core.receive(_in_dialog("INVITE", from_callee="a", body=_sdp("sendonly")), ALICE_HOP)
    proxy.respond(_forwarded(proxy), 200, "OK", CALLER, "caller-tag")
    view = proxy.tracker.line("1000")
    assert view is not None and view.state is LineState.HELD
    assert view.dialogs[0].held_by is HeldBy.LOCAL  # alice's phone held it
    # Since when, kept by the tracker: a page opened later shows the true time.
    assert view.dialogs[0].held_at == held_at > view.dialogs[0].confirmed  # type: ignore[operator]
    on_wall = view.on_wall_clock(1_700_000_000.0).dialogs[0]
    assert (on_wall.held_at, on_wall.started) == (held_at + 1_700_000_000.0,
                                                  view.dialogs[0].started + 1_700_000_000.0)

    proxy.core.receive(_in_dialog("INVITE", from_callee="a", body=_sdp("sendrecv"), cseq=3,
                                  branch="z9hG4bKresume"), ALICE_HOP)
    proxy.respond(_forwarded(proxy), 200, "OK", CALLER, "caller-tag")
    resumed = proxy.tracker.line("1000").dialogs[0]  # type: ignore[union-attr]
    assert (resumed.held_by, resumed.held_at) == (None, None)

    proxy.core.receive(_in_dialog("INVITE", body=_sdp("inactive", "0.0.0.0"), cseq=4,
                                  branch="z9hG4bKhold2"), CALLER)
    proxy.respond(_forwarded(proxy), 200, "OK", ALICE_HOP, "a")
    assert proxy.tracker.line("1000").dialogs[0].held_by is HeldBy.REMOTE  # type: ignore[union-attr]

    proxy.core.receive(_in_dialog("BYE", cseq=5, branch="z9hG4bKbye"), CALLER)
    proxy.respond(_forwarded(proxy), 200, "OK", ALICE_HOP, "a")
    assert proxy.tracker.line("1000").state is LineState.IDLE  # type: ignore[union-attr]
    assert proxy.changes[-1].ended[0].terminated_by == "remote-bye"
    assert len(proxy.tracker) == 0
    [record] = proxy.records
    assert (record.line, record.delegator, record.direction.value) == ("1000", "alice",
                                                                       "incoming")
    assert (record.answered_by, record.answered_phone) == ("alice", "sip:a@127.0.0.2:5070")
    assert record.outcome is Outcome.ANSWERED and record.status == 200
    assert record.rung == ("alice", "bob")
    assert record.caller == "+14155550199" and record.caller_source == "from"
    assert record.hung_up_by == "+14155550199" and record.end_reason == "bye"
    assert record.policy == "ring_all" and record.stages is not None


def test_the_line_says_the_caller_is_the_vip_contact_the_routing_decision_matched() -> None:
    proxy = Proxy(CONFIG.replace("vip_delegation: {enabled: false}", VIP_DELEGATION))
    proxy.ring()
    view = proxy.tracker.line("1000")
    assert view is not None and len(view.dialogs) == 1  # ring_me_only: alice alone
    assert view.dialogs[0].vip == "Carol Ng (Acme)"
    # The trusted peer asserts another caller: the decision believes that identity,
    # so the From naming Carol does not make the call a VIP's.
    asserted = Proxy(CONFIG.replace("vip_delegation: {enabled: false}", VIP_DELEGATION))
    asserted.core.receive(invite("sip:1000@127.0.0.1:5060", extra=(
        "P-Asserted-Identity: <sip:+14155550123@127.0.0.9>\r\n")), CALLER)
    view = asserted.tracker.line("1000")
    assert view is not None and [d.vip for d in view.dialogs] == [None], view
    assert view.dialogs[0].remote.identity == "sip:+14155550123@127.0.0.9"


def test_a_bye_the_proxy_refuses_ends_nothing() -> None:
    # A BYE with the right tags but no route of ours (from a stranger, say) is
    # answered 403 here and never reaches alice: the call goes on, and so does the
    # line's lamp, its count towards max_calls and the record to come.
    proxy = Proxy()
    _answered_by_alice(proxy)
    stranger = Hop("UDP", "127.0.0.66", 5090)
    bye = b"\r\n".join(line for line in _in_dialog("BYE", branch="z9hG4bKstray").split(b"\r\n")
                        if not line.startswith(b"Route:"))
    proxy.core.receive(bye.replace(b"127.0.0.9:5090;branch", b"127.0.0.66:5090;branch"),
                       stranger)
    assert [(hop, m.status) for hop, m in proxy.link.take() if isinstance(m, Response)] == [
        (stranger, 403)]
    assert proxy.states() == [("alice", DialogState.CONFIRMED)]
    assert proxy.records == []


def test_the_answered_dialog_is_the_2xxs_when_its_to_tag_differs_from_the_1xxs() -> None:
    # Something beyond alice's branch forked it (RFC 3261 §13.2.2.4): the caller's
    # BYE names the 2xx's tag, and must end the call on the line.
    proxy = Proxy()
    branches = proxy.ring()
    proxy.respond(branches["127.0.0.2"], 180, "Ringing", ALICE_HOP, "x")
    proxy.respond(branches["127.0.0.2"], 200, "OK", ALICE_HOP, "a")
    proxy.link.take()
    view = proxy.tracker.line("1000")
    assert view is not None
    assert [(d.local_tag, d.state) for d in view.dialogs] == [("a", DialogState.CONFIRMED)]
    proxy.core.receive(_in_dialog("BYE", branch="z9hG4bKbye"), CALLER)
    proxy.respond(_forwarded(proxy), 200, "OK", ALICE_HOP, "a")
    assert proxy.tracker.calls_on("1000") == 0
    assert [record.outcome.value for record in proxy.records] == ["answered"]


def test_a_caller_ending_an_early_dialog_hung_up_no_call() -> None:
    # RFC 3261 §15: the caller may BYE an early dialog; the call was never answered,
    # so the record names nobody who hung up.
    proxy = Proxy()
    branches = proxy.ring()
    proxy.respond(branches["127.0.0.2"], 180, "Ringing", ALICE_HOP, "a")
    proxy.core.receive(_in_dialog("BYE", branch="z9hG4bKearlybye"), CALLER)
    proxy.respond(_forwarded(proxy), 200, "OK", ALICE_HOP, "a")
    proxy.respond(branches["127.0.0.2"], 487, "Request Terminated", ALICE_HOP, "a")
    proxy.respond(branches["127.0.0.3"], 486, "Busy Here", BOB_HOP, "b")
    [voicemail] = [m for _, m in proxy.link.take()
                   if isinstance(m, Request) and m.method == "INVITE"]
    proxy.respond(voicemail, 480, "Temporarily Unavailable", VOICEMAIL_HOP, "vm")
    [record] = proxy.records
    assert (record.answered, record.hung_up_by) == (None, None)


def test_both_sides_hold_and_one_resuming_leaves_the_others_hold() -> None:
    # RFC 6337 §5.3: mutual hold. Carol holds, alice holds too, carol resumes:
    # alice still holds, and her delegates may still pick the call up.
    proxy = Proxy()
    _answered_by_alice(proxy)

    def offer(from_alice: bool, direction: str, cseq: int) -> HeldBy | None:
        branch = f"z9hG4bK{'a' if from_alice else 'c'}{cseq}"
        if from_alice:
            proxy.core.receive(_in_dialog("INVITE", from_callee="a", body=_sdp(direction),
                                          cseq=cseq, branch=branch), ALICE_HOP)
            proxy.respond(_forwarded(proxy), 200, "OK", CALLER, "caller-tag")
        else:
            proxy.core.receive(_in_dialog("INVITE", body=_sdp(direction), cseq=cseq,
                                          branch=branch), CALLER)
            proxy.respond(_forwarded(proxy), 200, "OK", ALICE_HOP, "a")
        view = proxy.tracker.line("1000")
        assert view is not None
        return view.dialogs[0].held_by

    assert offer(False, "sendonly", 3) is HeldBy.REMOTE
    assert offer(True, "inactive", 3) is HeldBy.LOCAL
    assert offer(False, "recvonly", 4) is HeldBy.LOCAL
    assert [dialog.held for dialog in proxy.tracker.dialogs_on("1000")] == [True]
    assert offer(True, "sendrecv", 4) is None


def test_a_call_answered_by_the_delegate_is_recorded_as_his() -> None:
    proxy = Proxy()
    branches = proxy.ring()
    proxy.respond(branches["127.0.0.3"], 200, "OK", BOB_HOP, "b")
    proxy.core.receive(_in_dialog("BYE", from_callee="b").replace(b"tag=a", b"tag=b"), BOB_HOP)
    assert proxy.records == []  # the BYE is not answered yet...
    proxy.respond(_forwarded(proxy), 200, "OK", CALLER, "caller-tag")
    [record] = proxy.records
    assert record.answered_by == "bob" and record.hung_up_by == "bob"


def test_the_caller_hanging_up_while_it_rings_ends_every_early_dialog() -> None:
    proxy = Proxy()
    branches = proxy.ring()
    proxy.respond(branches["127.0.0.2"], 180, "Ringing", ALICE_HOP, "a")
    proxy.respond(branches["127.0.0.3"], 180, "Ringing", BOB_HOP, "b")
    proxy.core.receive(cancel_for(invite("sip:1000@127.0.0.1:5060")), CALLER)
    # §16.10: the 487 goes to the caller once both phones have answered the CANCEL.
    proxy.respond(branches["127.0.0.2"], 487, "Request Terminated", ALICE_HOP, "a")
    assert proxy.tracker.line("1000").state is LineState.RINGING  # type: ignore[union-attr]
    proxy.respond(branches["127.0.0.3"], 487, "Request Terminated", BOB_HOP, "b")
    assert proxy.tracker.line("1000").state is LineState.IDLE  # type: ignore[union-attr]
    ended = [d for change in proxy.changes for d in change.ended]
    assert {(d.local.user, d.terminated_by) for d in ended} == {("alice", "cancelled"),
                                                               ("bob", "cancelled")}
    [record] = proxy.records
    assert record.outcome is Outcome.CANCELLED and record.status == 487
    assert record.answered_by is None and record.hung_up_by is None


def test_nobody_answering_ends_in_the_voicemail() -> None:
    proxy = Proxy()
    proxy.ring()
    proxy.loop.advance(20.5)  # the stage's ring_timeout
    voicemail = [m for h, m in proxy.link.take() if isinstance(m, Request)
                 and h == VOICEMAIL_HOP and m.method == "INVITE"]
    assert voicemail  # (with its retransmissions: nobody answered them)
    proxy.respond(voicemail[0], 200, "OK", VOICEMAIL_HOP, "vm")
    bye = _in_dialog("BYE").replace(b"tag=a", b"tag=vm").replace(b"sip:a@127.0.0.2",
                                                                  b"sip:vm@127.0.0.4")
    proxy.core.receive(bye, CALLER)
    proxy.respond(_forwarded(proxy), 200, "OK", VOICEMAIL_HOP, "vm")
    [record] = proxy.records
    assert record.outcome is Outcome.VOICEMAIL and record.answered_by == "voicemail"
    # The mailbox is alice's, but alice was rung only once, before it.
    assert record.rung == ("alice", "bob", "voicemail")


def test_a_lost_bye_ends_the_call_at_the_longest_duration() -> None:
    proxy = Proxy(settings=DialogSettings(max_duration=3600.0))
    _answered_by_alice(proxy)
    now = proxy.loop.time()
    assert proxy.tracker.expire(now + 3599).changed == ()
    update = proxy.tracker.expire(now + 3600)
    assert update.changed[0].line == "1000"
    assert proxy.tracker.line("1000").state is LineState.IDLE  # type: ignore[union-attr]
    assert update.changed[0].ended[0].terminated_by == "timeout"
    assert update.finished[0].end_reason == "expired" and update.finished[0].hung_up_by is None


def test_a_negotiated_session_timer_ends_a_quiet_call_sooner_and_a_refresh_extends_it() -> None:
    proxy = Proxy()
    branches = proxy.ring()
    proxy.respond(branches["127.0.0.2"], 200, "OK", ALICE_HOP, "a",
                  extra="\r\nSession-Expires: 1800;refresher=uac")
    start = proxy.loop.time()
    proxy.loop.advance(1000)
    proxy.link.take()  # bob's INVITE retransmitted: he never answered, nor heard the CANCEL
    proxy.core.receive(_in_dialog("UPDATE"), CALLER)  # a refresh, RFC 4028 §10
    proxy.respond(_forwarded(proxy), 200, "OK", ALICE_HOP, "a",
                  extra="\r\nSession-Expires: 1800;refresher=uac")
    assert proxy.tracker.expire(start + 1801).finished == ()
    assert proxy.tracker.expire(start + 1000 + 1800).finished[0].end_reason == "expired"


def test_a_refresh_whose_2xx_names_no_session_timer_turns_the_timer_off() -> None:
    # RFC 4028 §9: the 2xx carries the interval agreed; the request only asks for one.
    proxy = Proxy(settings=DialogSettings(max_duration=3600.0))
    _answered_by_alice(proxy)
    start = proxy.loop.time()
    asking = _in_dialog("UPDATE").replace(b"Max-Forwards: 70\r\n",
                                          b"Max-Forwards: 70\r\nSession-Expires: 90\r\n")
    proxy.core.receive(asking, CALLER)
    proxy.respond(_forwarded(proxy), 200, "OK", ALICE_HOP, "a")
    assert proxy.tracker.expire(start + 91).finished == ()
    assert proxy.tracker.expire(start + 3600).finished[0].end_reason == "expired"


def test_a_full_line_answers_busy_and_the_refusal_is_in_the_history() -> None:
    proxy = Proxy(settings=DialogSettings(max_calls=1))
    _answered_by_alice(proxy)
    second = invite("sip:1000@127.0.0.1:5060", branch="z9hG4bKsecond").replace(
        b"call-1@", b"call-2@")
    proxy.core.receive(second, CALLER)
    finals = [m.status for _, m in proxy.link.take() if not isinstance(m, Request)
              and m.status >= 200]
    assert finals == [486]
    [record] = proxy.records
    assert record.call_id == "call-2@127.0.0.9" and record.outcome is Outcome.BUSY
    assert record.rung == ()


def test_a_call_placed_from_a_full_line_gets_403_naming_the_line() -> None:
    proxy = Proxy(settings=DialogSettings(max_calls=1))
    _answered_by_alice(proxy)
    placed = invite("sip:1001@127.0.0.1:5060", branch="z9hG4bKplaced").replace(
        b"127.0.0.9:5090;branch", b"127.0.0.2:5070;branch").replace(
        b"<sip:+14155550199@127.0.0.9>", b"<sip:1000@127.0.0.1>").replace(
        b"call-1@", b"call-2@")
    proxy.core.receive(placed, ALICE_HOP)
    sent = proxy.link.take()
    assert [(hop, m.status, m.reason) for hop, m in sent
            if not isinstance(m, Request) and m.status >= 200] == [
        (ALICE_HOP, 403, "Forbidden (line 1000 carries its maximum of calls)")]
    assert not any(hop == BOB_HOP for hop, _ in sent)  # bob's line is free, but not rung
    outgoing = [r for r in proxy.records if r.call_id == "call-2@127.0.0.9"]
    assert sorted((r.line, r.direction.value, r.made_by, r.status) for r in outgoing) == [
        ("1000", "outgoing", "alice", 403), ("1001", "incoming", None, 403)]


def test_a_call_placed_from_a_users_phone_shows_on_her_line_as_made_by_her() -> None:
    proxy = Proxy()
    call = invite("sip:1001@127.0.0.1:5060").replace(
        b"127.0.0.9:5090;branch", b"127.0.0.2:5070;branch").replace(
        b"<sip:+14155550199@127.0.0.9>", b"<sip:1000@127.0.0.1>")
    proxy.core.receive(call, ALICE_HOP)
    [to_bob] = [m for _, m in proxy.link.take() if isinstance(m, Request)]
    proxy.respond(to_bob, 486, "Busy Here", BOB_HOP, "b")
    outgoing = [r for r in proxy.records if r.line == "1000"]
    incoming = [r for r in proxy.records if r.line == "1001"]
    assert [(r.direction.value, r.made_by, r.outcome) for r in outgoing] == [
        ("outgoing", "alice", Outcome.BUSY)]
    assert [(r.direction.value, r.delegator) for r in incoming] == [("incoming", "bob")]


@pytest.mark.parametrize("state", list(DialogState))
@pytest.mark.parametrize("event", list(LegInput))
def test_every_state_has_an_answer_for_every_input_and_terminated_is_final(
        state: DialogState, event: LegInput) -> None:
    assert (state, event) in _TABLE
    if state is DialogState.TERMINATED:
        assert _TABLE[(state, event)] is DialogState.TERMINATED


OUTBOUND_CONFIG = """
listen: [{transport: udp, host: 127.0.0.1, port: 5060}]
users:
  alice: {name: Alice Chen, lines: ["+14155550100"], endpoints: ["sip:alice@127.0.0.2:5070"]}
  bob: {name: Bob, lines: ["1001"], endpoints: [registered], auth: {password: bob-secret}}
delegations:
  alice:
    delegates: {bob: {privileges: [place_calls], status: accepted}}
outbound: [{prefix: "+1", gateway: "sip:127.0.0.5:5060"}]
"""


def test_a_delegate_calling_out_on_the_delegators_line_shows_and_counts_there() -> None:
    directory = parse_config(OUTBOUND_CONFIG).directory
    tracker = DialogTracker(directory, DialogSettings(max_calls=1))
    request = parse_message(invite("sip:+12125550147@127.0.0.1:5060").replace(
        b"sip:+14155550199@127.0.0.9", b"sip:1001@127.0.0.9").replace(
        b"Contact: <sip:carol@", b"P-Preferred-Identity: <sip:+14155550100@x>\r\n"
        b"Contact: <sip:carol@"))
    assert isinstance(request, Request)
    phone = Source(Hop("UDP", "127.0.0.9", 5090), SourceKind.PHONE, "bob", authenticated=True)
    decision = route_request(request, phone, directory, 0.0)
    tracker.observe(CallRouted(request.call_id, "INVITE", decision, 10.0, request, phone))
    gateway = "sip:+12125550147@127.0.0.5:5060"
    tracker.observe(BranchRung(request.call_id, 0, gateway, None, 10.0, TargetRole.GATEWAY))
    view = tracker.line("+1 415 555 0100")
    assert view is not None and view.owner == "alice"
    [dialog] = view.dialogs
    assert dialog.direction is Direction.INITIATOR
    assert (dialog.local.identity, dialog.local.display, dialog.local.user) == (
        "sip:+14155550100@127.0.0.9", "Alice Chen", "bob")
    assert tracker.line_full("+14155550100")  # lines.max_calls counts it
    bobs_line = tracker.line("1001")
    assert bobs_line is not None and bobs_line.dialogs == ()  # not on the delegate's own line
    [record] = tracker.stop(20.0).finished
    assert (record.line, record.delegator, record.made_by, record.direction.value,
            record.caller, record.caller_source, record.callee, record.policy) == (
        "+14155550100", "alice", "bob", "outgoing", "+14155550100", "authenticated",
        "+12125550147", "outbound")
