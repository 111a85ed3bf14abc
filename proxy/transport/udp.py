"""UDP listener: a plain DatagramProtocol, the fast path (no queue hop per datagram)."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Callable
from typing import Any, cast

from proxy import stun
from proxy.sip.hop import Hop

Receiver = Callable[[bytes, Hop], None]

# Datagrams that arrive while the loop is busy (a GC pass, a burst, CPU stolen by
# a neighbour) wait in the socket's receive buffer; once it is full the kernel
# drops them and every loss costs a retransmission 500 ms later (§17.1.1.2).
# The Linux default (net.core.rmem_default, 208 KiB) fills in tens of
# milliseconds at a few hundred calls per second. Measured with tools/bench at
# 600 calls/s (cancel variant, 2 shared cores, 3 runs each): the default lost
# 25-114 of 3600 calls with 1719-4608 datagrams dropped; 4 MiB lost none.
RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024

# Linux SO_MEMINFO (include/uapi/asm-generic/socket.h): the socket's memory counters,
# the first being the bytes held by its receive queue, the rx_queue of /proc/net/udp,
# the last (SK_MEMINFO_DROPS) the datagrams dropped because that queue was full.
# One getsockopt costs about 0.6 µs; reading /proc/net/udp walks every UDP socket of
# the host and cost 105 µs even with a single one (measured on the bench machine).
_SO_MEMINFO = 55
_MEMINFO = struct.Struct("9I")
_RMEM_ALLOC, _DROPS = 0, 8
_FIRST_SIP_BYTE = b"A"


class UdpEndpoint(asyncio.DatagramProtocol):
    """Hands each datagram to the core; sends what the core asks for."""

    def __init__(self, receive: Receiver, log: Any) -> None:
        self._receive = receive
        self._log = log
        self._transport: asyncio.DatagramTransport | None = None
        self._socket: Any = None  # uvloop hands out a socket-like object

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's UDP transport does not subclass asyncio.DatagramTransport.
        self._transport = cast(asyncio.DatagramTransport, transport)
        self._socket = transport.get_extra_info("socket")

    def receive_queue_bytes(self) -> int:
        """Bytes waiting in the kernel's receive queue of this socket (0 when the
        platform cannot say): the load watcher's earliest sign of overload."""
        return self._meminfo(_RMEM_ALLOC)

    def receive_drops(self) -> int:
        """Datagrams the kernel dropped since the socket opened because its receive
        queue was full (0 when the platform cannot say)."""
        return self._meminfo(_DROPS)

    def _meminfo(self, index: int) -> int:
        if self._socket is None:
            return 0
        try:
            return int(_MEMINFO.unpack(
                self._socket.getsockopt(socket.SOL_SOCKET, _SO_MEMINFO, _MEMINFO.size))[index])
        except (OSError, struct.error):
            return 0

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        hop = Hop("UDP", addr[0], addr[1])
        # Every SIP message starts with a method or "SIP/2.0": a first byte from "A"
        # on is SIP, and the per-message path costs one comparison.
        if data[:1] < _FIRST_SIP_BYTE and self._keep_alive(data, hop):
            return
        self._receive(data, hop)

    def _keep_alive(self, data: bytes, hop: Hop) -> bool:
        """Answer a keep-alive; whether ``data`` was one."""
        if stun.is_stun(data):  # RFC 5626 §4.4.2, §8: the keep-alive of UDP flows
            response = stun.answer(data, hop.host, hop.port)
            if response is not None:
                self.send(response, hop)
            return True
        return data.strip(b"\r\n") == b""  # a bare CRLF: common, though not RFC 5626's

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


async def open_udp(host: str, port: int, receive: Receiver, log: Any, *,
                   reuse_port: bool = False) -> UdpEndpoint:
    """A UDP socket on ``host:port``; with ``reuse_port``, one the other workers bind
    too (SO_REUSEPORT: the kernel picks a socket by the sender's address)."""
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(
        lambda: UdpEndpoint(receive, log), local_addr=(host, port), reuse_port=reuse_port
    )
    _enlarge_receive_buffer(transport.get_extra_info("socket"), f"{host}:{port}", log)
    return protocol


def _enlarge_receive_buffer(sock: Any, listener: str, log: Any) -> None:
    """Ask for RECEIVE_BUFFER_BYTES and say what the kernel granted.

    Linux caps the request at net.core.rmem_max and reports twice the size it
    grants (the other half is its bookkeeping), so a report below the request
    means the cap was hit and only the operator can raise it.
    """
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)
    granted = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    if granted < RECEIVE_BUFFER_BYTES:
        log.warning("udp.receive_buffer_capped", listener=listener,
                    requested=RECEIVE_BUFFER_BYTES, granted=granted,
                    hint=f"sysctl -w net.core.rmem_max={RECEIVE_BUFFER_BYTES}")
    else:
        log.info("udp.receive_buffer", listener=listener, requested=RECEIVE_BUFFER_BYTES,
                 granted=granted)
