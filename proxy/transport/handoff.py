"""Handing a datagram from one worker to the first (``proxy.core.workers``).

Each of the other workers holds one end of a Unix datagram socket pair; the first
worker reads the other ends. A handoff carries the datagram as it arrived and its
sender, so the first worker serves it as if the kernel had given it the datagram,
and answers it from its own socket on the shared port: the sender sees one proxy.
Only UDP is handed over: a TCP connection belongs to the worker that accepted it.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from proxy.sip.hop import Hop
from proxy.transport.udp import Receiver

# A handoff: "<host> <port>\n" then the datagram. A UDP datagram is at most 64 KiB,
# which a Unix datagram socket carries whole.
_SEPARATOR = b"\n"
_MAX_HANDOFF_BYTES = 65_536 + 64
# Handoffs read per wake-up before the loop serves anything else.
_READS_PER_WAKEUP = 64


def handoff_pair() -> tuple[socket.socket, socket.socket]:
    """The first worker's end and the other worker's end of one handoff channel."""
    first, other = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    first.setblocking(False)
    return first, other


class HandoffSender:
    """The other worker's end: hands datagrams to the first worker."""

    def __init__(self, sock: socket.socket, log: Any) -> None:
        sock.setblocking(False)
        self._socket = sock
        self._log = log
        self.dropped = 0

    def send(self, data: bytes, source: Hop) -> None:
        """Hand over ``data`` that came from ``source``. When the first worker is too
        far behind to take it (its queue full) it is dropped and counted, as the
        kernel drops a datagram no socket has room for; the sender retransmits."""
        try:
            self._socket.send(f"{source.host} {source.port}\n".encode("ascii") + data)
        except (BlockingIOError, ConnectionRefusedError):
            self.dropped += 1
        except OSError as error:
            self.dropped += 1
            self._log.warning("worker.handoff_failed", error=str(error))

    def close(self) -> None:
        self._socket.close()


class HandoffReceiver:
    """The first worker's ends: every datagram handed over goes to ``receive``."""

    def __init__(self, receive: Receiver, loop: asyncio.AbstractEventLoop, log: Any) -> None:
        self._receive = receive
        self._loop = loop
        self._log = log
        self._sockets: list[socket.socket] = []

    def add(self, sock: socket.socket) -> None:
        self._sockets.append(sock)
        self._loop.add_reader(sock.fileno(), self._read, sock)

    def remove(self, sock: socket.socket) -> None:
        """Stop reading ``sock`` (its worker is gone) and close it."""
        self._sockets.remove(sock)
        self._loop.remove_reader(sock.fileno())
        sock.close()

    def _read(self, sock: socket.socket) -> None:
        for _ in range(_READS_PER_WAKEUP):
            try:
                handoff = sock.recv(_MAX_HANDOFF_BYTES)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:
                self._log.warning("worker.handoff_unreadable", error=str(error))
                return
            header, _, data = handoff.partition(_SEPARATOR)
            host, _, port = header.decode("ascii", "replace").partition(" ")
            if not data or not port.isdigit():
                self._log.warning("worker.handoff_malformed", size=len(handoff))
                continue
            self._receive(data, Hop("UDP", host, int(port)))

    def close(self) -> None:
        for sock in self._sockets:
            self._loop.remove_reader(sock.fileno())
            sock.close()
        self._sockets.clear()
