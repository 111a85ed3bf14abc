"""Routing corner cases through the real ProxyCore over the fake link (RFC 3261 §16.4,
§16.6, §16.7, §18; RFC 5658; RFC 6026)."""

from __future__ import annotations

import pytest
from fakelink import CALLER, PROXY, PROXY_INTERFACES, TOKENS, Link, answer, invite, make_core

from proxy.core import routing
from proxy.core.local import Interface, LocalAddresses
from proxy.sip.hop import Hop
from proxy.sip.message import Request, Response

CONFIG = """
listen: [{transport: udp, host: 127.0.0.1, port: 5060}]
trusted_peers: ["127.0.0.9/32"]
routes:
  "2000":
    stages:
      - {targets: ["sip:a@127.0.0.2:5070", "sip:b@127.0.0.3:5070"], timeout: 20s}
  "3000":
    stages:
      - {targets: ["sip:a@127.0.0.2:5070;transport=tcp"], timeout: 20s}
  "6000":
    stages:
      - {targets: ["sip:a@[::1]:5070"], timeout: 20s}
"""


def _finals(sent: list[tuple[Hop, object]]) -> list[int]:
    return [m.status for _, m in sent if isinstance(m, Response) and m.status >= 200]


def _in_dialog(method: str, uri: str, route: str) -> bytes:
    return (
        f"{method} {uri} SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 127.0.0.9:5090;branch=z9hG4bKdialog1\r\n"
        f"Route: {route}\r\n"
        "Max-Forwards: 70\r\nFrom: <sip:carol@127.0.0.9>;tag=caller-tag\r\n"
        "To: <sip:2000@127.0.0.1>;tag=a\r\nCall-ID: call-1@127.0.0.9\r\n"
        f"CSeq: 2 {method}\r\nContent-Length: 0\r\n\r\n"
    ).encode()


def test_strict_router_next_hop_gets_the_request_and_the_uri_moves_to_the_route_set() -> None:
    core, _, link = make_core(CONFIG)
    core.receive(_in_dialog("BYE", "sip:bob@127.0.0.8:5070", "<sip:127.0.0.5:5070>"), CALLER)
    sent = link.take()
    assert [(h.host, h.port) for h, _ in sent] == [("127.0.0.5", 5070)]  # §16.6 step 7
    forwarded = sent[0][1]
    assert isinstance(forwarded, Request)
    assert forwarded.uri == "sip:127.0.0.5:5070"  # §16.6 step 6
    assert forwarded.header_values("route") == ["<sip:bob@127.0.0.8:5070>"]


def test_a_non_invite_fork_sends_one_final_response_upstream() -> None:
    core, _, link = make_core(CONFIG)
    message = invite("sip:2000@127.0.0.1:5060").replace(b"INVITE sip", b"MESSAGE sip").replace(
        b"CSeq: 1 INVITE", b"CSeq: 1 MESSAGE")
    core.receive(message, CALLER)
    branches = {f"{h.host}": m for h, m in link.take() if isinstance(m, Request)}
    for host, tag in (("127.0.0.2", "a"), ("127.0.0.3", "b")):
        core.receive(answer(branches[host], 200, "OK", to_tag=tag), Hop("UDP", host, 5070))
    assert _finals(link.take()) == [200]  # §16.7 step 5: more 2xx only for INVITE


def test_unusable_route_header_gets_400_not_a_stuck_transaction() -> None:
    core, _, link = make_core(CONFIG)
    data = invite("sip:127.0.0.1:5060", extra="Route: <sip:127.0.0.1:5060;lr>, garbage<<\r\n")
    core.receive(data, CALLER)
    assert _finals(link.take()) == [400]
    assert core.in_progress == 0


def test_a_non_ascii_max_breadth_digit_does_not_break_the_fork() -> None:
    core, _, link = make_core(CONFIG)
    core.receive(invite("sip:2000@127.0.0.1:5060", extra="Max-Breadth: ²\r\n"), CALLER)
    sent = link.take()
    assert [m.method for _, m in sent if isinstance(m, Request)] == ["INVITE", "INVITE"]
    assert core.stats["internal_errors"] == 0


def test_content_length_is_added_when_a_udp_request_goes_onto_tcp() -> None:
    core, _, link = make_core(CONFIG)
    data = invite("sip:3000@127.0.0.1:5060").replace(b"Content-Length: 4\r\n", b"")
    core.receive(data, CALLER)
    forwarded = [(h, m) for h, m in link.take() if isinstance(m, Request)]
    assert [h.transport for h, _ in forwarded] == ["TCP"]
    assert forwarded[0][1].header("content-length") == "4"  # §18.3: streams need it


def test_an_ipv6_target_is_reached_from_the_ipv6_interface_with_double_record_route() -> None:
    v6 = (*PROXY_INTERFACES, Interface("UDP", "[::1]", 5060))
    core, _, link = make_core(CONFIG, v6)
    core.receive(invite("sip:6000@127.0.0.1:5060"), CALLER)
    forwarded = [(h, m) for h, m in link.take() if isinstance(m, Request)]
    hop, request = forwarded[0]
    assert (hop.host, hop.port) == ("::1", 5070)
    assert request.top_via.startswith("SIP/2.0/UDP [::1]:5060;")
    # RFC 5658: the callee's side first, the caller's side below it.
    token = TOKENS.mint("call-1@127.0.0.9", "caller-tag")
    assert request.header_values("record-route") == [
        f"<sip:[::1]:5060;transport=udp;lr;vpt={token}>",
        f"<sip:{PROXY.host}:{PROXY.port};transport=udp;lr;vpt={token}>"]


