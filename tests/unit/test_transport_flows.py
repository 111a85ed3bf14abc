"""Which flows can still reach a registered phone (RFC 5626 §5.3)."""

from __future__ import annotations

from proxy.sip.hop import Hop
from proxy.transport.dispatch import Transports
from proxy.transport.tcp import TcpTransport


def test_udp_flows_are_always_open_tcp_ones_only_while_connected() -> None:
    transports = Transports()
    assert transports.flow_open(Hop("UDP", "127.0.0.50", 5070))
    assert not transports.flow_open(Hop("TCP", "127.0.0.50", 40000))  # no TCP at all
    transports.tcp = TcpTransport(lambda data, hop: None, lambda hop, reason: None, 65536,
                                  log=None)
    assert not transports.flow_open(Hop("TCP", "127.0.0.50", 40000))  # nothing connected
