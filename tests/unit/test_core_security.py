"""The security model through the real ProxyCore over the fake link: who may send
what, and what they get (README, "Security model")."""

from __future__ import annotations

import pytest
from fakelink import CALLER, TOKENS, answer, cancel_for, invite, make_core
from test_core_fork import CALL_TOKEN, UP, A, B, _caller_bye, _forwarded

from proxy.core.events import (
    BranchResponded,
    BranchRung,
    CallAnswered,
    CallEvent,
    CallRouted,
    CallSettled,
    InDialogAnswered,
)
from proxy.policy.plan import TargetRole
from proxy.sip.hop import Hop
from proxy.sip.message import Request, Response, parse_message

STRANGER = Hop("UDP", "127.0.0.66", 5090)
A_HOP = Hop("UDP", "127.0.0.2", 5070)
B_HOP = Hop("UDP", "127.0.0.3", 5070)

BASE = """
listen: [{transport: udp, host: 127.0.0.1, port: 5060}]
trusted_peers: ["127.0.0.9/32"]
users:
  alice: {name: Alice, lines: ["1000"], endpoints: ["sip:alice@127.0.0.10:5060"]}
routes:
  "2000":
    stages:
      - {targets: ["sip:a@127.0.0.2:5070", "sip:b@127.0.0.3:5070"], timeout: 20s}
  "7000":
    stages:
      - {targets: ["sip:x@127.0.0.2:5070", "sip:gw@[::1]:5060"], timeout: 20s}
"""


def _finals(sent: list[tuple[Hop, object]]) -> list[tuple[str, int, str]]:
    return [(f"{hop.host}:{hop.port}", m.status, m.reason) for hop, m in sent
            if isinstance(m, Response) and m.status >= 200]


def _requests(sent: list[tuple[Hop, object]]) -> list[str]:
    return [f"{hop.host}:{hop.port} {m.method}" for hop, m in sent if isinstance(m, Request)]


def test_untrusted_callers_get_the_same_403_for_lines_that_exist_and_lines_that_do_not() -> None:
    core, _, link = make_core(BASE)
    answers = []
    for number, branch in (("1000", "z9hG4bKexists"), ("9999", "z9hG4bKmissing")):
        core.receive(invite(f"sip:{number}@127.0.0.1:5060", branch=branch), STRANGER)
        sent = link.take()
        assert _requests(sent) == []  # nothing was forwarded, nothing looked up
        answers.append([(status, reason) for _, status, reason in _finals(sent)])
    assert answers == [[(403, "Forbidden")], [(403, "Forbidden")]]
    assert core.stats["refused_untrusted_source"] == 2


def test_refusals_are_counted_always_and_logged_once_per_source_per_minute() -> None:
    core, loop, _ = make_core(BASE)
    logged: list[tuple[str, dict[str, object]]] = []
    core._log = _Recorder(logged)  # type: ignore[attr-defined]
    for index in range(5):
        core.receive(invite(branch=f"z9hG4bKflood{index}"), STRANGER)
    loop.advance(61.0)
    core.receive(invite(branch="z9hG4bKlater"), STRANGER)
    refused = [fields for event, fields in logged if event == "request.refused"]
    assert len(refused) == 2 and core.stats["refused_untrusted_source"] == 6


def test_local_lines_lets_a_stranger_ring_a_line_but_not_route_anywhere_else() -> None:
    core, _, link = make_core(BASE + "untrusted_calls: local_lines\n")
    core.receive(invite("sip:1000@127.0.0.1:5060"), STRANGER)
    assert _requests(link.take()) == ["127.0.0.10:5060 INVITE"]
    foreign = invite("sip:1000@127.0.0.1:5060", branch="z9hG4bKforeign",
                     extra="Route: <sip:127.0.0.77:5060;lr>\r\n")
    core.receive(foreign, STRANGER)
    sent = link.take()
    assert _requests(sent) == []
    assert [status for _, status, _ in _finals(sent)] == [403]


def test_a_phone_may_route_only_to_configured_targets() -> None:
    core, _, link = make_core(BASE)
    phone = Hop("UDP", "127.0.0.10", 5060)  # alice's endpoint: she is known by it
    to_target = invite("sip:x@127.0.0.2:5070", extra="Route: <sip:127.0.0.2:5070;lr>\r\n")
    core.receive(to_target, phone)
    assert _requests(link.take()) == [f"{A} INVITE"]
    elsewhere = invite("sip:x@127.0.0.2:5070", branch="z9hG4bKelse",
                       extra="Route: <sip:127.0.0.2:5999;lr>\r\n")
    core.receive(elsewhere, phone)
    assert [status for _, status, _ in _finals(link.take())] == [403]


