"""A request too large for UDP goes over TCP (RFC 3261 §18.1.1), through the real
ProxyCore over the fake link: the proxy listens on UDP and TCP, the target is
named without a transport (UDP), and the path MTU is unknown, so over 1300 bytes
the branch goes to the same address over TCP, and back to UDP only when the
connection cannot be made."""

from __future__ import annotations

from fakelink import PROXY, PROXY_INTERFACES, Link, answer, invite, make_core

from proxy.core.branching import BranchSettings, build_branch
from proxy.core.local import Interface, LocalAddresses
from proxy.policy.plan import Target, TargetRole
from proxy.sip.hop import NO_NAMES, Hop
from proxy.sip.message import Request, Response, parse_message

ROUTE = """
listen:
  - {transport: udp, host: 127.0.0.1, port: 5060}
  - {transport: tcp, host: 127.0.0.1, port: 5060}
untrusted_calls: local_lines
routes:
  "2000":
    stages: [{targets: ["sip:desk@127.0.0.2:5070"], timeout: 60s}]
"""
CALLER = Hop("UDP", "127.0.0.9", 5090)
OVER_UDP = Hop("UDP", "127.0.0.2", 5070)
OVER_TCP = Hop("TCP", "127.0.0.2", 5070)
# A video offer with its ICE candidates and a dozen codecs is this size, easily.
LARGE = f"X-Offer: {'a' * 1400}\r\n"


def _requests(link: Link) -> list[tuple[Hop, Request]]:
    return [(hop, message) for hop, message in link.take() if isinstance(message, Request)]


def _finals(sent: list[tuple[Hop, object]]) -> list[int]:
    return [m.status for _, m in sent if isinstance(m, Response) and m.status >= 200]


def test_a_request_over_1300_bytes_goes_to_the_target_over_tcp() -> None:
    core, _, link = make_core(ROUTE)
    core.receive(invite(extra=LARGE), CALLER)
    [(hop, forwarded)] = _requests(link)
    assert hop == OVER_TCP
    assert forwarded.top_via.startswith("SIP/2.0/TCP 127.0.0.1:5060;")
    # RFC 5658: the call changes transport, so both of our addresses are recorded.
    assert [value.split(";")[1] for value in forwarded.header_values("record-route")] == [
        "transport=tcp", "transport=udp"]
    assert len(forwarded.serialize()) > 1300


def test_a_small_request_stays_on_udp() -> None:
    core, _, link = make_core(ROUTE)
    core.receive(invite(), CALLER)
    [(hop, forwarded)] = _requests(link)
    assert hop == OVER_UDP
    assert forwarded.top_via.startswith("SIP/2.0/UDP ")


def test_a_connection_that_cannot_be_made_sends_the_request_over_udp() -> None:
    core, _, link = make_core(ROUTE)
    core.receive(invite(extra=LARGE), CALLER)
    [(_, over_tcp)] = _requests(link)
    core.transport_failed(OVER_TCP, "Connection refused")
    sent = link.take()
    [over_udp] = [m for h, m in sent if h == OVER_UDP and isinstance(m, Request)]
    assert not _finals(sent)  # the caller still waits
    assert over_udp.top_via.startswith("SIP/2.0/UDP ")
    assert over_udp.via.branch != over_tcp.via.branch  # a new transaction (RFC 3263 §4.3)
    core.receive(answer(over_udp, 200, "OK"), OVER_UDP)
    assert _finals(link.take()) == [200]
    assert core.stats["branch_failovers"] == 1


def test_a_503_over_tcp_is_the_targets_answer_not_a_reason_to_try_udp() -> None:
    core, _, link = make_core(ROUTE)
    core.receive(invite(extra=LARGE), CALLER)
    [(_, over_tcp)] = _requests(link)
    core.receive(answer(over_tcp, 503, "Service Unavailable"), OVER_TCP)
    sent = link.take()
    assert [m.method for h, m in sent if isinstance(m, Request)] == ["ACK"]  # to TCP only
    assert _finals(sent) == [500]  # §16.7 step 6: a 503 from downstream goes up as 500
    assert core.stats["branch_failovers"] == 0


def test_the_limit_zero_keeps_every_request_on_udp() -> None:
    core, _, link = make_core(ROUTE.replace("untrusted_calls:",
                                            "limits: {udp_request_limit: 0}\nuntrusted_calls:"))
    core.receive(invite(extra=LARGE), CALLER)
    [(hop, _)] = _requests(link)
    assert hop == OVER_UDP


def test_without_a_tcp_listener_a_large_request_stays_on_udp() -> None:
    core, _, link = make_core(ROUTE, interfaces=(Interface("UDP", PROXY.host, PROXY.port),))
    core.receive(invite(extra=LARGE), CALLER)
    [(hop, _)] = _requests(link)
    assert hop == OVER_UDP


def test_a_phone_reached_down_its_flow_keeps_it() -> None:
    """A phone behind a NAT lets in only what comes down the flow it registered
    over (RFC 5626 §5.3): a connection of ours would not reach it."""
    request = parse_message(invite(extra=LARGE))
    assert isinstance(request, Request)
    phone = Target("sip:alice@192.168.1.20:5060", TargetRole.DELEGATOR, "alice",
                   next_hop="sip:127.0.0.2:5070")
    settings = BranchSettings(request.uri, PROXY_INTERFACES[0], False, None, None)
    outgoing = build_branch(request, phone, None, settings, LocalAddresses(PROXY_INTERFACES),
                            "z9hG4bKflow", NO_NAMES, udp_request_limit=1300)
    assert outgoing.hop == OVER_UDP
    assert outgoing.request.wire_size() > 1300
