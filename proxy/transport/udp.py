"""UDP listener: a plain DatagramProtocol, the fast path (no queue hop per datagram)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, cast

from proxy.sip.hop import Hop

Receiver = Callable[[bytes, Hop], None]


class UdpEndpoint(asyncio.DatagramProtocol):
    """Hands each datagram to the core; sends what the core asks for."""

    def __init__(self, receive: Receiver, log: Any) -> None:
        self._receive = receive
        self._log = log
        self._transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's UDP transport does not subclass asyncio.DatagramTransport.
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        if data.strip(b"\r\n") == b"":
            return  # keep-alive (RFC 5626 §3.5.1 over UDP is STUN; bare CRLF is common)
        self._receive(data, Hop("UDP", addr[0], addr[1]))

    def error_received(self, exc: Exception) -> None:
        # ICMP errors surface here without the address on most platforms; the
        # client transaction's timers cover the loss (RFC 3261 §17.1.4).
        self._log.debug("udp.error", error=str(exc))

    def send(self, data: bytes, hop: Hop) -> None:
        """Send one datagram. A failure is logged, not raised: the transaction's
        retransmissions and timeouts deal with a lost datagram (§17.1.4)."""
        if self._transport is None:
            return
        try:
            self._transport.sendto(data, (hop.host, hop.port))
        except (OSError, ValueError) as error:
            self._log.info("udp.send_failed", destination=f"{hop.host}:{hop.port}",
                           error=str(error))

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


async def open_udp(host: str, port: int, receive: Receiver, log: Any) -> UdpEndpoint:
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_datagram_endpoint(
        lambda: UdpEndpoint(receive, log), local_addr=(host, port)
    )
    return protocol
