"""What the driver keeps per transaction: the pure machine, where its messages go,
its running timers, and (for a server transaction) the fork it started."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from proxy.core.context import ResponseContext
from proxy.core.local import Interface
from proxy.sip.hop import Hop
from proxy.sip.message import Request
from proxy.transaction.client_invite import InviteClientTransaction
from proxy.transaction.client_non_invite import NonInviteClientTransaction
from proxy.transaction.server_invite import InviteServerTransaction
from proxy.transaction.server_non_invite import NonInviteServerTransaction

ServerTransaction = InviteServerTransaction | NonInviteServerTransaction
ClientTransaction = InviteClientTransaction | NonInviteClientTransaction


class TimerSet:
    """Running timer handles of one owner, by key; starting a key replaces it."""

    __slots__ = ("_handles",)

    def __init__(self) -> None:
        self._handles: dict[Any, asyncio.TimerHandle] = {}

    def start(self, loop: asyncio.AbstractEventLoop, key: Any, delay: float,
              callback: Callable[..., None], *args: Any) -> None:
        old = self._handles.get(key)
        if old is not None:
            old.cancel()
        self._handles[key] = loop.call_later(delay, callback, *args)

    def running(self, key: Any) -> bool:
        handle = self._handles.get(key)
        return handle is not None and not handle.cancelled()

    def cancel_all(self) -> None:
        for handle in self._handles.values():
            handle.cancel()
        self._handles.clear()


class ServerEntry:
    """A server transaction, where its responses go, and the fork it started."""

    __slots__ = (
        "branches",
        "breadth",
        "context",
        "context_timers",
        "fallback_hop",
        "from_rewritten",
        "hop",
        "interface",
        "key",
        "original_uri",
        "received",
        "strip_asserted_identity",
        "timers",
        "tx",
    )

    def __init__(self, tx: ServerTransaction, key: tuple[Any, ...], hop: Hop,
                 interface: Interface, received: Request) -> None:
        self.tx = tx
        self.key = key
        self.hop = hop
        self.interface = interface
        self.received = received  # as received (with received/rport): loop hash input
        self.original_uri = received.uri
        self.context: ResponseContext | None = None
        self.branches: dict[int, ClientEntry] = {}
        self.breadth: int | None = None
        self.strip_asserted_identity = False
        self.from_rewritten = False  # a branch got a display prefix on its From
        self.fallback_hop: Hop | None = None  # §18.2.2: if the connection has closed
        self.timers = TimerSet()
        self.context_timers = TimerSet()


class ClientEntry:
    """A client transaction: one branch of a fork, or a CANCEL we sent."""

    __slots__ = ("branch_id", "fallback_hop", "hop", "key", "server", "timers", "tx")

    def __init__(self, tx: ClientTransaction, key: tuple[Any, ...], hop: Hop,
                 server: ServerEntry | None, branch_id: int) -> None:
        self.tx = tx
        self.key = key
        self.hop = hop
        self.server = server  # None for a CANCEL: its responses decide nothing
        self.branch_id = branch_id
        self.fallback_hop: Hop | None = None  # requests go where they go, or fail
        self.timers = TimerSet()
