"""One ``send(data, hop)`` for the core, whatever the transport and address family."""

from __future__ import annotations

import ipaddress

from proxy.sip.hop import Hop
from proxy.transport.tcp import TcpTransport
from proxy.transport.udp import UdpEndpoint


class Transports:
    def __init__(self) -> None:
        self._udp: dict[int, UdpEndpoint] = {}  # by IP version
        # A worker's own ports (``proxy.core.workers``), by IP version: its requests
        # leave from there, so their responses come back to it.
        self._own_udp: dict[int, UdpEndpoint] = {}
        self.tcp: TcpTransport | None = None

    def add_udp(self, host: str, endpoint: UdpEndpoint) -> None:
        self._udp.setdefault(ipaddress.ip_address(host).version, endpoint)

    def add_own_udp(self, host: str, endpoint: UdpEndpoint) -> None:
        """A worker's own port: the requests it sends leave from it. Its responses
        still leave from the listener's port their request came to (RFC 3581 §4)."""
        self._own_udp.setdefault(ipaddress.ip_address(host).version, endpoint)

    def send(self, data: bytes, hop: Hop, fallback: Hop | None = None) -> None:
        """Send ``data`` to ``hop``; over TCP, to ``fallback`` if ``hop``'s connection
        has closed (RFC 3261 §18.2.2)."""
        if hop.transport == "UDP":
            version = _version(hop.host)
            endpoint = self._udp.get(version)
            if self._own_udp and not data.startswith(_RESPONSE_START):
                endpoint = self._own_udp.get(version, endpoint)
            if endpoint is not None:
                endpoint.send(data, hop)
        elif self.tcp is not None:
            self.tcp.send(data, hop, fallback)

    def udp_receive_backlog(self) -> int:
        """Bytes waiting in the receive queues of every UDP listener."""
        return sum(endpoint.receive_queue_bytes() for endpoint in self._endpoints())

    def udp_receive_drops(self) -> int:
        """Datagrams the kernel dropped from full receive queues, every UDP listener."""
        return sum(endpoint.receive_drops() for endpoint in self._endpoints())

    def flow_open(self, hop: Hop) -> bool:
        """Whether requests can still reach ``hop`` on the flow it came from: always
        over UDP; over TCP only while that connection is open (RFC 5626 §5.3: we do
        not dial a phone's ephemeral port)."""
        if hop.transport == "UDP":
            return True
        return self.tcp is not None and self.tcp.is_connected(hop)

    def close(self) -> None:
        for endpoint in self._endpoints():
            endpoint.close()
        if self.tcp is not None:
            self.tcp.close()


    def _endpoints(self) -> list[UdpEndpoint]:
        return [*self._udp.values(), *self._own_udp.values()]


# How every response starts (RFC 3261 §7.2: the Status-Line); requests start with
# their method.
_RESPONSE_START = b"SIP/2.0 "


def _version(host: str) -> int:
    # Hosts here are IP literals (the core resolves nothing), so a colon means IPv6;
    # this runs for every datagram sent, where ipaddress parsing would cost ~10 µs.
    return 6 if ":" in host else 4