def test_a_response_matching_no_transaction_is_dropped() -> None:
    core, _, link = make_core(CONFIG)
    stray = (
        b"SIP/2.0 200 OK\r\n"
        b"Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKforged\r\n"
        b"Via: SIP/2.0/UDP 127.0.0.77:5060;branch=z9hG4bKvictim\r\n"
        b"From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>;tag=2\r\nCall-ID: stray\r\n"
        b"CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
    )
    core.receive(stray, Hop("UDP", "127.0.0.2", 5070))
    assert link.take() == []  # RFC 6026: no stateless forwarding, no reflection
    assert core.stats["dropped_stray_response"] == 1


def test_a_failure_part_way_through_a_fork_cancels_what_it_started(monkeypatch) -> None:
    real_send = Link.send
    invites = []

    # A bug while the second branch goes out (its send blows up). The hook is the
    # test's link, not a function of the core's modules, which a compiled core
    # calls directly, so that the test runs on both builds.
    def failing_second(link: Link, data: bytes, hop: Hop, fallback: Hop | None = None) -> None:
        if data.startswith(b"INVITE "):
            invites.append(hop)
            if len(invites) == 2:
                raise RuntimeError("a bug while sending the second branch")
        real_send(link, data, hop, fallback)

    monkeypatch.setattr(Link, "send", failing_second)
    core, _, link = make_core(CONFIG)
    core.receive(invite("sip:2000@127.0.0.1:5060"), CALLER)
    sent = link.take()
    first = next(m for _, m in sent if isinstance(m, Request) and m.method == "INVITE")
    assert _finals(sent) == [500]
    core.receive(answer(first, 180, "Ringing", to_tag="a"), Hop("UDP", "127.0.0.2", 5070))
    after = link.take()
    # The branch that was already ringing is cancelled, and nothing reaches the caller.
    assert [m.method for _, m in after if isinstance(m, Request)] == ["CANCEL"]
    assert [m for _, m in after if isinstance(m, Response)] == []
    assert core.stats["internal_errors"] == 1


_LOCAL = LocalAddresses((*PROXY_INTERFACES, Interface("UDP", "[::1]", 5062),
                         # The first of several workers marks its dialogs.
                         Interface("UDP", "127.0.0.1", 5064, first_worker=True)))
_FLOWS = (("", ""), ("udp-127.0.0.9-5090", ""), ("", "tcp-[__1]-40000"),
          ("udp-127.0.0.9-5090", "udp-127.0.0.8-5070"))


@pytest.mark.parametrize("value", [
    *(interface.record_route(TOKENS.mint("call", "tag", *flows), *flows)
      for interface in _LOCAL.interfaces for flows in _FLOWS),
    "<sip:127.0.0.1:5060;transport=udp;lr;vpt=>",  # no token
    "<sip:127.0.0.1:5060;transport=udp;lr;vpt=ab;vpt=cd>",  # two: the first counts
    "<sip:127.0.0.1:5060;transport=udp;lr;vpc=a;vpf=b;vpt=cd>",  # not in our order
    "<sip:127.0.0.1:5060;transport=udp;lr;vpf=a;vpf=b;vpt=cd>",
    "<sip:127.0.0.1:5060;transport=udp;lr;vpf=;vpt=cd>",
    "<sip:127.0.0.1:5060;transport=udp;lr;x=1;vpt=cd>",
    "<sip:127.0.0.1:5060;transport=udp;lr;vpt=ab?x=y>",
    "<sip:127.0.0.1:5060;transport=udp;lr;vpt=ab>;x=y",
    "<sip:127.0.0.1:5060;transport=udp;lr;vpt=a b>",
    "<sip:127.0.0.1:5060;transport=udp;lr;vpt=a%62>",
    "<SIP:127.0.0.1:5060;transport=udp;lr;vpt=ab>",  # ours, not as we write it
    "<sip:127.0.0.1:5061;transport=udp;lr;vpt=ab>",  # not ours
    "<sip:127.0.0.1:5064;transport=udp;lr;vpw=1;vpt=ab>",  # no worker but the first marks
    "<sip:127.0.0.1:5064;transport=udp;lr;vpf=a;vpw=0;vpt=ab>",  # not in our order
])
def test_our_own_route_entry_reads_as_its_full_parse(value: str) -> None:
    """The fast path for Route entries as we write them gives the full reading."""
    fast = _LOCAL.own_route_params(value)
    if fast is not None:
        ours = routing._our_route(value, _LOCAL)
        assert ours is not None and routing._params_of(ours) == fast


def test_our_record_route_entries_take_the_fast_path() -> None:
    for flow, caller_flow in _FLOWS:
        token = TOKENS.mint("call", "tag", flow, caller_flow)
        assert [_LOCAL.own_route_params(interface.record_route(token, flow, caller_flow))
                for interface in _LOCAL.interfaces] == [
                    *[(token, flow, caller_flow, False)] * 3, (token, flow, caller_flow, True)]
