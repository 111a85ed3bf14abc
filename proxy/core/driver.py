"""The proxy core's one driver: it feeds events to the pure transaction machines and
response contexts, and carries out the actions and decisions they return.

Everything here runs on the event loop thread and is synchronous: a datagram in
becomes zero or more datagrams out before ``receive`` returns. Time comes from
``loop.time()`` and timers from ``loop.call_later``; the protocol code never reads
a clock (ARCHITECTURE principle 1).
"""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from proxy.core.branch import BranchFactory
from proxy.core.branching import BranchSettings, build_branch
from proxy.core.context import (
    ArmTimer,
    CancelBranch,
    ContextSettings,
    Decision,
    RelayResponse,
    ResponseContext,
    StartBranch,
)
from proxy.core.entries import ClientEntry, ClientTransaction, ServerEntry, ServerTransaction
from proxy.core.forwarding import build_cancel, forward_request
from proxy.core.local import LocalAddresses
from proxy.core.overload import LoadGuard, answers_shed_call, shed_to_tag
from proxy.core.received import stamp_received
from proxy.core.refusals import answer_for_unparsable, oversized_error
from proxy.core.router import route_request
from proxy.core.routing import has_to_tag, preprocess_routes, route_to_next_hop
from proxy.core.validation import Rejection, split_breadth, validate_request
from proxy.policy.directory import Directory
from proxy.policy.plan import RoutingPlan, Stage, Target, TargetRole
from proxy.sip.errors import SipParseError
from proxy.sip.hop import Hop, reconnect_hop, response_hop
from proxy.sip.message import (
    Header,
    Request,
    Response,
    drop_first_value,
    make_response,
    parse_message,
    set_header,
)
from proxy.sip.uri import SipUri, parse_uri
from proxy.sip.via import Via, parse_via
from proxy.transaction.actions import (
    AckTimedOut,
    Action,
    PassUp,
    PassUpAck,
    Send,
    StartTimer,
    Terminated,
    TimedOut,
    TransportError,
)
from proxy.transaction.client_invite import InviteClientTransaction
from proxy.transaction.client_non_invite import NonInviteClientTransaction
from proxy.transaction.events import RequestReceived, ResponseReceived, TimerFired, TransportFailed
from proxy.transaction.keys import (
    client_key,
    client_key_for,
    client_key_of,
    server_key,
    server_key_for_cancelled_invite,
)
from proxy.transaction.server_invite import InviteServerTransaction
from proxy.transaction.server_non_invite import NonInviteServerTransaction
from proxy.transaction.states import TransactionState
from proxy.transaction.timers import TimerSettings

# send(data, hop, fallback): ``fallback`` is where a response goes over a new
# connection if the one its request came on has closed (§18.2.2).
Sender = Callable[[bytes, Hop, Hop | None], None]

_ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, INFO, PRACK, SUBSCRIBE, NOTIFY, REFER, MESSAGE"


@dataclass(frozen=True, slots=True)
class CoreSettings:
    timers: TimerSettings = field(default_factory=TimerSettings)
    timer_c: float = 185.0
    max_breadth: int = 60  # RFC 5393 §4: default for requests without Max-Breadth
    max_message_size: int = 65536