@pytest.mark.parametrize(
    ("token", "forwarded"),
    # A token that is not even ASCII is as wrong as any other (not a 500).
    [(CALL_TOKEN, True), ("0" * 20, False), ("", False), ("\u00e9" * 20, False)],
)
def test_in_dialog_requests_need_the_route_token_we_minted(token: str, forwarded: bool) -> None:
    core, _, link = make_core(BASE)
    bye = _caller_bye("z9hG4bKbye").replace(f";vpt={CALL_TOKEN}".encode(),
                                            f";vpt={token}".encode() if token else b"")
    core.receive(bye, STRANGER)
    sent = link.take()
    if forwarded:
        assert _requests(sent) == [f"{A} BYE"]
    else:
        assert _requests(sent) == []
        assert _finals(sent) == [(f"{STRANGER.host}:{STRANGER.port}", 403,
                                  "Forbidden (route set not issued by this proxy)")]


def test_the_callee_side_is_recognised_by_its_to_tag() -> None:
    core, _, link = make_core(BASE)
    # The callee's BYE: From and To swap, the caller's tag is now the To tag.
    bye = (f"BYE sip:carol@127.0.0.9:5090 SIP/2.0\r\n"
           "Via: SIP/2.0/UDP 127.0.0.2:5070;branch=z9hG4bKcalleebye\r\n"
           f"Route: <sip:127.0.0.1:5060;transport=udp;lr;vpt={CALL_TOKEN}>\r\n"
           "Max-Forwards: 70\r\nFrom: <sip:2000@127.0.0.1>;tag=a\r\n"
           "To: <sip:carol@127.0.0.9>;tag=caller-tag\r\nCall-ID: call-1@127.0.0.9\r\n"
           "CSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n").encode()
    core.receive(bye, A_HOP)
    assert _requests(link.take()) == [f"{UP} BYE"]


def test_a_response_from_a_third_address_is_not_relayed() -> None:
    core, _, link = make_core(BASE)
    core.receive(invite(), CALLER)
    branches = _forwarded(link)
    core.receive(answer(branches[A], 200, "OK", to_tag="forged"), STRANGER)
    assert link.take() == []
    assert core.stats["dropped_foreign_response"] == 1
    core.receive(answer(branches[A], 200, "OK", to_tag="a"), A_HOP)
    assert f"{UP} 200" in [f"{h.host}:{h.port} {getattr(m, 'status', '')}"
                           for h, m in link.take()]


def test_branch_ids_carry_a_random_part() -> None:
    ids = set()
    for _ in range(2):
        core, _, link = make_core(BASE)
        core.receive(invite(), CALLER)
        ids |= {m.top_via for m in _forwarded(link).values()}
    assert len(ids) == 4  # the same call through two proxies: no branch repeats


def test_a_cancel_from_a_third_address_does_not_cancel_the_call() -> None:
    core, _, link = make_core(BASE)
    request = invite()
    core.receive(request, CALLER)
    branches = _forwarded(link)
    core.receive(answer(branches[A], 180, "Ringing", to_tag="a"), A_HOP)
    link.take()
    core.receive(cancel_for(request), STRANGER)
    sent = link.take()
    assert _requests(sent) == [] and [s for _, s, _ in _finals(sent)] == [481]
    core.receive(cancel_for(request), CALLER)
    assert f"{A} CANCEL" in _requests(link.take())


def test_maddr_is_honoured_for_trusted_peers_only() -> None:
    core, _, link = make_core(BASE)
    via_maddr = ("Via: SIP/2.0/UDP 127.0.0.66:5090;branch=z9hG4bKm;maddr=127.0.0.99\r\n")
    options = ("OPTIONS sip:127.0.0.1:5060 SIP/2.0\r\n" + via_maddr +
               "Max-Forwards: 70\r\nFrom: <sip:x@h>;tag=1\r\nTo: <sip:y@h>\r\n"
               "Call-ID: m1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n").encode()
    core.receive(options, STRANGER)
    assert [hop.host for hop, _ in link.take()] == ["127.0.0.66"]
    core.receive(options.replace(b"127.0.0.66", b"127.0.0.9").replace(b"m1", b"m2"), CALLER)
    assert [hop.host for hop, _ in link.take()] == ["127.0.0.99"]


def test_a_target_the_proxy_cannot_reach_gets_a_503_that_says_why_never_a_500() -> None:
    core, _, link = make_core(BASE)  # no IPv6 listener for the [::1] target of 7000
    core.receive(invite("sip:7000@127.0.0.1:5060"), CALLER)
    branches = _forwarded(link)
    core.receive(answer(branches[A], 503, "Service Unavailable", to_tag="x"), A_HOP)
    finals = _finals(link.take())
    assert [(status, reason) for _, status, reason in finals] == [
        (503, "Service Unavailable (no UDP IPv6 listener to reach ::1)")]
    core.receive(invite("sip:x@pbx.example.com", branch="z9hG4bKdns",
                        extra="Route: <sip:pbx.example.com;lr>\r\n"), CALLER)
    finals = _finals(link.take())
    assert [status for _, status, _ in finals] == [503]
    assert "not a host name the configuration names" in finals[0][2]


