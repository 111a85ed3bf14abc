"""The transaction tables: the pure §17 machines, the timers they ask for, and the
messages they send (ARCHITECTURE principle 1: the machines decide, this runs).

What a transaction passes up (a response for the fork, a timeout, a transport
error, an ACK for a 2xx) goes to the :class:`TransactionUser`, the proxy core.
Timer callbacks carry the transaction's key, never the entry: a finished
transaction leaves no cycle behind, and a timer that fires for a transaction
that is gone finds nothing (principle 5).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import lru_cache
from typing import Any, Protocol, assert_never

from proxy.core.entries import ClientEntry, ClientTransaction, ServerEntry, ServerTransaction
from proxy.core.timer_queues import TimerQueues
from proxy.sip.hop import Hop
from proxy.sip.message import Message, Request, Response
from proxy.transaction.actions import (
    AckTimedOut,
    Action,
    PassUp,
    PassUpAck,
    Send,
    StartTimer,
    StopTimer,
    Terminated,
    TimedOut,
    TransportError,
)
from proxy.transaction.client_invite import InviteClientTransaction
from proxy.transaction.client_non_invite import NonInviteClientTransaction
from proxy.transaction.events import RequestReceived, ResponseReceived, TimerFired, TransportFailed
from proxy.transaction.keys import TransactionKey
from proxy.transaction.server_invite import InviteServerTransaction
from proxy.transaction.server_non_invite import NonInviteServerTransaction
from proxy.transaction.states import TransactionState
from proxy.transaction.timers import TimerSettings

# send(message, hop, fallback): ``fallback`` is where a response goes over a new
# connection if the one its request came on has closed (§18.2.2).
MessageSender = Callable[[Message, Hop, "Hop | None"], None]

# A timer's firing, made once per name and generation and shared (a frozen value;
# every request the proxy sends has a timer fire, see ``proxy.transaction.machine``).
_fired = lru_cache(maxsize=512)(TimerFired)

# Server transactions that have not sent a final response yet.
UNANSWERED = (TransactionState.TRYING, TransactionState.PROCEEDING)


class TransactionUser(Protocol):
    """The core, as the transactions see it (RFC 3261 §17: the TU)."""

    def on_branch_response(self, entry: ClientEntry, response: Response) -> None: ...
    def on_branch_timeout(self, entry: ClientEntry) -> None: ...
    def on_branch_unreachable(self, entry: ClientEntry) -> None: ...
    def on_ack_for_2xx(self, entry: ServerEntry, ack: Request) -> None: ...
    def on_transaction_error(self, where: str) -> None: ...


class TransactionTable:
    """Every live server and client transaction, by key."""

    def __init__(self, *, loop: asyncio.AbstractEventLoop, queues: TimerQueues,
                 timers: TimerSettings, send: MessageSender, user: TransactionUser,
                 log: Any, tracing: bool) -> None:
        self._loop = loop
        self._queues = queues
        self._timers = timers
        self._send = send
        self._user = user
        self._log = log
        self._tracing = tracing  # per-transaction debug lines (``ProxyCore``)
        self.servers: dict[TransactionKey, ServerEntry] = {}
        self.clients: dict[TransactionKey, ClientEntry] = {}
        # Server transactions still without a final response, kept as they change so
        # that the drain and the load watcher count them without a walk of the table.
        self._unanswered: set[TransactionKey] = set()

    # --- server transactions -----------------------------------------------------------

    def add_server(self, entry: ServerEntry) -> None:
        """Register a new server transaction and start it (§17.2: 100 Trying, timers)."""
        self.servers[entry.key] = entry
        self._unanswered.add(entry.key)
        if self._tracing:
            self._log.debug("tx.server.created", call_id=entry.received.call_id,
                            method=entry.received.method, branch=entry.key[0])
        self.run_server(entry, entry.tx.start(self._loop.time()))

    def server_received(self, entry: ServerEntry, request: Request) -> None:
        """A retransmission or the ACK of a non-2xx for an existing server transaction."""
        self.run_server(entry, entry.tx.handle(RequestReceived(request), self._loop.time()))

    def respond(self, entry: ServerEntry, response: Response) -> None:
        self.run_server(entry, entry.tx.send_response(response, self._loop.time()))
        if entry.tx.state not in UNANSWERED:
            self._unanswered.discard(entry.key)

    def unanswered(self) -> list[ServerEntry]:
        return [self.servers[key] for key in self._unanswered]

    @property
    def unanswered_count(self) -> int:
        return len(self._unanswered)

    @staticmethod
    def new_server_transaction(request: Request, reliable: bool,
                               timers: TimerSettings) -> ServerTransaction:
        if request.method == "INVITE":
            return InviteServerTransaction(request, reliable=reliable, timers=timers)
        return NonInviteServerTransaction(request, reliable=reliable, timers=timers)

    def run_server(self, entry: ServerEntry, actions: list[Action]) -> None:
        for action in actions:
            match action:
                case Send(message):
                    self._send(message, entry.hop, entry.fallback_hop)
                case StartTimer(name, delay, generation):
                    entry.timers.start(self._queues, name, delay, self._server_timer, entry.key,
                                       name, generation)
                case StopTimer(name):
                    entry.timers.cancel(name)
                case PassUpAck(ack):
                    # RFC 6026 §7.1: an ACK matching an Accepted INVITE acknowledges a
                    # 2xx; it travels end to end like any other 2xx ACK.
                    self._user.on_ack_for_2xx(entry, ack)
                case AckTimedOut():
                    self._log.info("tx.server.no_ack", call_id=entry.received.call_id,
                                   branch=entry.key[0])
                case Terminated():
                    self.servers.pop(entry.key, None)
                    self._unanswered.discard(entry.key)
                    entry.timers.cancel_all()
                    entry.context_timers.cancel_all()
                    if self._tracing:
                        self._log.debug("tx.server.terminated", call_id=entry.received.call_id,
                                        branch=entry.key[0])
                case PassUp() | TimedOut() | TransportError():
                    raise AssertionError(f"a server transaction cannot ask for {action!r}")
                case _:
                    assert_never(action)

    def _server_timer(self, key: TransactionKey, name: str, generation: int) -> None:
        entry = self.servers.get(key)
        if entry is not None:  # else the transaction ended: a stale timer (principle 5)
            self._fire(entry, self.run_server, _fired(name, generation))

    def _fire(self, entry: Any, run: Callable[[Any, list[Action]], None],
              event: TimerFired) -> None:
        try:
            run(entry, entry.tx.handle(event, self._loop.time()))
        except Exception:
            self._user.on_transaction_error(f"timer {event.name}")

    # --- client transactions -----------------------------------------------------------

    def add_client(self, entry: ClientEntry) -> None:
        """Register a new client transaction and send its request (§17.1)."""
        self.clients[entry.key] = entry
        self.run_client(entry, entry.tx.start(self._loop.time()))

    def new_client_transaction(self, request: Request, hop: Hop) -> ClientTransaction:
        if request.method == "INVITE":
            return InviteClientTransaction(request, reliable=hop.reliable, timers=self._timers)
        return NonInviteClientTransaction(request, reliable=hop.reliable, timers=self._timers)

    def client_received(self, entry: ClientEntry, response: Response) -> None:
        self.run_client(entry, entry.tx.handle(ResponseReceived(response), self._loop.time()))

    def transport_failed(self, hop: Hop, reason: str) -> None:
        """The transport could not reach ``hop``: every client transaction there fails."""
        failure = TransportFailed(reason)
        for entry in [e for e in self.clients.values() if e.hop == hop]:
            try:
                self.run_client(entry, entry.tx.handle(failure, self._loop.time()))
            except Exception:
                self._user.on_transaction_error("transport_failed")

    def drop_client(self, entry: ClientEntry) -> None:
        """Forget a client transaction that will never finish by itself."""
        self.clients.pop(entry.key, None)
        entry.timers.cancel_all()

    def run_client(self, entry: ClientEntry, actions: list[Action]) -> None:
        for action in actions:
            match action:
                case Send(message):
                    self._send(message, entry.hop, entry.fallback_hop)
                case StartTimer(name, delay, generation):
                    entry.timers.start(self._queues, name, delay, self._client_timer, entry.key,
                                       name, generation)
                case StopTimer(name):
                    entry.timers.cancel(name)
                case PassUp(response):
                    self._user.on_branch_response(entry, response)
                case TimedOut():
                    self._user.on_branch_timeout(entry)
                case TransportError():
                    self._user.on_branch_unreachable(entry)
                case Terminated():
                    self.drop_client(entry)
                    if self._tracing:
                        self._log.debug("tx.client.terminated", call_id=entry.tx.request.call_id,
                                        branch=entry.key[0])
                case PassUpAck() | AckTimedOut():
                    raise AssertionError(f"a client transaction cannot ask for {action!r}")
                case _:
                    assert_never(action)

    def _client_timer(self, key: TransactionKey, name: str, generation: int) -> None:
        entry = self.clients.get(key)
        if entry is not None:
            self._fire(entry, self.run_client, _fired(name, generation))
