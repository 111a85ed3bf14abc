"""TCP listener and connection table (RFC 3261 §18.2.2: responses go back on the
connection the request came in on; requests to a peer reuse its connection)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, cast

from proxy.defaults import TCP_IDLE_SECONDS
from proxy.sip.errors import SipParseError
from proxy.sip.framing import StreamFramer
from proxy.sip.hop import Hop

Receiver = Callable[[bytes, Hop], None]
FailureHandler = Callable[[Hop, str], None]

CONNECT_TIMEOUT = 5.0


class _Connection(asyncio.Protocol):
    """One TCP connection: frames the byte stream into messages (§18.3)."""

    def __init__(self, table: TcpTransport) -> None:
        self._table = table
        self._framer = StreamFramer(table.max_message_size)
        self._transport: asyncio.Transport | None = None
        self._idle: asyncio.TimerHandle | None = None
        self.peer: Hop | None = None
        self.keys: set[Hop] = set()  # every address the table knows it by

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        peername = self._transport.get_extra_info("peername")
        if peername is None:  # reset before we got here: nothing to register
            self._transport.close()
            return
        host, port = peername[:2]
        self.peer = Hop("TCP", host, port)
        self._table.register(self.peer, self)
        self._touch()

    def data_received(self, data: bytes) -> None:
        assert self.peer is not None
        self._touch()
        try:
            messages = self._framer.feed(data)
        except SipParseError as error:
            # A broken stream cannot be resynchronised: close it (§18.3), after the
            # answer the head still allows (RFC 4475 §3.1.2.3: 400 naming the problem).
            self._table.log.info("tcp.framing_error", reason=error.reason,
                                 peer=f"{self.peer.host}:{self.peer.port}")
            if error.head is not None:
                self._table.receive(error.head, self.peer)
            self.close()
            return
        for message in messages:
            self._table.receive(message, self.peer)
        # RFC 5626 §3.5.1: each double-CRLF ping is answered with a single CRLF pong.
        pings = self._framer.take_pings()
        if pings:
            self.write(b"\r\n" * pings)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._idle is not None:
            self._idle.cancel()
        self._table.unregister(self)

    @property
    def usable(self) -> bool:
        """Connected, known by its peer address, and not closing."""
        return (self._transport is not None and self.peer is not None
                and not self._transport.is_closing())

    def write(self, data: bytes) -> bool:
        """Write ``data``; False when the connection is closing and cannot take it."""
        if self._transport is None or not self.usable:
            return False
        self._transport.write(data)
        self._touch()
        return True

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def _touch(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
        self._idle = asyncio.get_running_loop().call_later(TCP_IDLE_SECONDS, self.close)


class TcpTransport:
    """Listening sockets plus the table of open connections, keyed by peer address."""

    def __init__(self, receive: Receiver, failed: FailureHandler, max_message_size: int,
                 log: Any) -> None:
        self.receive = receive
        self._failed = failed
        self.max_message_size = max_message_size
        self.log = log
        self._connections: dict[Hop, _Connection] = {}
        # Messages waiting for a connect, and the hops they were meant for.
        self._pending: dict[Hop, tuple[list[bytes], set[Hop]]] = {}
        self._servers: list[asyncio.Server] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def listen(self, host: str, port: int) -> None:
        """Accept connections on ``host:port``."""
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: _Connection(self), host, port)
        self._servers.append(server)

    def is_connected(self, hop: Hop) -> bool:
        """Whether a usable connection to ``hop`` is open."""
        connection = self._connections.get(hop)
        return connection is not None and connection.usable

    def register(self, key: Hop, connection: _Connection) -> None:
        """Find ``connection`` under ``key`` from now on."""
        connection.keys.add(key)
        self._connections[key] = connection

    def unregister(self, connection: _Connection) -> None:
        """Forget every key of a closed connection."""
        for key in connection.keys:
            if self._connections.get(key) is connection:
                del self._connections[key]
        connection.keys.clear()

    def send(self, data: bytes, hop: Hop, fallback: Hop | None = None) -> None:
        """Write on the open connection to ``hop``, else connect (to ``fallback`` if
        given: the response address of §18.2.2) and write when connected."""
        connection = self._connections.get(hop)
        if connection is not None:
            if connection.write(data):
                return
            self.unregister(connection)
        target = fallback or hop
        connection = self._connections.get(target)
        if connection is not None and connection.write(data):
            return
        queued = self._pending.get(target)
        if queued is not None:
            queued[0].append(data)  # a connect to this peer is already under way
            queued[1].add(hop)
            return
        self._pending[target] = ([data], {hop})
        task = asyncio.get_running_loop().create_task(self._connect(target))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _connect(self, target: Hop) -> None:
        loop = asyncio.get_running_loop()
        try:
            _, connection = await asyncio.wait_for(
                loop.create_connection(lambda: _Connection(self), target.host, target.port),
                CONNECT_TIMEOUT,
            )
        except (OSError, TimeoutError) as error:
            self._fail_pending(target, str(error) or type(error).__name__)
            return
        if not connection.usable:  # the peer hung up before we could write
            self._fail_pending(target, "connection closed")
            return
        # Known by the address we dialled too: later messages for that hop find it.
        self.register(target, connection)
        messages, _ = self._pending.pop(target, ([], set()))
        for data in messages:
            connection.write(data)

    def _fail_pending(self, target: Hop, reason: str) -> None:
        """Tell the core about every hop whose messages waited for this connect, so
        their transactions fail at once (§17.1.4) instead of timing out."""
        _, hops = self._pending.pop(target, ([], set()))
        for hop in hops:
            self._failed(hop, reason)

    def close(self) -> None:
        """Stop listening and close every connection."""
        for server in self._servers:
            server.close()
        for connection in list(self._connections.values()):
            connection.close()
        for task in self._tasks:
            task.cancel()