class ProxyCore:
    """The transaction-stateful proxy (RFC 3261 §16) over pure machines."""

    def __init__(self, *, local: LocalAddresses, settings: CoreSettings, send: Sender,
                 loop: asyncio.AbstractEventLoop, directory: Directory, log: Any,
                 guard: LoadGuard | None = None) -> None:
        self._local = local
        self._settings = settings
        self._context_settings = ContextSettings(timer_c=settings.timer_c)
        self._send_bytes = send
        self._loop = loop
        self._directory = directory
        self._log = log
        self._guard = guard
        self._branches = BranchFactory()
        self._server_txs: dict[tuple[Any, ...], ServerEntry] = {}
        self._client_txs: dict[tuple[Any, ...], ClientEntry] = {}
        self._draining = False
        self.last_received = loop.time()  # for a drain that waits for quiet
        self.stats: Counter[str] = Counter()

    # --- lifecycle ----------------------------------------------------------------

    def start_draining(self) -> None:
        """Refuse new INVITEs with 503 from now on; everything else goes on."""
        self._draining = True

    @property
    def live_client_transactions(self) -> int:
        return len(self._client_txs)

    @property
    def live_server_transactions(self) -> int:
        return len(self._server_txs)

    @property
    def in_progress(self) -> int:
        """Server transactions not yet answered with a final response (for draining)."""
        waiting = (TransactionState.TRYING, TransactionState.PROCEEDING)
        return sum(1 for entry in self._server_txs.values() if entry.tx.state in waiting)

    # --- input ------------------------------------------------------------------------

    def receive(self, data: bytes, source: Hop) -> None:
        """One message from the network. Never raises: bad input must not kill the loop."""
        self.last_received = self._loop.time()
        try:
            if len(data) > self._settings.max_message_size:
                self._refuse_oversized(data, source)
                return
            try:
                message = parse_message(data)
            except SipParseError as error:
                self._reject_unparsable(error, source)
                return
            if isinstance(message, Request):
                self._on_request(message, source)
            else:
                self._on_response(message)
        except Exception:  # a bug must cost one message, not the proxy
            self.stats["internal_errors"] += 1
            self._log.exception("message.internal_error", source=f"{source.host}:{source.port}")

    def transport_failed(self, hop: Hop, reason: str) -> None:
        """The transport could not reach ``hop`` (connection refused, ICMP error)."""
        failure = TransportFailed(reason)
        for entry in [e for e in self._client_txs.values() if e.hop == hop]:
            self._guarded(self._run_client, entry,
                          partial(entry.tx.handle, failure, self._now()))

    # --- requests ------------------------------------------------------------------

    def _on_request(self, request: Request, source: Hop) -> None:
        if request.method == "ACK" and answers_shed_call(request.header("to") or ""):
            # §17.1.1.3: the caller ACKs our stateless 503 (see ``_shed``); it ends
            # here, before any Via or transaction work, as the refusal did.
            self.stats["shed_acks"] += 1
            return
        try:
            top = parse_via(request.top_via)
        except SipParseError as error:
            self.stats["dropped_bad_via"] += 1
            self._log.info("message.dropped", reason=error.reason, call_id=request.call_id)
            return
        request, top = stamp_received(request, top, source)
        if request.method == "ACK":
            self._on_ack(request, top)
            return
        key = server_key(request, top)
        existing = self._server_txs.get(key)
        if existing is not None:
            self._run_server(existing, existing.tx.handle(RequestReceived(request), self._now()))
            return
        if self._sheds(request):
            self._shed(request, top, source)
            return
        entry = self._new_server(request, key, top, source)
        try:
            self._process(entry, request, source)
        except SipParseError as error:
            # A header the routing needed turned out unusable: say which (§16.3 step 1).
            self._answer_unless_answered(entry, error.status_hint, error.reason)
        except Exception:
            # A bug must cost one call an error response, never a stuck transaction.
            self.stats["internal_errors"] += 1
            self._log.exception("request.internal_error", call_id=request.call_id)
            self._answer_unless_answered(entry, 500, "Server Internal Error")

    def _sheds(self, request: Request) -> bool:
        """A new call (an INVITE outside a dialog, not a retransmission) that the load
        guard does not admit. Asked before any transaction or routing work."""
        return (self._guard is not None and request.method == "INVITE"
                and not has_to_tag(request) and not self._guard.admit_new_call(self._now()))

    def _shed(self, request: Request, top: Via, source: Hop) -> None:
        """RFC 3261 §21.5.4 / RFC 6357 §4: refuse a new call statelessly (§16.8 allows a
        proxy to answer without a transaction), so refusing costs little more than the
        parse. The To tag lets its ACK be recognised and dropped (see ``_on_request``)."""
        assert self._guard is not None
        self.stats["shed"] += 1
        response = make_response(request, 503, "Service Unavailable (overloaded)",
                                 to_tag=shed_to_tag(secrets.token_hex(4)),
                                 extra=(("Retry-After", str(self._guard.retry_after)),))
        self._send(response, response_hop(top, source))

    def _process(self, entry: ServerEntry, request: Request, source: Hop) -> None:
        if request.method == "CANCEL":
            self._on_cancel(entry, request)
            return
        rejection = self._refusal(request)
        if rejection is not None:
            self._answer(entry, rejection.status, rejection.reason, rejection.extra_headers)
            return
        self._route(entry, preprocess_routes(request, self._local), source)

    def _answer_unless_answered(self, entry: ServerEntry, status: int, reason: str) -> None:
        """Answer a request whose processing failed, cancelling any branch it started."""
        context = entry.context
        if context is not None:
            if context.final_sent:
                return
            self._guarded(self._decide, entry, context.abort)
        if entry.tx.state in (TransactionState.TRYING, TransactionState.PROCEEDING):
            self._answer(entry, status, reason)

    def _refusal(self, request: Request) -> Rejection | None:
        if self._draining and request.method == "INVITE" and not has_to_tag(request):
            return Rejection(503, "Service Unavailable (shutting down)", (("Retry-After", "30"),))
        return validate_request(request, self._local)

    def _new_server(self, request: Request, key: tuple[Any, ...], top: Via,
                    source: Hop) -> ServerEntry:
        reliable = source.reliable
        timers = self._settings.timers
        tx: ServerTransaction
        if request.method == "INVITE":
            tx = InviteServerTransaction(request, reliable=reliable, timers=timers)
        else:
            tx = NonInviteServerTransaction(request, reliable=reliable, timers=timers)
        # The interface the request came in on: same transport and address family.
        interface = self._local.interface_for(source.transport, source.host)
        entry = ServerEntry(tx, key, response_hop(top, source), interface, request)
        if reliable:
            entry.fallback_hop = reconnect_hop(top, source)
        self._server_txs[key] = entry
        self._log.debug("tx.server.created", call_id=request.call_id, method=request.method,
                        branch=key[0])
        self._run_server(entry, tx.start(self._now()))
        return entry

    def _route(self, entry: ServerEntry, request: Request, source: Hop) -> None:
        """§16.5: pick the targets; an initial request for a number asks the policy."""
        request_uri = _parse_uri_or_none(request.uri)
        names_us = request_uri is not None and self._local.is_local(request_uri)
        in_dialog = has_to_tag(request)
        if request.header_values("route") or (in_dialog and not names_us):
            # Pre-routed (in-dialog, or a pre-loaded route set): the Route set or the
            # Request-URI says where. RFC 3325 §5: a P-Asserted-Identity goes on only
            # from a trusted peer (for initial requests ``decide`` says the same).
            entry.strip_asserted_identity = not self._directory.is_trusted_peer(source.host)
            self._fork(entry, request, _as_is_plan(request.uri, self._settings.timer_c))
            return
        if in_dialog:
            # §12.2: a mid-dialog request for us that carries no Route of ours belongs
            # to no dialog we are in.
            self._answer(entry, 481, "Call/Transaction Does Not Exist (no route set)")
            return
        if names_us and request_uri is not None and request_uri.user is None:
            self._answer_for_proxy(entry, request)
            return
        decision = route_request(request, source.host, self._directory, self._now())
        self._log.info("route.decision", call_id=request.call_id, **decision.log_fields())
        if decision.plan is None:
            self._answer(entry, 404, f"Not Found (no line or route for {request.uri[:60]})")
            return
        entry.strip_asserted_identity = not decision.trust_asserted_identity
        self._fork(entry, request, decision.plan)

    def _answer_for_proxy(self, entry: ServerEntry, request: Request) -> None:
        """Requests addressed to the proxy itself, not to a user."""
        if request.method == "OPTIONS":
            self._answer(entry, 200, "OK", (("Allow", _ALLOW),))
        elif request.method == "REGISTER":
            self._answer(entry, 405, "Method Not Allowed (not a registrar)", (("Allow", _ALLOW),))
        else:
            self._answer(entry, 404, "Not Found (no user in the Request-URI)")

    def _fork(self, entry: ServerEntry, request: Request, plan: RoutingPlan) -> None:
        widest = max((len(stage.targets) for stage in plan.stages), default=1)
        entry.breadth = split_breadth(request, widest, self._settings.max_breadth)
        if entry.breadth is None:
            # RFC 5393 §5: not enough breadth left to fork this widely.
            self._answer(entry, 440, "Max-Breadth Exceeded")
            return
        entry.context = ResponseContext(request, plan, secrets.token_hex(4),
                                        self._context_settings)
        self._decide(entry, entry.context.start())

    def _on_ack(self, ack: Request, top: Via) -> None:
        entry = self._server_txs.get(server_key(ack, top))
        if entry is not None:
            # §17.2.1: the ACK for our non-2xx final is absorbed hop by hop.
            self._run_server(entry, entry.tx.handle(RequestReceived(ack), self._now()))
            return
        # §16.6 / §13.2.2.4: the ACK for a 2xx is its own transaction, end to end.
        self._forward_stateless(preprocess_routes(ack, self._local), top.branch or "")

    def _on_cancel(self, entry: ServerEntry, cancel: Request) -> None:
        """§16.10: 200 for the CANCEL, then cancel the fork it targets."""
        invite = self._server_txs.get(server_key_for_cancelled_invite(cancel))
        if invite is None or invite.context is None:
            self._answer(entry, 481, "Call/Transaction Does Not Exist")
            return
        self._answer(entry, 200, "OK")
        self._decide(invite, invite.context.on_cancel())

    def _forward_stateless(self, request: Request, upstream_branch: str) -> None:
        """§16.11 stateless forwarding, used for ACKs of 2xx responses."""
        if request.max_forwards == 0:
            return
        try:
            request, hop = route_to_next_hop(request, "UDP")
            interface = self._local.interface_for(hop.transport, hop.host)
        except (SipParseError, LookupError):
            self.stats["dropped_unroutable"] += 1
            return
        if self._local.is_local_host_port(hop.host, hop.port):
            self.stats["dropped_unroutable"] += 1
            return
        branch = self._branches.stateless_branch(request, upstream_branch)
        forwarded = forward_request(request, uri=request.uri, via=interface.via(branch))
        self._send(forwarded, hop)

    # --- responses ------------------------------------------------------------------

    def _on_response(self, response: Response) -> None:
        try:
            key = client_key(response)
        except SipParseError:
            self.stats["dropped_bad_response"] += 1
            return
        entry = self._client_txs.get(key)
        if entry is None:
            # RFC 6026 §7.3 replaces RFC 3261 §16.7's stateless forwarding of unmatched
            # responses: late 2xx are caught by the Accepted state (Timer M), and
            # anything that matches no transaction is dropped, which also keeps the
            # proxy from reflecting forged responses.
            self.stats["dropped_stray_response"] += 1
            return
        self._run_client(entry, entry.tx.handle(ResponseReceived(response), self._now()))

    # --- running transactions ----------------------------------------------------------

    def _run_common(self, entry: ServerEntry | ClientEntry, action: Action,
                    fire: Callable[..., None]) -> bool:
        """Carry out the actions every transaction has; False if ``action`` is another."""
        if isinstance(action, Send):
            self._send(action.message, entry.hop, entry.fallback_hop)
            return True
        if isinstance(action, StartTimer):
            entry.timers.start(self._loop, action.name, action.delay, fire, entry, action.name,
                               action.generation)
            return True
        return False

    def _run_server(self, entry: ServerEntry, actions: list[Action]) -> None:
        for action in actions:
            if self._run_common(entry, action, self._server_timer):
                continue
            if isinstance(action, PassUpAck):
                # RFC 6026 §7.1: an ACK matching an Accepted INVITE acknowledges a 2xx;
                # it travels end to end like any other 2xx ACK.
                ack = action.request
                self._forward_stateless(preprocess_routes(ack, self._local),
                                        parse_via(ack.top_via).branch or "")
            elif isinstance(action, AckTimedOut):
                self.stats["ack_timeouts"] += 1
                self._log.info("tx.server.no_ack", call_id=entry.received.call_id,
                               branch=entry.key[0])
            elif isinstance(action, Terminated):
                self._server_txs.pop(entry.key, None)
                entry.timers.cancel_all()
                self._log.debug("tx.server.terminated", call_id=entry.received.call_id,
                                branch=entry.key[0])

    def _run_client(self, entry: ClientEntry, actions: list[Action]) -> None:
        for action in actions:
            if self._run_common(entry, action, self._client_timer):
                continue
            if isinstance(action, PassUp):
                self._pass_up(entry, action.response)
            elif isinstance(action, TimedOut):
                self._on_branch_context(entry, ResponseContext.on_branch_timeout)
            elif isinstance(action, TransportError):
                self._on_branch_context(entry, ResponseContext.on_branch_transport_error)
            elif isinstance(action, Terminated):
                self._client_txs.pop(entry.key, None)
                entry.timers.cancel_all()
                self._log.debug("tx.client.terminated", call_id=entry.tx.request.call_id,
                                branch=entry.key[0])

    def _pass_up(self, entry: ClientEntry, response: Response) -> None:
        self._log.debug("tx.client.response", call_id=response.call_id, branch=entry.key[0],
                        status=response.status)
        server = entry.server
        if server is None or server.context is None:
            return
        # Our Via comes off before the context sees it: every response it holds is
        # ready to go upstream (§16.7 step 9).
        upstream = response.with_headers(drop_first_value(response.headers, "via"))
        self._decide(server, server.context.on_response(entry.branch_id, upstream))

    def _on_branch_context(self, entry: ClientEntry,
                           event: Callable[[ResponseContext, int], list[Decision]]) -> None:
        """Tell the branch's fork that the branch timed out or could not be reached."""
        server = entry.server
        if server is not None and server.context is not None:
            self._decide(server, event(server.context, entry.branch_id))

    def _server_timer(self, entry: ServerEntry, name: str, generation: int) -> None:
        self._guarded(self._run_server, entry,
                      lambda: entry.tx.handle(TimerFired(name, generation), self._now()))

    def _client_timer(self, entry: ClientEntry, name: str, generation: int) -> None:
        self._guarded(self._run_client, entry,
                      lambda: entry.tx.handle(TimerFired(name, generation), self._now()))

    def _context_timer(self, entry: ServerEntry, name: str, generation: int,
                       branch_id: int | None) -> None:
        context = entry.context
        if context is None:
            return
        self._guarded(self._decide, entry,
                      lambda: context.on_timer(name, generation, branch_id))

    def _guarded(self, run: Callable[[Any, list[Any]], None], entry: Any,
                 produce: Callable[[], list[Any]]) -> None:
        try:
            run(entry, produce())
        except Exception:
            self.stats["internal_errors"] += 1
            self._log.exception("timer.internal_error")

    # --- carrying out decisions ----------------------------------------------------------

    def _decide(self, entry: ServerEntry, decisions: list[Decision]) -> None:
        for decision in decisions:
            if isinstance(decision, StartBranch):
                self._start_branch(entry, decision)
            elif isinstance(decision, RelayResponse):
                self._relay(entry, decision.response)
            elif isinstance(decision, CancelBranch):
                self._cancel_branch(entry, decision.branch_id, decision.reason)
            elif isinstance(decision, ArmTimer):
                entry.context_timers.start(
                    self._loop, (decision.name, decision.branch_id), decision.delay,
                    self._context_timer, entry, decision.name, decision.generation,
                    decision.branch_id)
        if entry.context is not None and entry.context.finished:
            entry.context_timers.cancel_all()
            self._abandon_silent_branches(entry)

    def _abandon_silent_branches(self, entry: ServerEntry) -> None:
        """A branch that never answers our CANCEL would keep its INVITE client
        transaction forever (Timer B does not run once it is Proceeding and Timer C
        belongs to the finished fork): give it 64*T1 more, then drop it."""
        waiting = (TransactionState.CALLING, TransactionState.PROCEEDING)
        for branch in entry.branches.values():
            if branch.tx.state in waiting and not branch.timers.running("abandon"):
                branch.timers.start(self._loop, "abandon",
                                    self._settings.timers.transaction_timeout,
                                    self._abandon, branch)

    def _abandon(self, branch: ClientEntry) -> None:
        if branch.tx.state in (TransactionState.CALLING, TransactionState.PROCEEDING):
            self.stats["branches_abandoned"] += 1
            self._client_txs.pop(branch.key, None)
            branch.timers.cancel_all()

    def _start_branch(self, entry: ServerEntry, decision: StartBranch) -> None:
        context = entry.context
        assert context is not None
        entry.from_rewritten = entry.from_rewritten or bool(decision.target.display_prefix)
        branch = self._branches.new_branch(entry.received)
        settings = BranchSettings(entry.original_uri, entry.interface,
                                  entry.strip_asserted_identity, entry.breadth)
        try:
            outgoing = build_branch(context.request, decision.target, decision.diversion_reason,
                                    settings, self._local, branch)
        except (SipParseError, LookupError) as error:
            self._log.warning("branch.unroutable", call_id=context.request.call_id,
                              target=decision.target.uri, reason=str(error))
            self._decide(entry, context.on_branch_transport_error(decision.branch_id))
            return
        forwarded, hop = outgoing.request, outgoing.hop
        tx: ClientTransaction
        if forwarded.method == "INVITE":
            tx = InviteClientTransaction(forwarded, reliable=hop.reliable,
                                         timers=self._settings.timers)
        else:
            tx = NonInviteClientTransaction(forwarded, reliable=hop.reliable,
                                            timers=self._settings.timers)
        client = ClientEntry(tx, client_key_of(branch, forwarded.method), hop, entry,
                             decision.branch_id)
        entry.branches[decision.branch_id] = client
        self._client_txs[client.key] = client
        self._log.debug("tx.client.created", call_id=forwarded.call_id, branch=branch,
                        target=decision.target.uri, role=decision.target.role.value)
        self._run_client(client, tx.start(self._now()))

    def _relay(self, entry: ServerEntry, response: Response) -> None:
        if entry.from_rewritten:
            # The callee saw a From with a display prefix ("[VIP] "); the caller gets
            # its own From back (§8.1.3.3), and does not learn how it was labelled.
            response = response.with_headers(
                set_header(response.headers, "From", entry.received.header("from") or ""))
        tx = entry.tx
        accepting = tx.state in (TransactionState.PROCEEDING, TransactionState.TRYING) or (
            tx.state is TransactionState.ACCEPTED and response.status // 100 == 2
        )
        if accepting:
            self._log.debug("tx.server.response", call_id=response.call_id,
                            branch=entry.key[0], status=response.status)
            self._run_server(entry, tx.send_response(response, self._now()))
        elif response.status // 100 == 2 and entry.received.method == "INVITE":
            # A 2xx racing a CANCEL after our 487: the dialog exists downstream, so the
            # caller must see it to ACK and BYE it (RFC 3261 §16.7 step 5: every 2xx
            # to an INVITE is forwarded, even after a final response).
            self._send(response, entry.hop, entry.fallback_hop)

    def _cancel_branch(self, entry: ServerEntry, branch_id: int, reason: str | None) -> None:
        branch = entry.branches.get(branch_id)
        if branch is None:
            return  # the branch never left (unroutable target): nothing to cancel
        cancel = build_cancel(branch.tx.request, reason)
        tx = NonInviteClientTransaction(cancel, reliable=branch.hop.reliable,
                                        timers=self._settings.timers)
        client = ClientEntry(tx, client_key_for(cancel), branch.hop, None, branch_id)
        self._client_txs[client.key] = client
        self._log.debug("tx.cancel.sent", call_id=cancel.call_id, branch=client.key[0],
                        reason=reason)
        self._run_client(client, tx.start(self._now()))

    # --- answering and sending ---------------------------------------------------------

    def _answer(self, entry: ServerEntry, status: int, reason: str,
                extra: tuple[Header, ...] = ()) -> None:
        response = make_response(entry.received, status, reason, to_tag=secrets.token_hex(4),
                                 extra=extra)
        if status >= 300:
            self._log.info("request.refused", call_id=entry.received.call_id,
                           method=entry.received.method, status=status, reason=reason)
        self._run_server(entry, entry.tx.send_response(response, self._now()))

    def _refuse_oversized(self, data: bytes, source: Hop) -> None:
        self.stats["oversized"] += 1
        self._reject_unparsable(oversized_error(data, self._settings.max_message_size), source)

    def _reject_unparsable(self, error: SipParseError, source: Hop) -> None:
        """§16.3 step 1: answer a broken request with the status the parser names
        (its reason says what is wrong); drop anything that cannot be answered."""
        self.stats["parse_errors"] += 1
        where = f"{source.host}:{source.port}"
        answer = answer_for_unparsable(error, source)
        if answer is None:
            self._log.info("message.dropped", reason=error.reason, source=where)
            return
        self._log.info("message.rejected", status=error.status_hint, reason=error.reason,
                       source=where)
        self._send(*answer)

    def _send(self, message: Request | Response, hop: Hop, fallback: Hop | None = None) -> None:
        if hop.reliable and not message.has_header("content-length"):
            # RFC 3261 §18.3 / §20.14: mandatory on streams, optional over UDP.
            message = message.with_headers(
                (*message.headers, ("Content-Length", str(len(message.body)))))
        self._send_bytes(message.serialize(), hop, fallback)

    def _now(self) -> float:
        return self._loop.time()


# --- helpers ---------------------------------------------------------------------------


def _parse_uri_or_none(text: str) -> SipUri | None:
    try:
        uri = parse_uri(text)
    except SipParseError:
        return None
    return uri if isinstance(uri, SipUri) else None


def _as_is_plan(uri: str, timeout: float) -> RoutingPlan:
    return RoutingPlan((Stage((Target(uri, TargetRole.ROUTE),), timeout),))


