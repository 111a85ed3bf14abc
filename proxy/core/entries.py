"""What the driver keeps per transaction: the pure machine, where its messages go,
its running timers, and (for a server transaction) the fork it started.

No reference cycles: a client entry points at its server entry, a server entry
names its branches by transaction key, and timer callbacks carry keys, never
entries. A finished call is freed by reference counting alone, so the cyclic
garbage collector finds nothing to do (tests/unit/test_core_memory.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from proxy.core.context import ResponseContext, StartBranch
from proxy.core.local import Interface
from proxy.core.timer_queues import Timer, TimerQueues
from proxy.policy.trust import Source
from proxy.sip.address import NameAddr
from proxy.sip.hop import Hop
from proxy.sip.message import Request, Response
from proxy.transaction.client_invite import InviteClientTransaction
from proxy.transaction.client_non_invite import NonInviteClientTransaction
from proxy.transaction.keys import TransactionKey
from proxy.transaction.server_invite import InviteServerTransaction
from proxy.transaction.server_non_invite import NonInviteServerTransaction

ServerTransaction = InviteServerTransaction | NonInviteServerTransaction
ClientTransaction = InviteClientTransaction | NonInviteClientTransaction
# What an originated request's sender is told: its final response (real or synthetic).
FinalCallback = Callable[[Response], None]


class TimerSet:
    """Running timers of one owner, by name; starting a name replaces it."""

    __slots__ = ("_timers",)

    def __init__(self) -> None:
        self._timers: dict[Any, Timer] = {}

    def start(self, queues: TimerQueues, name: Any, delay: float,
              callback: Callable[..., None], *args: Any) -> None:
        """Call ``callback(*args)`` after ``delay``; ``args`` must not hold the owner."""
        old = self._timers.get(name)
        if old is not None:
            old.cancel()
        self._timers[name] = queues.call_later(delay, callback, *args)

    def cancel(self, name: Any) -> None:
        """Take back the pending call of ``name``, if any."""
        timer = self._timers.pop(name, None)
        if timer is not None:
            timer.cancel()

    def running(self, name: Any) -> bool:
        """Whether ``name`` was started and has neither fired nor been cancelled."""
        timer = self._timers.get(name)
        return timer is not None and timer.pending

    def cancel_all(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()


class ServerEntry:
    """A server transaction, where its responses go, and the fork it started."""

    __slots__ = (
        "branches",
        "breadth",
        "caller_flow",
        "calling_identity",
        "context",
        "context_timers",
        "fallback_hop",
        "from_rewritten",
        "hop",
        "interface",
        "key",
        "original_uri",
        "received",
        "route_token",
        "source",
        "strip_asserted_identity",
        "timers",
        "tx",
    )

    def __init__(self, tx: ServerTransaction, key: TransactionKey, hop: Hop,
                 interface: Interface, received: Request, source: Source) -> None:
        self.tx = tx
        self.key = key
        self.hop = hop
        self.interface = interface
        self.received = received  # as received (with received/rport): loop hash input
        self.source = source
        self.original_uri = received.uri
        self.context: ResponseContext | None = None
        self.branches: dict[int, TransactionKey] = {}  # branch id -> client key
        self.breadth: int | None = None
        self.strip_asserted_identity = False
        self.from_rewritten = False  # a branch got a display prefix or a line on its From
        self.calling_identity: NameAddr | None = None  # the line the call is placed on
        # For our Record-Route, given a branch's flow (``proxy.core.route_token``);
        # None when the request forms no dialog.
        self.route_token: Callable[[str], str] | None = None
        self.caller_flow = ""  # the calling phone's flow, when it forms a dialog (``flows``)
        self.fallback_hop: Hop | None = None  # §18.2.2: if the connection has closed
        self.timers = TimerSet()
        self.context_timers = TimerSet()


class ClientEntry:
    """A client transaction: a branch of a fork, a CANCEL, or a request we originated."""

    __slots__ = ("branch_id", "fallback_hop", "hop", "key", "next_hops", "on_final", "server",
                 "start", "timers", "tx")

    def __init__(self, tx: ClientTransaction, key: TransactionKey, hop: Hop,
                 server: ServerEntry | None, branch_id: int,
                 on_final: FinalCallback | None = None) -> None:
        self.tx = tx
        self.key = key
        self.hop = hop
        self.server = server  # None for a CANCEL or an originated request
        self.branch_id = branch_id
        self.on_final = on_final  # an originated request's sender
        self.fallback_hop: Hop | None = None  # requests go where they go, or fail
        # A fork's branch: what started it, and the target's hops not yet tried.
        self.start: StartBranch | None = None
        self.next_hops: tuple[Hop, ...] = ()
        self.timers = TimerSet()
