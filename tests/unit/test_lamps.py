"""Busy lamps through the real ProxyCore over the fake link, as the app wires them:
the classifier hands a line's dialog SUBSCRIBE to the lamps after digest
authentication, the 200 leaves before the first NOTIFY, and the dialog tracker's
line changes become NOTIFYs, one in flight per subscription, in order."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from dataclasses import replace

import pytest
import structlog
from fakelink import CALLER, answer, cancel_for, invite, make_core
from test_core_phones import _answer_challenge, _md5_challenge
from test_dialog_tracker import _in_dialog, _sdp

from proxy.auth import AuthSettings, DigestAuthority, UserSecret
from proxy.config.loader import parse_config
from proxy.core.classify import PRESENCE_SERVICE, Authentication
from proxy.defaults import LAMP_NOTIFY_MIN_INTERVAL
from proxy.dialog import DialogTracker
from proxy.lamps import Lamps
from proxy.lines import Lines
from proxy.presence import Notifier
from proxy.presence.dialog_info import NAMESPACE
from proxy.sip.hop import Hop
from proxy.sip.message import Message, Request, Response

CONFIG = """
listen: [{transport: udp, host: 127.0.0.1, port: 5060}]
trusted_peers: ["127.0.0.9/32"]
domain: vipproxy.test
auth: {realm: vipproxy.test}
users:
  alice: {name: Alice, lines: ["1000"], endpoints: ["sip:alice@127.0.0.2:5070"]}
  bob:
    name: Bob
    lines: ["1001"]
    endpoints: ["sip:bob@127.0.0.3:5070"]
    auth: {username: bob, password: bob-secret}
  dana:
    name: Dana
    lines: ["1003"]
    endpoints: ["sip:dana@127.0.0.5:5070"]
    auth: {username: dana, password: dana-secret}
delegations:
  alice:
    delegates:
      bob: {privileges: [answer_calls], status: accepted}
    vip_delegation: {enabled: false}
    ring_timeout: 20s
