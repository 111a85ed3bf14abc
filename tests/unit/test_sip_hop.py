"""Where responses and requests go (RFC 3261 §18.2.2, RFC 3581, RFC 3263 without DNS)."""

from __future__ import annotations

import pytest
from sipfactory import parse_request

from proxy.sip.errors import SipParseError
from proxy.sip.hop import Hop, hop_for_uri, maddr_hop, reconnect_hop, response_hop
from proxy.sip.message import make_response
from proxy.sip.uri import parse_uri
from proxy.sip.via import parse_via

UDP_SOURCE = Hop("UDP", "127.0.0.9", 40000)


@pytest.mark.parametrize(
    ("via", "expected"),
    [
        ("SIP/2.0/UDP 127.0.0.9;branch=z9hG4bKa", ("127.0.0.9", 5060)),  # default port
        ("SIP/2.0/UDP 127.0.0.9:5070;branch=z9hG4bKa", ("127.0.0.9", 5070)),  # sent-by port
        ("SIP/2.0/UDP 127.0.0.9;branch=z9hG4bKa;rport=40000", ("127.0.0.9", 40000)),  # RFC 3581
        ("SIP/2.0/UDP pc.example;branch=z9hG4bKa;received=127.0.0.9", ("127.0.0.9", 5060)),
        # maddr is honoured through maddr_hop only, for trusted senders
        ("SIP/2.0/UDP 127.0.0.9;branch=z9hG4bKa;maddr=127.0.0.44", ("127.0.0.9", 5060)),
        ("SIP/2.0/UDP pc.example:5080;branch=z9hG4bKa", ("127.0.0.9", 5080)),  # no DNS
    ],
)
def test_udp_responses_follow_18_2_2(via: str, expected: tuple[str, int]) -> None:
    hop = response_hop(parse_via(via), UDP_SOURCE)
    assert (hop.host, hop.port) == expected


def test_maddr_names_the_hop_only_through_maddr_hop() -> None:
    via = parse_via("SIP/2.0/UDP 127.0.0.9;branch=z9hG4bKa;maddr=127.0.0.44")
    assert maddr_hop(via, UDP_SOURCE) == Hop("UDP", "127.0.0.44", 5060)
    assert maddr_hop(parse_via("SIP/2.0/UDP 127.0.0.9;branch=z9hG4bKa"), UDP_SOURCE) is None


def test_tcp_responses_use_the_connection_else_received_and_sent_by_port() -> None:
    source = Hop("TCP", "127.0.0.9", 41000)
    via = parse_via("SIP/2.0/TCP 127.0.0.9:5090;branch=z9hG4bKa;received=127.0.0.9")
    assert response_hop(via, source) == source
    assert reconnect_hop(via, source) == Hop("TCP", "127.0.0.9", 5090)


@pytest.mark.parametrize(
    ("uri", "reason"),
    [("sip:a@pbx.example", "not a host name the configuration names"), ("sips:a@127.0.0.1", "TLS"),
     ("sip:a@127.0.0.1;transport=sctp", "Unsupported transport")],
)
def test_targets_the_proxy_cannot_reach_are_refused(uri: str, reason: str) -> None:
    with pytest.raises(SipParseError) as caught:
        hop_for_uri(parse_uri(uri))
    assert reason in caught.value.reason


def test_a_tag_uri_parameter_is_not_a_to_tag() -> None:
    request = parse_request(
        b"INVITE sip:9999@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.9;branch=z9hG4bKa\r\n"
        b"From: <sip:a@127.0.0.9>;tag=f\r\nTo: <sip:9999@127.0.0.1;tag=zz>\r\n"
        b"Call-ID: c\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    )
    response = make_response(request, 404, "Not Found", to_tag="proxy")
    assert response.header("to") == "<sip:9999@127.0.0.1;tag=zz>;tag=proxy"  # §8.2.6.2