def test_a_malformed_route_gets_400_naming_it() -> None:
    core, _, link = make_core(BASE)
    core.receive(invite("sip:x@127.0.0.2:5070", extra="Route: <sip:@@;lr>\r\n"), CALLER)
    finals = _finals(link.take())
    assert [status for _, status, _ in finals] == [400] and "Malformed" in finals[0][2]


def test_ending_the_drain_answers_every_caller_and_cancels_every_ringing_phone() -> None:
    core, _, link = make_core(BASE)
    core.receive(invite(), CALLER)
    branches = _forwarded(link)
    for request, hop in ((branches[A], A_HOP), (branches[B], B_HOP)):
        core.receive(answer(request, 180, "Ringing", to_tag=hop.host), hop)
    link.take()
    core.start_draining()
    assert core.end_calls_in_progress("proxy shutting down") == 1
    sent = link.take()
    assert sorted(_requests(sent)) == [f"{A} CANCEL", f"{B} CANCEL"]
    assert [(s, r) for _, s, r in _finals(sent)] == [
        (503, "Service Unavailable (proxy shutting down)")]


def test_a_call_publishes_its_events_in_order() -> None:
    core, loop, link = make_core(BASE)
    events: list[CallEvent] = []
    core.events.subscribe(events.append)
    core.receive(invite(), CALLER)
    branches = _forwarded(link)
    core.receive(answer(branches[B], 486, "Busy Here", to_tag="b"), B_HOP)
    core.receive(answer(branches[A], 200, "OK", to_tag="a"), A_HOP)
    core.receive(_caller_bye("z9hG4bKbye"), CALLER)
    core.receive(answer(_forwarded(link)[A], 200, "OK"), A_HOP)
    kinds = [type(event).__name__ for event in events]
    assert kinds == ["CallRouted", "BranchRung", "BranchRung", "BranchResponded",
                     "BranchResponded", "CallAnswered", "CallSettled", "InDialogAnswered"]
    routed, busy, answered, settled, bye = events[0], events[3], events[5], events[6], events[7]
    assert isinstance(routed, CallRouted) and routed.decision is not None
    assert routed.source.hop == CALLER
    assert isinstance(events[1], BranchRung) and events[1].role is TargetRole.ROUTE
    assert isinstance(busy, BranchResponded) and busy.response.status == 486
    assert isinstance(answered, CallAnswered) and answered.target == "sip:a@127.0.0.2:5070"
    assert isinstance(settled, CallSettled) and settled.status == 200
    assert isinstance(bye, InDialogAnswered) and bye.request.method == "BYE"
    assert bye.status == 200
    assert all(event.at == loop.now for event in events)


def test_a_service_can_originate_a_request_and_hears_its_final_response() -> None:
    core, loop, link = make_core(BASE)
    finals: list[int] = []
    notify = parse_message(
        b"NOTIFY sip:bob@127.0.0.2:5070 SIP/2.0\r\n"
        b"Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKnotify1\r\n"
        b"Max-Forwards: 70\r\nFrom: <sip:alice@127.0.0.1>;tag=n\r\nTo: <sip:bob@x>;tag=s\r\n"
        b"Call-ID: sub-1\r\nCSeq: 1 NOTIFY\r\nEvent: dialog\r\nContent-Length: 0\r\n\r\n")
    assert isinstance(notify, Request)
    core.originate(notify, A_HOP, lambda response: finals.append(response.status))
    sent = link.take()
    assert _requests(sent) == [f"{A} NOTIFY"]
    core.receive(answer(sent[0][1], 200, "OK"), A_HOP)
    core.originate(notify.with_headers(tuple(
        (n, v.replace("notify1", "notify2")) for n, v in notify.headers)), B_HOP,
        lambda response: finals.append(response.status))
    loop.advance(40.0)  # Timer F: the second one is never answered
    assert finals == [200, 408]


class _Recorder:
    """A logger that keeps (event, fields) of every call."""

    def __init__(self, into: list[tuple[str, dict[str, object]]]) -> None:
        self._into = into

    def __getattr__(self, level: str):  # type: ignore[no-untyped-def]
        return lambda event, **fields: self._into.append((event, fields))


def test_route_tokens_verify_for_their_call_tag_and_flow_and_nothing_else() -> None:
    token = TOKENS.mint("call", "from-tag")
    assert TOKENS.verify(token, "call", "from-tag")
    assert not TOKENS.verify(token, "call", None)
    assert not TOKENS.verify(token, "call", "other")
    assert not TOKENS.verify(token, "other-call", "from-tag")
    assert not TOKENS.verify("0" * len(token), "call", "from-tag")
    flow_token = TOKENS.mint("call", "from-tag", "udp-127.0.0.50-5070")
    assert flow_token != token
    assert TOKENS.verify(flow_token, "call", "from-tag", "udp-127.0.0.50-5070")
    assert not TOKENS.verify(flow_token, "call", "from-tag", "udp-127.0.0.66-5070")
    assert not TOKENS.verify(token, "call", "from-tag", "udp-127.0.0.50-5070")
