"""Carrying out a fork's decisions (RFC 3261 §16.6-§16.10): start a branch, relay a
response, cancel a branch, arm a stage timer or Timer C. The response context
decides (``proxy.core.context``); this module only acts, then publishes what
happened as call events.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from typing import Any, assert_never

from proxy.core.branch import BranchFactory
from proxy.core.branching import BranchSettings, build_branch
from proxy.core.context import (
    ArmTimer,
    CancelBranch,
    Decision,
    RelayResponse,
    StartBranch,
)
from proxy.core.entries import ClientEntry, ServerEntry
from proxy.core.events import (
    BranchResponded,
    BranchRung,
    CallAnswered,
    CallSettled,
    EventBus,
    InDialogAnswered,
)
from proxy.core.failover import HopFailure, fails_over, hops_after
from proxy.core.forwarding import build_cancel
from proxy.core.local import LocalAddresses
from proxy.core.routing import has_to_tag
from proxy.core.timer_queues import TimerQueues
from proxy.core.transactions import UNANSWERED, MessageSender, TransactionTable
from proxy.sip.errors import SipParseError
from proxy.sip.hop import NO_NAMES, Hop
from proxy.sip.message import Response, set_header
from proxy.transaction.keys import TransactionKey, client_key_for, client_key_of
from proxy.transaction.states import TransactionState
from proxy.transaction.timers import TimerSettings

# INVITE client transactions still waiting for a final response.
_WAITING = (TransactionState.CALLING, TransactionState.PROCEEDING)


class Forks:
    """Runs the decisions of every server transaction's response context."""

    def __init__(self, *, table: TransactionTable, local: LocalAddresses,
                 loop: asyncio.AbstractEventLoop, queues: TimerQueues, timers: TimerSettings,
                 send: MessageSender, events: EventBus, stats: Counter[str], log: Any,
                 on_error: Callable[[str], None], udp_request_limit: int,
                 tracing: bool) -> None:
        self._table = table
        self._local = local
        self._loop = loop
        self._queues = queues
        self._timers = timers
        self._send = send
        self._events = events
        self._stats = stats
        self._log = log
        self._tracing = tracing  # per-transaction debug lines (``ProxyCore``)
        self._on_error = on_error
        self._udp_request_limit = udp_request_limit
        self._branches = BranchFactory()
        self.names = NO_NAMES  # the configured host names' hops, set as they resolve

    def decide(self, entry: ServerEntry, decisions: list[Decision]) -> None:
        for decision in decisions:
            match decision:
                case StartBranch():
                    self._start_branch(entry, decision)
                case RelayResponse(response, branch_id):
                    self.relay(entry, response, branch_id)
                case CancelBranch(branch_id, reason):
                    self._cancel_branch(entry, branch_id, reason)
                case ArmTimer(name, delay, generation, branch_id):
                    entry.context_timers.start(self._queues, (name, branch_id), delay,
                                               self._context_timer, entry.key, name, generation,
                                               branch_id)
                case _:
                    assert_never(decision)
        if entry.context is not None and entry.context.finished:
            entry.context_timers.cancel_all()
            self._abandon_silent_branches(entry)

    def relay(self, entry: ServerEntry, response: Response, branch_id: int | None = None) -> None:
        """Send ``response`` upstream through the server transaction (§16.7 step 9)."""
        if entry.from_rewritten:
            # The callee saw a From with a display prefix ("[VIP] ") or the line the
            # call was placed on; the caller gets its own From back (§8.1.3.3).
            response = response.with_headers(
                set_header(response.headers, "From", entry.received.header("from") or ""))
        tx = entry.tx
        success = response.status // 100 == 2
        if tx.state in UNANSWERED or (tx.state is TransactionState.ACCEPTED and success):
            if self._tracing:
                self._log.debug("tx.server.response", call_id=response.call_id,
                                branch=entry.key[0], status=response.status)
            if response.status >= 200 and tx.state in UNANSWERED:
                self._publish_final(entry, response, branch_id)
            self._table.respond(entry, response)
        elif success and entry.received.method == "INVITE":
            # A 2xx after a final response went up (a CANCEL's answers waited out, the
            # drain): the dialog exists downstream, so the caller must see it to ACK
            # and BYE it (RFC 3261 §16.7 step 5: every 2xx to an INVITE is forwarded,
            # even after a final response).
            self._send(response, entry.hop, entry.fallback_hop)

    def _publish_final(self, entry: ServerEntry, response: Response,
                       branch_id: int | None) -> None:
        if not self._events.listening:
            return
        now = self._loop.time()
        received = entry.received
        if has_to_tag(received):
            # Only a request the proxy forwarded (it has a response context) touched
            # the dialog: a BYE refused here (no valid route token, a loop) ended
            # nothing, and must not end the call on the line.
            if entry.context is not None:
                self._events.publish(InDialogAnswered(received, response, now))
            return
        context = entry.context
        if branch_id is not None and context is not None:
            target = context.branches[branch_id].target
            self._events.publish(CallAnswered(received.call_id, branch_id, target.uri,
                                              target.user, now))
        self._events.publish(CallSettled(received.call_id, received.method, response.status,
                                         now))

    def publish_branch_response(self, entry: ServerEntry, branch_id: int,
                                response: Response) -> None:
        """What a branch of an initial INVITE heard, for the dialog state (early
        dialogs are per branch: RFC 3261 §12.1, RFC 4235 §3.7.1)."""
        received = entry.received
        if (self._events.listening and received.method == "INVITE"
                and not has_to_tag(received)):
            self._events.publish(BranchResponded(received.call_id, branch_id, response,
                                                 self._loop.time()))

    # --- branches ------------------------------------------------------------------

    def fail_over(self, client: ClientEntry, failure: HopFailure | None) -> bool:
        """RFC 3263 §4.3: a branch whose hop timed out, failed or answered 503 goes to
        its target's next hop as a new transaction; False when the failure stands."""
        server, decision = client.server, client.start
        if server is None or server.context is None or decision is None or failure is None:
            return False
        hops = hops_after(failure, client.hop, client.next_hops)
        waiting = (server.context.awaits(client.branch_id)
                   and server.branches.get(client.branch_id) == client.key)
        if not fails_over(failure, len(hops), waiting):
            return False
        self._stats["branch_failovers"] += 1
        self._log.info("branch.failover", call_id=client.tx.request.call_id,
                       target=decision.target.uri, failed=f"{client.hop.host}:{client.hop.port}",
                       failure=failure.value, next=f"{hops[0].host}:{hops[0].port}",
                       next_transport=hops[0].transport)
        server.context.on_branch_restarted(client.branch_id)
        self._start_branch(server, decision, hops)
        return True

    def _start_branch(self, entry: ServerEntry, decision: StartBranch,
                      hops: tuple[Hop, ...] = ()) -> None:
        context = entry.context
        assert context is not None
        entry.from_rewritten = (entry.from_rewritten or bool(decision.target.display_prefix)
                                or entry.calling_identity is not None)
        branch = self._branches.new_branch(entry.received)
        settings = BranchSettings(entry.original_uri, entry.interface,
                                  entry.strip_asserted_identity, entry.breadth,
                                  entry.route_token, entry.calling_identity,
                                  entry.caller_flow)
        try:
            outgoing = build_branch(context.request, decision.target, decision.diversion,
                                    settings, self._local, branch, self.names, hops,
                                    udp_request_limit=self._udp_request_limit)
        except (SipParseError, LookupError) as error:
            self._log.warning("branch.unroutable", call_id=context.request.call_id,
                              target=decision.target.uri, reason=str(error))
            self.decide(entry, context.on_branch_unroutable(decision.branch_id, str(error)))
            return
        forwarded, hop = outgoing.request, outgoing.hop
        key = client_key_of(branch, forwarded.method)
        client = ClientEntry(self._table.new_client_transaction(forwarded, hop), key, hop,
                             entry, decision.branch_id)
        client.start, client.next_hops = decision, outgoing.next_hops
        entry.branches[decision.branch_id] = key
        if self._tracing:
            self._log.debug("tx.client.created", call_id=forwarded.call_id, branch=branch,
                            target=decision.target.uri, role=decision.target.role.value)
        if self._events.listening and not has_to_tag(entry.received) and not hops:
            self._events.publish(BranchRung(forwarded.call_id, decision.branch_id,
                                            decision.target.uri, decision.target.user,
                                            self._loop.time(), decision.target.role))
        self._table.add_client(client)

    def _cancel_branch(self, entry: ServerEntry, branch_id: int, reason: str | None) -> None:
        branch = self._branch(entry, branch_id)
        if branch is None:
            return  # never left (unroutable target) or already over: nothing to cancel
        cancel = build_cancel(branch.tx.request, reason)
        tx = self._table.new_client_transaction(cancel, branch.hop)
        client = ClientEntry(tx, client_key_for(cancel), branch.hop, None, branch_id)
        if self._tracing:
            self._log.debug("tx.cancel.sent", call_id=cancel.call_id, branch=client.key[0],
                            reason=reason)
        self._table.add_client(client)

    def _branch(self, entry: ServerEntry, branch_id: int) -> ClientEntry | None:
        key = entry.branches.get(branch_id)
        return None if key is None else self._table.clients.get(key)

    def _abandon_silent_branches(self, entry: ServerEntry) -> None:
        """A branch that never answers our CANCEL would keep its INVITE client
        transaction forever (Timer B does not run once it is Proceeding and Timer C
        belongs to the finished fork): give it 64*T1 more, then drop it."""
        for branch_id in entry.branches:
            branch = self._branch(entry, branch_id)
            if branch is not None and branch.tx.state in _WAITING and not branch.timers.running(
                    "abandon"):
                branch.timers.start(self._queues, "abandon", self._timers.transaction_timeout,
                                    self._abandon, branch.key)

    def _abandon(self, key: TransactionKey) -> None:
        branch = self._table.clients.get(key)
        if branch is not None and branch.tx.state in _WAITING:
            self._stats["branches_abandoned"] += 1
            self._log.info("branch.abandoned", call_id=branch.tx.request.call_id,
                           branch=key[0])
            self._table.drop_client(branch)

    def _context_timer(self, key: TransactionKey, name: str, generation: int,
                       branch_id: int | None) -> None:
        entry = self._table.servers.get(key)
        if entry is None or entry.context is None:
            return
        try:
            self.decide(entry, entry.context.on_timer(name, generation, branch_id))
        except Exception:
            self._on_error("context_timer")

