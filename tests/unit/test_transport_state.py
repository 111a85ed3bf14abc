"""What the transports know of their sockets: which flows can still reach a
registered phone (RFC 5626 §5.3), and how many bytes wait to be read."""

from __future__ import annotations

import socket

from proxy.sip.hop import Hop
from proxy.transport.dispatch import Transports
from proxy.transport.tcp import TcpTransport
from proxy.transport.udp import UdpEndpoint


def test_udp_flows_are_always_open_tcp_ones_only_while_connected() -> None:
    transports = Transports()
    assert transports.flow_open(Hop("UDP", "127.0.0.50", 5070))
    assert not transports.flow_open(Hop("TCP", "127.0.0.50", 40000))  # no TCP at all
    transports.tcp = TcpTransport(lambda data, hop: None, lambda hop, reason: None, 65536,
                                  log=None)
    assert not transports.flow_open(Hop("TCP", "127.0.0.50", 40000))  # nothing connected


class _BoundTransport:
    """The one thing UdpEndpoint asks of its transport at connection time."""

    def __init__(self, sock: socket.socket) -> None:
        self._socket = sock

    def get_extra_info(self, name: str) -> socket.socket | None:
        return self._socket if name == "socket" else None


def test_the_udp_backlog_is_the_bytes_waiting_in_the_receive_queue() -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        listener.bind(("127.0.0.1", 0))
        endpoint = UdpEndpoint(lambda data, hop: None, log=None)
        endpoint.connection_made(_BoundTransport(listener))  # type: ignore[arg-type]
        transports = Transports()
        transports.add_udp("127.0.0.1", endpoint)
        assert transports.udp_receive_backlog() == 0
        for _ in range(3):  # nobody reads them: they wait in the kernel's queue
            sender.sendto(b"x" * 500, listener.getsockname())
        assert transports.udp_receive_backlog() >= 3 * 500
        listener.recv(1000)
        listener.recv(1000)
        listener.recv(1000)
        assert transports.udp_receive_backlog() == 0
    finally:
        listener.close()
        sender.close()
