"""TCP listener and connection table (RFC 3261 §18.2.2: responses go back on the
connection the request came in on; requests to a peer reuse its connection)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, cast

from proxy.sip.errors import SipParseError
from proxy.sip.framing import StreamFramer
from proxy.sip.hop import Hop

Receiver = Callable[[bytes, Hop], None]
FailureHandler = Callable[[Hop, str], None]


class _Connection(asyncio.Protocol):
    """One TCP connection: frames the byte stream into messages (§18.3)."""

    def __init__(self, table: TcpTransport) -> None:
        self._table = table
        self._framer = StreamFramer(table.max_message_size)
        self._transport: asyncio.Transport | None = None
        self.peer: Hop | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        host, port = transport.get_extra_info("peername")[:2]
        self.peer = Hop("TCP", host, port)
        self._table.register(self.peer, self)

    def data_received(self, data: bytes) -> None:
        assert self.peer is not None
        try:
            messages = self._framer.feed(data)
        except SipParseError as error:
            # A broken stream cannot be resynchronised: close it (§18.3).
            self._table.log.info("tcp.framing_error", reason=error.reason,
                                 peer=f"{self.peer.host}:{self.peer.port}")
            self.close()
            return
        for message in messages:
            self._table.receive(message, self.peer)
        # RFC 5626 §3.5.1: each double-CRLF ping is answered with a single CRLF pong.
        pings = self._framer.take_pings()
        if pings:
            self.write(b"\r\n" * pings)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.peer is not None:
            self._table.unregister(self.peer, self)

    def write(self, data: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


class TcpTransport:
    """Listening sockets plus the table of open connections, keyed by peer address."""

    def __init__(self, receive: Receiver, failed: FailureHandler, max_message_size: int,
                 log: Any) -> None:
        self.receive = receive
        self._failed = failed
        self.max_message_size = max_message_size
        self.log = log
        self._connections: dict[Hop, _Connection] = {}
        self._pending: dict[Hop, list[bytes]] = {}
        self._servers: list[asyncio.Server] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def listen(self, host: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: _Connection(self), host, port)
        self._servers.append(server)

    def register(self, peer: Hop, connection: _Connection) -> None:
        self._connections[peer] = connection

    def unregister(self, peer: Hop, connection: _Connection) -> None:
        if self._connections.get(peer) is connection:
            del self._connections[peer]

    def send(self, data: bytes, hop: Hop) -> None:
        connection = self._connections.get(hop)
        if connection is not None:
            connection.write(data)
            return
        queued = self._pending.get(hop)
        if queued is not None:
            queued.append(data)  # a connect to this peer is already under way
            return
        self._pending[hop] = [data]
        task = asyncio.get_running_loop().create_task(self._connect(hop))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _connect(self, hop: Hop) -> None:
        loop = asyncio.get_running_loop()
        try:
            _, connection = await asyncio.wait_for(
                loop.create_connection(lambda: _Connection(self), hop.host, hop.port), 5.0
            )
        except (OSError, TimeoutError) as error:
            self._pending.pop(hop, None)
            self._failed(hop, str(error) or type(error).__name__)
            return
        # Register under the address we dialled too: responses and later requests
        # to this peer find the connection by the hop the core knows.
        self._connections[hop] = connection
        for data in self._pending.pop(hop, []):
            connection.write(data)

    def close(self) -> None:
        for server in self._servers:
            server.close()
        for connection in list(self._connections.values()):
            connection.close()
        for task in self._tasks:
            task.cancel()