"""
WATCHER = Hop("UDP", "127.0.0.50", 5062)
ALICE_HOP = Hop("UDP", "127.0.0.2", 5070)
BOB_HOP = Hop("UDP", "127.0.0.3", 5070)
LINE_URI = "sip:1000@vipproxy.test"
OUR_CONTACT = "sip:1000@127.0.0.1:5060;transport=udp"
NS = {"d": NAMESPACE}


class Office:
    """The core, the dialog tracker and the lamps, wired as ``proxy.app`` does."""

    def __init__(self) -> None:
        config = parse_config(CONFIG)
        self.core, self.loop, self.link = make_core(CONFIG)
        secrets = {"bob": UserSecret(password="bob-secret"),
                   "dana": UserSecret(password="dana-secret")}
        authority = DigestAuthority("vipproxy.test", b"n" * 32, secrets, AuthSettings())
        auth = Authentication(authority, {"bob": "bob", "dana": "dana"},
                              frozenset({"bob", "dana"}))
        self.core._classifier = replace(  # type: ignore[attr-defined]
            self.core._classifier, auth=auth,  # type: ignore[attr-defined]
            presence_hosts=frozenset({"vipproxy.test", "127.0.0.1"}))
        log = structlog.get_logger("test").bind()
        tracker = DialogTracker(config.directory)
        lines = Lines(tracker, self.loop, log)  # type: ignore[arg-type]
        self.core.events.subscribe(lines.observe)
        tags = (f"t{index}" for index in itertools.count(1))
        notifier = Notifier(config.directory, tracker,
                            self.core._local, lambda: next(tags))  # type: ignore[attr-defined]
        self.lamps = Lamps(notifier, self.core.originate, self.loop,  # type: ignore[arg-type]
                           log, clock=self.loop.time)
        self.core.add_service(PRESENCE_SERVICE, self.lamps)
        lines.on_line_change(self.lamps.on_line_change)
        self.forwarded: list[tuple[Hop, Message]] = []  # everything but NOTIFYs
        self._branches = (f"z9hG4bKsub{index}" for index in itertools.count(1))

    # --- the watcher ---------------------------------------------------------------

    def subscribe(self, user: str = "bob", password: str = "bob-secret",
                  uri: str = LINE_URI, event: str = "dialog") -> Response:
        """A SUBSCRIBE, and again with credentials when challenged; the final answer."""
        self.core.receive(_subscribe(uri, next(self._branches), event=event), WATCHER)
        first = self._final()
        if first.status != 401:
            return first
        credentials = _answer_challenge(_md5_challenge(first, "www-authenticate"), user,
                                        password, "SUBSCRIBE", uri, "Authorization")
        self.core.receive(_subscribe(uri, next(self._branches), cseq=2, extra=credentials,
                                     event=event), WATCHER)
        return self._final()

    def send_in_dialog(self, tag: str, expires: int) -> Response:
        """A refresh or unsubscribe to the Contact of our 200, in the dialog."""
        self.core.receive(_subscribe(OUR_CONTACT, next(self._branches), cseq=3, to_tag=tag,
                                     expires=expires), WATCHER)
        return self._final()

    def lamp(self, status: int = 200) -> list[list[tuple[str, str]]]:
        """Let the loop run, answer every NOTIFY the watcher gets with ``status``
        (one at a time, as they come) and wait out the minimum interval after it;
        the dialogs of each, in order."""
        seen = []
        self.loop.advance(0)
        while notifies := self.take_notifies():
            assert len(notifies) == 1, "two NOTIFYs of one subscription at once"
            notify = notifies[0]
            seen.append(dialogs(notify))
            self.core.receive(answer(notify, status, "OK"), WATCHER)
            self.loop.advance(LAMP_NOTIFY_MIN_INTERVAL)
        return seen

    def take_notifies(self) -> list[Request]:
        notifies = []
        for hop, message in self.link.take():
            if isinstance(message, Request) and message.method == "NOTIFY":
                assert hop == WATCHER
                notifies.append(message)
            else:
                self.forwarded.append((hop, message))
        return notifies

    def _final(self) -> Response:
        finals = [m for hop, m in self.link.take()
                  if isinstance(m, Response) and m.status >= 200 and hop == WATCHER]
        assert len(finals) == 1, finals
        return finals[0]

    # --- the call ------------------------------------------------------------------

    def ring(self) -> dict[str, Request]:
        self.core.receive(invite("sip:1000@127.0.0.1:5060"), CALLER)
        return self.requests()

    def requests(self) -> dict[str, Request]:
        """The requests forwarded since the last look, by destination host."""
        self.take_notifies()
        found = {hop.host: m for hop, m in self.forwarded if isinstance(m, Request)}
        self.forwarded = []
        return found


def _subscribe(uri: str, branch: str, *, cseq: int = 1, extra: str = "",
               to_tag: str | None = None, expires: int = 600, event: str = "dialog") -> bytes:
    to = f"<{LINE_URI}>" + (f";tag={to_tag}" if to_tag else "")
    return (f"SUBSCRIBE {uri} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.50:5062;branch={branch};rport\r\n"
            "Max-Forwards: 70\r\nFrom: <sip:bob@vipproxy.test>;tag=w\r\n"
            f"To: {to}\r\nCall-ID: watch-1@127.0.0.50\r\nCSeq: {cseq} SUBSCRIBE\r\n"
            f"Contact: <sip:bob@127.0.0.50:5062>\r\nEvent: {event}\r\nExpires: {expires}\r\n"
            f"{extra}Content-Length: 0\r\n\r\n").encode()


def ring(office: Office, branches: dict[str, Request]) -> None:
    """Alice's and Bob's phones answer 180 with their Contacts (tags a and b)."""
    for host, hop, tag in (("127.0.0.2", ALICE_HOP, "a"), ("127.0.0.3", BOB_HOP, "b")):
        office.core.receive(answer(branches[host], 180, "Ringing", to_tag=tag,
                                   extra=f"\r\nContact: <sip:{tag}@{host}:5070>"), hop)


def dialogs(notify: Request) -> list[tuple[str, str]]:
    """(whose phone, state) of each dialog in a NOTIFY: the phone's tag (each phone
    here answers with a tag of its own, also its Contact's user), "-" before a
    branch answers, or idle; a held call is "held"."""
    root = ET.fromstring(notify.body)
    found = []
    for element in root.findall("d:dialog", NS):
        state = element.findtext("d:state", namespaces=NS) or ""
        held = element.find("d:local/d:target/d:param[@pvalue='no']", NS) is not None
        who = (element.get("local-tag") or "-") if element.get("call-id") else "idle"
        found.append((who, "held" if held else state))
    return found


@pytest.fixture
def office() -> Office:
    return Office()


def test_a_subscribe_is_challenged_then_answered_and_the_first_notify_follows_the_200(
        office: Office) -> None:
    office.core.receive(_subscribe(LINE_URI, "z9hG4bKfirst"), WATCHER)
    challenge = office._final()
    assert challenge.status == 401  # the proxy answers as the UAS (RFC 3261 §22.1)
    credentials = _answer_challenge(_md5_challenge(challenge, "www-authenticate"), "bob",
                                    "bob-secret", "SUBSCRIBE", LINE_URI, "Authorization")
    office.core.receive(_subscribe(LINE_URI, "z9hG4bKsecond", cseq=2, extra=credentials),
                        WATCHER)
    sent = office.link.take()
    assert [m.status for _, m in sent if isinstance(m, Response)] == [200]
    assert not [m for _, m in sent if isinstance(m, Request)]  # nothing before the 200 left
    ok = next(m for _, m in sent if isinstance(m, Response))
    assert ok.header("contact") == f"<{OUR_CONTACT}>" and ok.header("expires") == "600"
    assert ok.header("to") == f"<{LINE_URI}>;tag=t1"
    assert office.lamp() == [[("idle", "terminated")]]
    assert office.lamps.summary()["notify_sent"] == 1


def test_a_delegate_sees_both_branches_ring_one_answer_hold_resume_and_hang_up(
        office: Office) -> None:
    assert office.subscribe().status == 200
    office.lamp()
    branches = office.ring()
    assert office.lamp() == [[("-", "trying"), ("-", "trying")]]
    ring(office, branches)
    # Both 180s came before the loop turned: their changes leave as one NOTIFY, and
    # each branch is a dialog of its own, with the phone's Contact as its target.
    assert office.lamp() == [[("a", "early"), ("b", "early")]]
    office.core.receive(answer(branches["127.0.0.2"], 200, "OK", to_tag="a"), ALICE_HOP)
    # One message, one NOTIFY: alice's dialog confirmed, bob's ended (cancelled).
    assert office.lamp() == [[("a", "confirmed"), ("b", "terminated")]]
    office.requests()
    office.core.receive(_in_dialog("INVITE", from_callee="a", body=_sdp("sendonly")),
                        ALICE_HOP)
    office.core.receive(answer(office.requests()["127.0.0.9"], 200, "OK"), CALLER)
    assert office.lamp() == [[("a", "held")]]
    office.core.receive(_in_dialog("INVITE", from_callee="a", body=_sdp("sendrecv"), cseq=3,
                                   branch="z9hG4bKresume"), ALICE_HOP)
    office.core.receive(answer(office.requests()["127.0.0.9"], 200, "OK"), CALLER)
    assert office.lamp() == [[("a", "confirmed")]]
    office.core.receive(_in_dialog("BYE", cseq=4, branch="z9hG4bKbye"), CALLER)
    office.core.receive(answer(office.requests()["127.0.0.2"], 200, "OK"), ALICE_HOP)
    assert office.lamp() == [[("a", "terminated")]]


def test_a_cancelled_call_does_not_leave_the_lamp_early(office: Office) -> None:
    office.subscribe()
    office.lamp()
    branches = office.ring()
    ring(office, branches)
    office.lamp()
    office.core.receive(cancel_for(invite("sip:1000@127.0.0.1:5060")), CALLER)
    cancels = office.requests()
    for host, hop, tag in (("127.0.0.2", ALICE_HOP, "a"), ("127.0.0.3", BOB_HOP, "b")):
        office.core.receive(answer(cancels[host], 200, "OK"), hop)
        office.core.receive(answer(branches[host], 487, "Request Terminated", to_tag=tag), hop)
    # Both branches end, shown once as terminated (cancelled); nothing stays early.
    assert office.lamp() == [[("a", "terminated"), ("b", "terminated")]]
    office.core.receive(_subscribe(OUR_CONTACT, "z9hG4bKrefresh", cseq=3, to_tag="t1"),
                        WATCHER)
    assert office.lamp()[-1] == [("idle", "terminated")]  # a refresh shows the line idle


def test_a_call_refused_within_the_interval_costs_the_watcher_no_notify(office: Office) -> None:
    office.subscribe()
    office.loop.advance(0)
    [first] = office.take_notifies()
    office.core.receive(answer(first, 200, "OK"), WATCHER)  # resting from now on
    branches = office.ring()
    for host, hop, tag in (("127.0.0.2", ALICE_HOP, "a"), ("127.0.0.3", BOB_HOP, "b")):
        office.core.receive(answer(branches[host], 486, "Busy Here", to_tag=tag), hop)
    office.loop.advance(LAMP_NOTIFY_MIN_INTERVAL)
    assert office.take_notifies() == []  # the line is idle, as the watcher was last told
    summary = office.lamps.summary()
    assert (summary["notify_sent"], summary["notify_skipped"]) == (1, 1)


def test_changes_while_a_notify_is_unanswered_go_out_after_it_and_the_interval_newest_first(
        office: Office) -> None:
    office.subscribe()
    office.lamp()
    branches = office.ring()
    office.loop.advance(0)
    first = office.take_notifies()  # trying, left unanswered
    assert len(first) == 1
    ring(office, branches)
    office.core.receive(answer(branches["127.0.0.2"], 200, "OK", to_tag="a"), ALICE_HOP)
    office.loop.advance(0)
    assert office.take_notifies() == []  # early is never sent after the answer
    office.core.receive(answer(first[0], 200, "OK"), WATCHER)
    office.loop.advance(LAMP_NOTIFY_MIN_INTERVAL / 2)
    assert office.take_notifies() == []  # within the minimum interval of the first
    office.loop.advance(LAMP_NOTIFY_MIN_INTERVAL / 2 + 0.001)  # past it, whatever the rounding
    second = office.take_notifies()
    assert [dialogs(n) for n in second] == [[("a", "confirmed"), ("b", "terminated")]]
    versions = [ET.fromstring(n.body).get("version") for n in (*first, *second)]
    assert versions == ["1", "2"]
    assert [n.cseq[0] for n in (*first, *second)] == [2, 3]


def test_unsubscribing_in_the_dialog_gets_the_final_notify(office: Office) -> None:
    office.subscribe()
    office.lamp()
    ok = office.send_in_dialog("t1", expires=0)  # not challenged: the dialog names it
    assert (ok.status, ok.header("expires")) == (200, "0")
    office.loop.advance(0)
    final = office.take_notifies()
    assert [n.header("subscription-state") for n in final] == ["terminated;reason=timeout"]
    office.core.receive(answer(final[0], 200, "OK"), WATCHER)
    assert office.send_in_dialog("t1", expires=600).status == 481


def test_an_answered_notify_leaves_only_its_timer_k_on_the_loop(office: Office) -> None:
    """Its Timers E and F are taken back when the 200 arrives: a NOTIFY per watcher
    per change must not leave two stale timers each to fire on the loop."""
    office.subscribe()
    office.loop.advance(0)
    notifies = office.take_notifies()
    office.core.receive(answer(notifies[0], 200, "OK"), WATCHER)
    waiting = [timer._args[1] for queue in office.core.timer_queues._queues.values()
               for timer in queue.timers
               if timer.pending and getattr(timer._callback, "__name__", "") == "_client_timer"]
    assert waiting == ["K"]


def test_watchers_notified_together_rest_on_one_timer_and_hear_the_next_change(
        office: Office) -> None:
    office.subscribe()
    office.subscribe()  # a second subscription of the same phone: a dialog of its own
    office.loop.advance(0)
    for notify in office.take_notifies():
        office.core.receive(answer(notify, 200, "OK"), WATCHER)
    office.loop.advance(LAMP_NOTIFY_MIN_INTERVAL)
    branches = office.ring()
    ring(office, branches)
    office.loop.advance(0)
    notifies = office.take_notifies()
    assert len(notifies) == 2
    for notify in notifies:
        office.core.receive(answer(notify, 200, "OK"), WATCHER)
    resting = [handle for _, _, handle in office.loop._queue
               if not handle.cancelled() and getattr(handle.callback, "__name__", "") == "_rested"]
    assert len(resting) == 1
    office.core.receive(answer(branches["127.0.0.2"], 200, "OK", to_tag="a",
                               extra="\r\nContact: <sip:a@127.0.0.2:5070>"), ALICE_HOP)
    office.loop.advance(LAMP_NOTIFY_MIN_INTERVAL)  # both rested: the answer goes to each
    assert [dialogs(notify) for notify in office.take_notifies()] == [
        [("a", "confirmed"), ("b", "terminated")]] * 2


def test_a_notify_that_times_out_ends_the_subscription(office: Office) -> None:
    office.subscribe()
    office.loop.advance(0)
    assert len(office.take_notifies()) == 1
    office.loop.advance(40.0)  # Timer F: the NOTIFY is never answered
    office.take_notifies()  # its retransmissions
    office.ring()
    office.loop.advance(0)
    assert office.take_notifies() == []
    summary = office.lamps.summary()
    assert (summary["notify_failed"], summary["subscriptions_ended"]) == (1, 1)


def test_a_stranger_gets_403_and_other_packages_are_not_the_lamps_business(
        office: Office) -> None:
    refused = office.subscribe("dana", "dana-secret")
    assert (refused.status, refused.reason) == (
        403, "Forbidden (dana is not alice nor an accepted delegate)")
    # message-summary for the line is not a lamp: routed as before (challenged as a
    # proxy challenges, 407), never answered by the lamps.
    other = office.subscribe(event="message-summary")
    assert other.status == 407


def test_the_drain_deactivates_every_subscription_and_waits_for_the_answers(
        office: Office) -> None:
    office.subscribe()
    office.lamp()
    office.lamps.stop()
    assert office.lamps.notifying == 1
    final = office.take_notifies()
    assert [n.header("subscription-state") for n in final] == ["terminated;reason=deactivated"]
    office.core.receive(answer(final[0], 200, "OK"), WATCHER)
    assert office.lamps.notifying == 0
    assert office.subscribe().status == 503
    assert office.lamps.summary()["notify_delay_p99_ms"] == 0.0  # a fake clock stands still


def test_a_stranger_gets_the_same_challenge_for_lines_that_exist_and_that_do_not(
        office: Office) -> None:
    # Under untrusted_calls: refuse, nothing unauthenticated may tell which lines exist.
    answers = []
    for index, uri in enumerate((LINE_URI, "sip:alice@vipproxy.test",
                                 "sip:9999@vipproxy.test", "sip:nobody@vipproxy.test")):
        office.core.receive(_subscribe(uri, f"z9hG4bKprobe{index}"), WATCHER)
        final = office._final()
        answers.append((final.status, final.reason,
                        [name for name, _ in final.headers if "Authenticate" in name]))
    assert len(set(map(repr, answers))) == 1 and answers[0][:2] == (401, "Unauthorized")
    assert set(answers[0][2]) == {"WWW-Authenticate"}


def test_a_lamp_subscribe_relayed_by_a_trusted_peer_is_challenged_too(office: Office) -> None:
    office.core.receive(_subscribe(LINE_URI, "z9hG4bKedge"), CALLER)
    finals = [m for _, m in office.link.take() if isinstance(m, Response) and m.status >= 200]
    assert [m.status for m in finals] == [401]  # the watcher's own credentials are needed


def test_another_request_to_our_contact_belongs_to_no_dialog(office: Office) -> None:
    info = _subscribe(OUR_CONTACT, "z9hG4bKinfo", to_tag="t1").replace(
        b"SUBSCRIBE", b"INFO")
    office.core.receive(info, WATCHER)
    assert office._final().status == 481
