"""One ``send(data, hop)`` for the core, whatever the transport and address family."""

from __future__ import annotations

import ipaddress

from proxy.sip.hop import Hop
from proxy.transport.tcp import TcpTransport
from proxy.transport.udp import UdpEndpoint


class Transports:
    def __init__(self) -> None:
        self._udp: dict[int, UdpEndpoint] = {}  # by IP version
        self.tcp: TcpTransport | None = None

    def add_udp(self, host: str, endpoint: UdpEndpoint) -> None:
        self._udp.setdefault(ipaddress.ip_address(host).version, endpoint)

    def send(self, data: bytes, hop: Hop, fallback: Hop | None = None) -> None:
        """Send ``data`` to ``hop``; over TCP, to ``fallback`` if ``hop``'s connection
        has closed (RFC 3261 §18.2.2)."""
        if hop.transport == "UDP":
            endpoint = self._udp.get(_version(hop.host))
            if endpoint is not None:
                endpoint.send(data, hop)
        elif self.tcp is not None:
            self.tcp.send(data, hop, fallback)

    def udp_receive_backlog(self) -> int:
        """Bytes waiting in the receive queues of every UDP listener."""
        return sum(endpoint.receive_queue_bytes() for endpoint in self._udp.values())

    def udp_receive_drops(self) -> int:
        """Datagrams the kernel dropped from full receive queues, every UDP listener."""
        return sum(endpoint.receive_drops() for endpoint in self._udp.values())

    def flow_open(self, hop: Hop) -> bool:
        """Whether requests can still reach ``hop`` on the flow it came from: always
        over UDP; over TCP only while that connection is open (RFC 5626 §5.3: we do
        not dial a phone's ephemeral port)."""
        if hop.transport == "UDP":
            return True
        return self.tcp is not None and self.tcp.is_connected(hop)

    def close(self) -> None:
        for endpoint in self._udp.values():
            endpoint.close()
        if self.tcp is not None:
            self.tcp.close()


def _version(host: str) -> int:
    # Hosts here are IP literals (the core resolves nothing), so a colon means IPv6;
    # this runs for every datagram sent, where ipaddress parsing would cost ~10 µs.
    return 6 if ":" in host else 4
