"""UDP listener: a plain DatagramProtocol, the fast path (no queue hop per datagram)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, cast

from proxy.sip.hop import Hop

Receiver = Callable[[bytes, Hop], None]


class UdpEndpoint(asyncio.DatagramProtocol):
    """Hands each datagram to the core; sends what the core asks for."""

    def __init__(self, receive: Receiver, max_message_size: int, log: Any) -> None:
        self._receive = receive
        self._max_message_size = max_message_size
        self._log = log
        self._transport: asyncio.DatagramTransport | None = None
        self.oversized = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's UDP transport does not subclass asyncio.DatagramTransport.
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        if len(data) > self._max_message_size:
            # RFC 3261 §18.1.1 sizes; a datagram this big cannot be answered reliably.
            self.oversized += 1
            return
        if data.strip(b"\r\n") == b"":
            return  # keep-alive (RFC 5626 §3.5.1 over UDP is STUN; bare CRLF is common)
        self._receive(data, Hop("UDP", addr[0], addr[1]))

    def error_received(self, exc: Exception) -> None:
        # ICMP errors surface here without the address on most platforms; the
        # client transaction's timers cover the loss (RFC 3261 §17.1.4).
        self._log.debug("udp.error", error=str(exc))

    def send(self, data: bytes, hop: Hop) -> None:
        if self._transport is not None:
            self._transport.sendto(data, (hop.host, hop.port))

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


async def open_udp(host: str, port: int, receive: Receiver, max_message_size: int,
                   log: Any) -> UdpEndpoint:
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_datagram_endpoint(
        lambda: UdpEndpoint(receive, max_message_size, log), local_addr=(host, port)
    )
    return protocol
