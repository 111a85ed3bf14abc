"""The proxy core's driver: it turns each message into facts, asks the pure parts
what to do, and carries that out.

Everything runs on the event loop thread and is synchronous: a datagram in
becomes zero or more datagrams out before ``receive`` returns. Time comes from
``loop.time()``; the protocol code never reads a clock (ARCHITECTURE principle 1).
The decisions live elsewhere: :mod:`proxy.core.classify` says what a request
gets, the response context what a fork does (run by :mod:`proxy.core.forks`),
the transaction machines what a transaction sends (run by
:mod:`proxy.core.transactions`).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, assert_never

from proxy.core.branch import BranchFactory
from proxy.core.branching import DIALOG_FORMING
from proxy.core.classify import (
    Answer,
    Authentication,
    Classifier,
    Forward,
    RequestFacts,
    Serve,
)
from proxy.core.context import ContextSettings, Decision, ResponseContext
from proxy.core.decorate import calling_identity
from proxy.core.entries import ClientEntry, FinalCallback, ServerEntry
from proxy.core.events import CallRouted, EventBus, RequestRefused
from proxy.core.failover import HopFailure, hop_failure
from proxy.core.forks import Forks
from proxy.core.forwarding import forward_request
from proxy.core.line_limit import full_line_answer
from proxy.core.local import LocalAddresses
from proxy.core.locations import (
    Locate,
    expand_registered,
    has_registered_targets,
    rings_nobody,
)
from proxy.core.overload import Admission, answers_shed_call, shed_to_tag
from proxy.core.pickup import LineDialogs
from proxy.core.received import stamp_received
from proxy.core.refusal_log import RefusalThrottle
from proxy.core.refusals import answer_for_unparsable, oversized_error
from proxy.core.route_token import RouteTokens
from proxy.core.routing import has_to_tag, preprocess_routes
from proxy.core.services import Service
from proxy.core.timer_queues import TimerQueues
from proxy.core.transactions import UNANSWERED, TransactionTable
from proxy.core.validation import split_breadth
from proxy.core.workers import first_worker_serves
from proxy.defaults import (
    MAX_BREADTH,
    MAX_MESSAGE_SIZE,
    TIMER_C_SECONDS,
    TIMER_RESOLUTION_SECONDS,
    UDP_REQUEST_LIMIT,
)
from proxy.policy.decide import Decision as PolicyDecision
from proxy.policy.plan import RoutingPlan
from proxy.policy.trust import Source, TrustModel
from proxy.sip.address import address_tag
from proxy.sip.errors import SipParseError
from proxy.sip.hop import Hop, ResolvedNames, maddr_hop, reconnect_hop, response_hop
from proxy.sip.message import (
    Header,
    Message,
    Request,
    Response,
    drop_first_value,
    make_response,
    parse_message,
)
from proxy.sip.via import Via
from proxy.transaction.keys import client_key, client_key_for, server_key
from proxy.transaction.keys import server_key_for_cancelled_invite as invite_key_of
from proxy.transaction.timers import TimerSettings

# send(data, hop, fallback): ``fallback`` is where a response goes over a new
# connection if the one its request came on has closed (§18.2.2).
Sender = Callable[[bytes, Hop, Hop | None], None]


@dataclass(frozen=True, slots=True)
class CoreSettings:
    timers: TimerSettings = field(default_factory=TimerSettings)
    timer_c: float = TIMER_C_SECONDS
    max_breadth: int = MAX_BREADTH
    max_message_size: int = MAX_MESSAGE_SIZE
    udp_request_limit: int = UDP_REQUEST_LIMIT  # RFC 3261 §18.1.1; 0: never over TCP


class ProxyCore:
    """The transaction-stateful proxy (RFC 3261 §16) over pure machines."""

    def __init__(self, *, local: LocalAddresses, settings: CoreSettings, send: Sender,
                 loop: asyncio.AbstractEventLoop, trust: TrustModel, route_secret: bytes,
                 log: Any, services: Mapping[str, Service] | None = None,
                 guard: Admission | None = None, auth: Authentication | None = None,
                 registrar_hosts: frozenset[str] = frozenset(),
                 presence_hosts: frozenset[str] = frozenset(), locate: Locate | None = None,
                 wall_clock: Callable[[], float] | None = None,
                 line_full: Callable[[str], bool] | None = None,
                 dialogs: LineDialogs | None = None,
                 first_worker: Callable[[bytes, Hop], None] | None = None) -> None:
        self._local = local
        self._settings = settings
        self._context_settings = ContextSettings(
            timer_c=settings.timer_c, cancel_wait=settings.timers.cancel_wait)
        self._send_bytes = send
        self._loop = loop
        self._trust = trust
        self._tokens = RouteTokens(route_secret)
        self._classifier = Classifier(local, trust, self._tokens, settings.timer_c, auth,
                                      registrar_hosts, presence_hosts, dialogs)
        self._locate = locate
        self._line_full = line_full  # the dialog state's answer: no room for another call
        # Another worker's handoff to the first (``proxy.core.workers``); None in the
        # first worker and in a single process, which serve every request.
        self._first_worker = first_worker
        # Unix time for what outlives the process (registrations, digest nonces);
        # the loop's clock for everything else.
        self._wall_clock = wall_clock or loop.time
        self._log = log
        # Per-transaction lines are debug: their fields (a Call-ID read off a message
        # just built) are gathered only when that level is on, fixed at start-up.
        self._tracing = log.is_enabled_for(logging.DEBUG)
        self._services: dict[str, Service] = dict(services or {})
        self._guard = guard
        self._throttle = RefusalThrottle()
        self._stateless_branches = BranchFactory()
        self._draining = False
        self.events = EventBus()
        self.last_received = loop.time()  # for a drain that waits for quiet
        self.stats: Counter[str] = Counter()
        # Traffic by method and by status, for the metrics. A method nobody defined
        # counts as OTHER: a label per made-up method would let anyone grow the table.
        self.requests_received: Counter[str] = Counter()
        self.responses_sent: Counter[int] = Counter()
        self.timer_queues = TimerQueues(loop, TIMER_RESOLUTION_SECONDS)
        self._table = TransactionTable(loop=loop, queues=self.timer_queues, timers=settings.timers,
                                       send=self._send, user=self, log=log,
                                       tracing=self._tracing)
        self._forks = Forks(table=self._table, local=local, loop=loop, queues=self.timer_queues,
                            timers=settings.timers, send=self._send, events=self.events,
                            stats=self.stats, log=log, on_error=self.on_transaction_error,
                            udp_request_limit=settings.udp_request_limit,
                            tracing=self._tracing)

    # --- lifecycle ----------------------------------------------------------------

    def start_draining(self) -> None:
        """Refuse new INVITEs with 503 from now on; everything else goes on."""
        self._draining = True

    def end_calls_in_progress(self, reason: str) -> int:
        """The drain is over: every request still unanswered gets a 503 and every
        branch it rings a CANCEL (RFC 3261 §16.10), so nobody waits on a proxy that
        is gone. Returns how many were ended."""
        unanswered = self._table.unanswered()
        for entry in unanswered:
            self._answer_unless_answered(entry, 503, f"Service Unavailable ({reason})",
                                         (("Retry-After", "30"),))
        return len(unanswered)

    @property
    def live_client_transactions(self) -> int:
        return len(self._table.clients)

    @property
    def live_server_transactions(self) -> int:
        return len(self._table.servers)

    @property
    def in_progress(self) -> int:
        """Server transactions not yet answered with a final response (for draining)."""
        return self._table.unanswered_count

    def use_names(self, names: ResolvedNames) -> None:
        """The configured host names resolved anew (``proxy.names``): new branches go
        to their hops, and the trust model counts their addresses."""
        self._trust = TrustModel(self._trust.directory, self._trust.untrusted_calls, names)
        self._classifier = replace(self._classifier, trust=self._trust)
        self._forks.names = names

    def use_directory(self, trust: TrustModel, auth: Authentication | None) -> None:
        """A reloaded configuration: the next request is classified with it. Calls
        in progress keep the plan they were given; the resolved names stay."""
        self._trust = replace(trust, names=self._trust.names)
        self._classifier = replace(self._classifier, trust=self._trust, auth=auth)

    def add_service(self, name: str, service: Service) -> None:
        self._services[name] = service

    def originate(self, request: Request, hop: Hop, on_final: FinalCallback) -> None:
        """Send a request of the proxy's own (a service's NOTIFY) over a client
        transaction; ``on_final`` gets its final response, or a synthetic 408 or
        503 when it timed out or could not be sent."""
        tx = self._table.new_client_transaction(request, hop)
        self._table.add_client(ClientEntry(tx, client_key_for(request), hop, None, 0, on_final))

    # --- input ------------------------------------------------------------------------

    def receive(self, data: bytes, source: Hop) -> None:
        """One message from the network. Never raises: bad input must not kill the loop."""
        self.last_received = self._loop.time()
        try:
            if len(data) > self._settings.max_message_size:
                self.stats["oversized"] += 1
                self._reject_unparsable(
                    oversized_error(data, self._settings.max_message_size), source)
                return
            try:
                message = parse_message(data)
            except SipParseError as error:
                self._reject_unparsable(error, source)
                return
            if isinstance(message, Request):
                if self._first_worker is not None and self._hand_over(message, source):
                    self._first_worker(data, source)
                    return
                self._on_request(message, source)
            elif not self._on_response(message, source):
                self._stray_response(data, source)
        except Exception:  # a bug must cost one message, not the proxy
            self.stats["internal_errors"] += 1
            self._log.exception("message.internal_error", source=f"{source.host}:{source.port}")

    def _stray_response(self, data: bytes, source: Hop) -> None:
        """A response that matches no transaction of ours. In a worker but the first
        it answers the first worker's request (which left from the shared port, and
        the kernel gave its answer to us): handed over. Otherwise it is dropped (RFC
        6026 §7.3 replaces RFC 3261 §16.7's stateless forwarding of unmatched
        responses, which also keeps the proxy from reflecting forged ones)."""
        if self._first_worker is not None and not source.reliable:
            self.stats["responses_handed_to_first_worker"] += 1
            self._first_worker(data, source)
        else:
            self.stats["dropped_stray_response"] += 1

    def _hand_over(self, request: Request, hop: Hop) -> bool:
        """Whether the first worker serves ``request``: over UDP only, as a TCP
        connection stays with the worker that accepted it."""
        if hop.reliable or not first_worker_serves(request, self._trust.source(hop),
                                                   self._local, self._trust.directory):
            return False
        self.stats["handed_to_first_worker"] += 1
        return True

    def transport_failed(self, hop: Hop, reason: str) -> None:
        """The transport could not reach ``hop`` (connection refused, ICMP error)."""
        self._table.transport_failed(hop, reason)

    # --- requests ------------------------------------------------------------------

    def _on_request(self, request: Request, hop: Hop) -> None:
        method = request.method
        self.requests_received[method if method in COUNTED_METHODS else "OTHER"] += 1
        if request.method == "ACK" and answers_shed_call(request.header("to") or ""):
            # §17.1.1.3: the caller ACKs our stateless 503 (see ``_shed``); it ends
            # here, before any Via or transaction work, as the refusal did.
            self.stats["shed_acks"] += 1
            return
        request, top = stamp_received(request, request.via, hop)  # the parser read the Via
        source = self._trust.source(hop)
        if request.method == "ACK":
            self._on_ack(request, top, source)
            return
        key = server_key(request, top)
        existing = self._table.servers.get(key)
        if existing is not None:
            self._table.server_received(existing, request)  # a retransmission
            return
        if self._shed(request, top, source) or self._foreign_cancel(request, top, source):
            return
        entry = ServerEntry(self._table.new_server_transaction(request, hop.reliable,
                                                               self._settings.timers),
                            key, self._response_hop(top, source),
                            self._local.interface_for(hop.transport, hop.host), request, source)
        if hop.reliable:
            entry.fallback_hop = reconnect_hop(top, hop)
        self._table.add_server(entry)
        try:
            self._process(entry, request)
        except SipParseError as error:
            # A header the routing needed turned out unusable: say which (§16.3 step 1).
            self._answer_unless_answered(entry, error.status_hint, error.reason)
        except Exception:
            # A bug must cost one call an error response, never a stuck transaction.
            self.on_transaction_error("request")
            self._answer_unless_answered(entry, 500, "Server Internal Error")

    def _response_hop(self, top: Via, source: Source) -> Hop:
        """§18.2.2; ``maddr`` is honoured for trusted peers only, so nobody can make
        the proxy send its answers to a third party."""
        hop = maddr_hop(top, source.hop) if source.trusted else None
        return hop or response_hop(top, source.hop)

    def _shed(self, request: Request, top: Via, source: Source) -> bool:
        """RFC 3261 §21.5.4 / RFC 6357 §4: while the load guard refuses new calls, an
        INVITE outside a dialog (not a retransmission: those matched their
        transaction before) gets 503 and Retry-After without a transaction or any
        routing, so that refusing costs little more than the parse. The To tag lets
        its ACK be recognised and dropped (see ``_on_request``)."""
        guard = self._guard
        if (guard is None or request.method != "INVITE" or has_to_tag(request)
                or guard.admit_new_call(self._loop.time())):
            return False
        self.stats["shed"] += 1
        response = make_response(request, 503, "Service Unavailable (overloaded)",
                                 to_tag=shed_to_tag(secrets.token_hex(4)),
                                 extra=(("Retry-After", str(guard.retry_after)),))
        self._send(response, self._response_hop(top, source))
        return True

    def _foreign_cancel(self, request: Request, top: Via, source: Source) -> bool:
        """§9.2 matches a CANCEL to its INVITE by branch, which every callee sees in
        the Via: a CANCEL for a call in progress is believed only from where the
        INVITE came (or from a trusted peer). Anyone else gets a 481 without a
        transaction, so that it cannot take the key of the caller's own CANCEL."""
        if request.method != "CANCEL" or source.trusted:
            return False
        invite = self._table.servers.get(invite_key_of(request))
        if invite is None or invite.source.hop.host == source.hop.host:
            return False
        self.stats["refused_foreign_cancel"] += 1
        if self._throttle.should_log(source.hop.host, self._loop.time()):
            self._log.info("request.refused", call_id=request.call_id, method="CANCEL",
                           status=481, refusal="foreign_cancel", source=source.hop.host)
        response = make_response(request, 481, "Call/Transaction Does Not Exist",
                                 to_tag=secrets.token_hex(4))
        self._send(response, self._response_hop(top, source))
        return True

    def _process(self, entry: ServerEntry, request: Request) -> None:
        if request.method == "CANCEL":
            self._on_cancel(entry, request)
            return
        facts = RequestFacts(preprocess_routes(request, self._local), entry.source,
                             self._draining, self._wall_clock())
        verdict = self._classifier.classify(facts, self._loop.time())
        match verdict:
            case Forward(plan, strip_asserted_identity, decision, _, source, caller_flow,
                         pickup):
                self._log_decision(request, decision)
                entry.strip_asserted_identity = strip_asserted_identity
                entry.calling_identity = calling_identity(request, decision)
                full = (full_line_answer(request.method, decision, self._line_full)
                        if self._line_full is not None else None)
                if self.events.listening and not has_to_tag(request):
                    self.events.publish(CallRouted(request.call_id, request.method, decision,
                                                   self._loop.time(), request,
                                                   source or entry.source, pickup))
                if full is not None:
                    self._answer(entry, full.status, full.reason)
                    return
                plan = self._with_contacts(request, plan)
                if rings_nobody(plan):
                    self._answer(entry, 480, "Temporarily Unavailable (no registered phone)")
                    return
                forwarded = facts.preprocessed.request
                if pickup is not None:
                    self._log.info("call.pickup", call_id=request.call_id,
                                   held_call=pickup.call_id, line=pickup.line, by=pickup.by,
                                   seized=pickup.seized)
                    forwarded = pickup.applied_to(forwarded)
                self._fork(entry, forwarded, plan, caller_flow)
            case Answer(status, reason, headers, refusal, decision):
                self._log_decision(request, decision)
                if refusal is not None:
                    self._count_refusal(entry, refusal, status, reason)
                self._answer(entry, status, reason, headers, logged=refusal is not None)
            case Serve(name, source):
                self._serve(entry, name, source)
            case _:
                assert_never(verdict)

    def _log_decision(self, request: Request, decision: PolicyDecision | None) -> None:
        # The decision's two dozen fields are gathered only for a log that keeps
        # them (a busy site logs at warning).
        if decision is not None and self._log.is_enabled_for(logging.INFO):
            self._log.info("route.decision", call_id=request.call_id, **decision.log_fields())

    def _serve(self, entry: ServerEntry, name: str, source: Source) -> None:
        """Services keep state that outlives the process: they get Unix time."""
        service = self._services.get(name)
        if service is None:
            self._answer(entry, 501, f"Not Implemented (no {name} service)")
            return
        reply = service.handle(entry.received, source, self._wall_clock())
        self._answer(entry, reply.status, reply.reason, reply.headers, to_tag=reply.to_tag)

    def _with_contacts(self, request: Request, plan: RoutingPlan) -> RoutingPlan:
        """Registered phones in the plan: one target per contact registered now."""
        if self._locate is None or not has_registered_targets(plan):
            return plan
        plan, unregistered = expand_registered(plan, self._locate)
        if unregistered:
            self._log.info("route.unregistered", call_id=request.call_id,
                           users=[f"{user}: no registered phone" for user in unregistered])
        return plan

    def _fork(self, entry: ServerEntry, request: Request, plan: RoutingPlan,
              caller_flow: str = "") -> None:
        widest = max((len(stage.targets) for stage in plan.stages), default=1)
        entry.breadth = split_breadth(request, widest, self._settings.max_breadth)
        if entry.breadth is None:
            # RFC 5393 §5: not enough breadth left to fork this widely.
            self._answer(entry, 440, "Max-Breadth Exceeded")
            return
        if request.method in DIALOG_FORMING and not has_to_tag(request):
            entry.route_token = partial(self._tokens.mint, request.call_id,
                                        address_tag(request.header("from")) or "",
                                        caller_flow=caller_flow)
            entry.caller_flow = caller_flow
        entry.context = ResponseContext(request, plan, secrets.token_hex(4),
                                        self._context_settings)
        self._forks.decide(entry, entry.context.start())

    def _answer_unless_answered(self, entry: ServerEntry, status: int, reason: str,
                                extra: tuple[Header, ...] = ()) -> None:
        """Answer a request whose processing failed or was cut short, cancelling
        every branch it started, so no phone rings for a call that is over."""
        context = entry.context
        if context is not None:
            if context.final_sent:
                return
            if context.cancelled:
                # The caller has cancelled and waits for its 487, not for a reason
                # the call could not go on.
                status, reason, extra = 487, "Request Terminated", ()
            self._forks.decide(entry, context.abort())
        if entry.tx.state in UNANSWERED:
            self._answer(entry, status, reason, extra)

    def _on_ack(self, ack: Request, top: Via, source: Source) -> None:
        entry = self._table.servers.get(server_key(ack, top))
        if entry is not None:
            # §17.2.1: the ACK for our non-2xx final is absorbed hop by hop.
            self._table.server_received(entry, ack)
        else:
            self._forward_ack(ack, source, top.branch or "")

    def on_ack_for_2xx(self, entry: ServerEntry, ack: Request) -> None:
        """RFC 6026 §7.1: an ACK that matched an Accepted INVITE is a 2xx's ACK (rare:
        its sender reused the INVITE's branch)."""
        self._forward_ack(ack, entry.source, ack.via.branch or "")

    def _forward_ack(self, ack: Request, source: Source, upstream_branch: str) -> None:
        """§16.6 / §13.2.2.4: the ACK for a 2xx is its own transaction, end to end,
        forwarded statelessly (§16.11), by the same rules as any in-dialog request.
        ``upstream_branch`` is the branch of its top Via, parsed once on arrival."""
        if ack.max_forwards == 0:
            return
        facts = RequestFacts(preprocess_routes(ack, self._local), source, draining=False)
        forward = self._classifier.in_dialog_forward(facts)
        if forward is None or forward.routed is None:
            self.stats["dropped_ack"] += 1
            return
        request, hop = forward.routed
        try:
            interface = self._local.interface_for(hop.transport, hop.host)
        except LookupError:
            self.stats["dropped_unroutable"] += 1
            return
        if self._local.is_local_host_port(hop.host, hop.port):
            self.stats["dropped_unroutable"] += 1
            return
        branch = self._stateless_branches.stateless_branch(request, upstream_branch)
        self._send(forward_request(request, uri=request.uri, via=interface.via(branch)), hop)

    def _on_cancel(self, entry: ServerEntry, cancel: Request) -> None:
        """§16.10: 200 for the CANCEL, then cancel the fork it targets (its sender was
        checked by :meth:`_foreign_cancel`)."""
        invite = self._table.servers.get(invite_key_of(cancel))
        if invite is None or invite.context is None:
            self._answer(entry, 481, "Call/Transaction Does Not Exist")
            return
        self._answer(entry, 200, "OK")
        self._forks.decide(invite, invite.context.on_cancel())

    # --- responses ------------------------------------------------------------------

    def _on_response(self, response: Response, source: Hop) -> bool:
        """Pass a response to its client transaction; False when none matches."""
        try:
            key = client_key(response)
        except SipParseError:
            self.stats["dropped_bad_response"] += 1
            return True
        entry = self._table.clients.get(key)
        if entry is None:
            return False
        if source.host != entry.hop.host:
            # Only the address the request went to may answer it: a response from a
            # third party that learnt the branch (it is in every Via) is dropped.
            self.stats["dropped_foreign_response"] += 1
            if self._throttle.should_log(source.host, self._loop.time()):
                self._log.info("response.refused", source=source.host,
                               expected=entry.hop.host, call_id=response.call_id)
            return True
        self._table.client_received(entry, response)
        return True

    # --- what the transactions pass up (TransactionUser) -------------------------------

    def on_branch_response(self, entry: ClientEntry, response: Response) -> None:
        if self._tracing:
            self._log.debug("tx.client.response", call_id=response.call_id, branch=entry.key[0],
                            status=response.status)
        if entry.on_final is not None:
            if response.status >= 200:
                entry.on_final(response)
            return
        server = entry.server
        if server is None or server.context is None:
            return
        if response.status >= 200 and self._forks.fail_over(entry, hop_failure(response.status)):
            return
        # Our Via comes off before the context sees it: every response it holds is
        # ready to go upstream (§16.7 step 9).
        upstream = response.with_headers(drop_first_value(response.headers, "via"))
        self._forks.publish_branch_response(server, entry.branch_id, upstream)
        self._forks.decide(server, server.context.on_response(entry.branch_id, upstream))

    def on_branch_timeout(self, entry: ClientEntry) -> None:
        """Timer B or F: the target's next hop (RFC 3263 §4.3), else a synthetic 408
        (principle 4)."""
        if self._forks.fail_over(entry, HopFailure.TIMEOUT):
            return
        self._branch_failed(entry, 408, "Request Timeout", ResponseContext.on_branch_timeout)

    def on_branch_unreachable(self, entry: ClientEntry) -> None:
        """§16.9: a transport error counts as a 503, once no next hop is left."""
        if self._forks.fail_over(entry, HopFailure.TRANSPORT_ERROR):
            return
        self._branch_failed(entry, 503, "Service Unavailable",
                            ResponseContext.on_branch_transport_error)

    def _branch_failed(self, entry: ClientEntry, status: int, reason: str,
                       event: Callable[[ResponseContext, int], list[Decision]]) -> None:
        """A failure becomes a response: the originator's, or the fork's (principle 4)."""
        if entry.on_final is not None:
            entry.on_final(make_response(entry.tx.request, status, reason))
        elif entry.server is not None and entry.server.context is not None:
            if self.events.listening:
                self._forks.publish_branch_response(
                    entry.server, entry.branch_id, make_response(entry.tx.request, status, reason))
            self._forks.decide(entry.server, event(entry.server.context, entry.branch_id))

    def on_transaction_error(self, where: str) -> None:
        self.stats["internal_errors"] += 1
        self._log.exception("core.internal_error", where=where)

    # --- answering and sending ---------------------------------------------------------

    def _answer(self, entry: ServerEntry, status: int, reason: str,
                extra: tuple[Header, ...] = (), *, logged: bool = False,
                to_tag: str | None = None) -> None:
        received = entry.received
        response = make_response(received, status, reason,
                                 to_tag=to_tag or secrets.token_hex(4), extra=extra)
        if status >= 300:
            if not logged:
                self._log.info("request.refused", call_id=received.call_id,
                               method=received.method, status=status, reason=reason)
            if self.events.listening:
                self.events.publish(RequestRefused(received.call_id, received.method, status,
                                                   reason, entry.source.hop.host,
                                                   self._loop.time()))
        self._forks.relay(entry, response)

    def _count_refusal(self, entry: ServerEntry, refusal: str, status: int,
                       reason: str) -> None:
        """A refusal of the security model: counted always, logged once per source per
        minute (a flood must not become a flood of log lines)."""
        self.stats[f"refused_{refusal}"] += 1
        host = entry.source.hop.host
        if self._throttle.should_log(host, self._loop.time()):
            self._log.info(_REFUSAL_EVENTS.get(refusal, "request.refused"),
                           call_id=entry.received.call_id, method=entry.received.method,
                           status=status, reason=reason, refusal=refusal, source=host,
                           source_kind=entry.source.kind.value)

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

    def _send(self, message: Message, hop: Hop, fallback: Hop | None = None) -> None:
        if hop.reliable and not message.has_header("content-length"):
            # RFC 3261 §18.3 / §20.14: mandatory on streams, optional over UDP.
            message = message.with_headers(
                (*message.headers, ("Content-Length", str(len(message.body)))))
        if isinstance(message, Response):
            self.responses_sent[message.status] += 1
        self._send_bytes(message.serialize(), hop, fallback)


# --- helpers ---------------------------------------------------------------------------

# The methods counted by name (RFC 3261 §27.4, the extensions the proxy serves or
# relays: RFC 3262, 3265/6665, 3311, 3428, 3515, 3903, 6086).
COUNTED_METHODS = frozenset({
    "INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "PRACK", "SUBSCRIBE",
    "NOTIFY", "PUBLISH", "INFO", "REFER", "MESSAGE", "UPDATE"})

# Refusals with a log event of their own (the rest are ``request.refused``).
_REFUSAL_EVENTS = {"auth_blocked": "auth.blocked"}
