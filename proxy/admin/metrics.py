"""The proxy's metrics in the Prometheus text format (``GET /metrics``).

Nothing here runs on the per-message path: the core, the transports and the
services keep plain counters as they work, and this collector reads them when
Prometheus scrapes. The two things only events tell (routing decisions, calls
by outcome) are counted by observers that add one to a ``Counter``.

Names follow the Prometheus conventions: ``vipproxy_`` prefix, ``_total`` for
counters, base units (seconds, bytes). The README lists them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from proxy.core.events import CallEvent, CallRouted
from proxy.dialog.records import CallRecord
from proxy.dialog.views import LineState, LineView

REQUESTS = "vipproxy_sip_requests_received"
RESPONSES = "vipproxy_sip_responses_sent"
DROPPED = "vipproxy_sip_messages_dropped"
REFUSED = "vipproxy_sip_requests_refused"
CORE_EVENTS = "vipproxy_core_events"
TRANSACTIONS = "vipproxy_transactions"
ROUTING = "vipproxy_routing_decisions"
CALLS = "vipproxy_calls"
REGISTRATIONS = "vipproxy_registrations"
DIALOGS = "vipproxy_calls_active"
LINES = "vipproxy_lines"
LAMPS = "vipproxy_lamp_subscriptions"
AUTH_FAILING = "vipproxy_auth_failing_sources"
AUTH_BLOCKED = "vipproxy_auth_blocked_sources"
API_LOGIN_FAILURES = "vipproxy_api_login_failures"
API_LOGIN_BLOCKS = "vipproxy_api_login_blocks"
UDP_DROPS = "vipproxy_udp_receive_drops"
UDP_BACKLOG = "vipproxy_udp_receive_queue_bytes"
LOOP_LAG = "vipproxy_event_loop_lag_seconds"
STORE_QUEUE = "vipproxy_store_queue_depth"
STORE_WRITES = "vipproxy_store_writes"
RELOADS = "vipproxy_config_reloads"
NOTIFICATIONS = "vipproxy_notifications"
LINE_STREAMS = "vipproxy_api_line_streams"
LINE_STREAM_RESYNCS = "vipproxy_api_line_stream_resyncs"

# Label values (a tuple, one per label) -> the value.
Samples = Mapping[Any, float]

# The core's named counts (``ProxyCore.stats``) by family: a message dropped
# without an answer, or a request refused with one; anything else is an event.
_DROPPED_KEYS = frozenset({"oversized", "parse_errors", "shed", "shed_acks"})


@dataclass(frozen=True, slots=True)
class Sources:
    """Where each number is read at scrape time (wired by ``proxy.app``)."""

    core_stats: Callable[[], Mapping[str, int]]
    requests_received: Callable[[], Mapping[str, int]]
    responses_sent: Callable[[], Mapping[int, int]]
    transactions: Callable[[], Mapping[str, int]]  # kind (client, server) -> live
    registrations: Callable[[], int]
    active_calls: Callable[[], int]
    busy_lines: Callable[[], list[LineView]]
    lamp_subscriptions: Callable[[], int]
    auth_sources: Callable[[], tuple[int, int]]  # failing, blocked
    api_logins: Callable[[], tuple[int, int]]  # failures, blocks
    udp_receive: Callable[[], tuple[int, int]]  # drops, backlog bytes
    loop_lag: Callable[[], float]
    store_queue: Callable[[], int]
    store_writes: Callable[[], Mapping[str, int]]  # written, dropped
    reloads: Callable[[], Mapping[str, int]]  # applied, refused
    notifications: Callable[[], Mapping[tuple[str, str], int]]  # (channel, result) -> count
    line_streams: Callable[[], tuple[int, int]]  # open, resyncs


class CallCounts:
    """Routing decisions and finished calls, counted as the events come."""

    def __init__(self) -> None:
        self.decisions: Counter[tuple[str, str]] = Counter()  # (policy, vip) -> count
        self.calls: Counter[tuple[str, str]] = Counter()  # (outcome, policy) -> count

    def observe(self, event: CallEvent) -> None:
        """The core's observer: one routing decision per routed INVITE."""
        if isinstance(event, CallRouted) and event.decision is not None:
            decision = event.decision
            self.decisions[decision.policy, "true" if decision.vip else "false"] += 1

    def call_finished(self, record: CallRecord) -> None:
        """The lines' listener: a call on a user's line is over."""
        self.calls[str(record.outcome), record.policy or "none"] += 1


class ProxyCollector(Collector):
    """Every metric of the proxy, read from ``sources`` and ``counts`` per scrape."""

    def __init__(self, sources: Sources, counts: CallCounts) -> None:
        self._sources = sources
        self._counts = counts

    def collect(self) -> Iterator[Metric]:
        yield from self._traffic()
        yield from self._calls()
        yield from self._services()
        yield from self._health()

    def _traffic(self) -> Iterator[Metric]:
        sources = self._sources
        yield _counter(REQUESTS, "SIP requests received, by method (OTHER: any other)",
                       ["method"], {(k,): v for k, v in sources.requests_received().items()})
        yield _counter(RESPONSES, "SIP responses sent (relayed or our own), by status code",
                       ["code"], {(str(k),): v for k, v in sources.responses_sent().items()})
        stats = sources.core_stats()
        dropped = {(key.removeprefix("dropped_"),): value for key, value in stats.items()
                   if key.startswith("dropped_") or key in _DROPPED_KEYS}
        refused = {(key.removeprefix("refused_"),): value for key, value in stats.items()
                   if key.startswith("refused_")}
        events = {(key,): value for key, value in stats.items()
                  if key not in _DROPPED_KEYS and not key.startswith(("dropped_", "refused_"))}
        yield _counter(DROPPED, "SIP messages dropped without an answer, by reason",
                       ["reason"], dropped)
        yield _counter(REFUSED, "SIP requests refused by the proxy, by reason", ["reason"],
                       refused)
        yield _counter(CORE_EVENTS, "other events the core counts (failovers, NOTIFYs, "
                       "internal errors), by name", ["event"], events)
        yield _gauge(TRANSACTIONS, "SIP transactions live now, by kind", ["kind"],
                     {(k,): v for k, v in sources.transactions().items()})

    def _calls(self) -> Iterator[Metric]:
        counts = self._counts
        yield _counter(ROUTING, "routing decisions for new calls, by policy and VIP caller",
                       ["policy", "vip"], dict(counts.decisions))
        yield _counter(CALLS, "calls on users' lines that ended, by outcome and policy",
                       ["outcome", "policy"], dict(counts.calls))
        busy = Counter(str(view.state) for view in self._sources.busy_lines())
        yield _gauge(LINES, "users' lines with calls, by state (idle lines are not counted)",
                     ["state"], {(str(state),): busy.get(str(state), 0) for state in LineState
                                 if state is not LineState.IDLE})
        yield _gauge(DIALOGS, "calls on users' lines now", [], {(): self._sources.active_calls()})

    def _services(self) -> Iterator[Metric]:
        sources = self._sources
        yield _gauge(REGISTRATIONS, "registered contacts (bindings) held", [],
                     {(): sources.registrations()})
        yield _gauge(LAMPS, "busy-lamp subscriptions (RFC 4235)", [],
                     {(): sources.lamp_subscriptions()})
        failing, blocked = sources.auth_sources()
        yield _gauge(AUTH_FAILING, "addresses with recent failed SIP digest attempts", [],
                     {(): failing})
        yield _gauge(AUTH_BLOCKED, "addresses blocked for failed SIP digest attempts", [],
                     {(): blocked})
        failures, blocks = sources.api_logins()
        yield _counter(API_LOGIN_FAILURES, "failed management API logins", [], {(): failures})
        yield _counter(API_LOGIN_BLOCKS, "addresses blocked for failed API logins", [],
                       {(): blocks})
        yield _counter(RELOADS, "configuration reloads, by result", ["result"],
                       {(k,): v for k, v in sources.reloads().items()})
        yield _counter(NOTIFICATIONS, "delegation notices, by channel (webhook, email, queue)"
                       " and result (sent, failed after every attempt, dropped)",
                       ["channel", "result"], sources.notifications())
        streams, resyncs = sources.line_streams()
        yield _gauge(LINE_STREAMS, "open line-state event streams (GET /events/lines)", [],
                     {(): streams})
        yield _counter(LINE_STREAM_RESYNCS, "times a line stream's client fell behind and was"
                       " sent a snapshot in place of the changes it missed", [], {(): resyncs})

    def _health(self) -> Iterator[Metric]:
        sources = self._sources
        drops, backlog = sources.udp_receive()
        yield _counter(UDP_DROPS, "datagrams the kernel dropped: UDP receive buffers full", [],
                       {(): drops})
        yield _gauge(UDP_BACKLOG, "bytes waiting in the UDP receive buffers", [],
                     {(): backlog})
        yield _gauge(LOOP_LAG, "how late the load watcher's timer fired, last sample", [],
                     {(): sources.loop_lag()})
        yield _gauge(STORE_QUEUE, "store writes queued, not yet written", [],
                     {(): sources.store_queue()})
        yield _counter(STORE_WRITES, "store writes, by result (written, dropped)", ["result"],
                       {(k,): v for k, v in sources.store_writes().items()})


def _counter(name: str, documentation: str, labels: list[str], values: Samples) -> Metric:
    family = CounterMetricFamily(name, documentation, labels=labels)
    for label_values, value in sorted(values.items()):
        family.add_metric(list(label_values), value)
    return family


def _gauge(name: str, documentation: str, labels: list[str], values: Samples) -> Metric:
    family = GaugeMetricFamily(name, documentation, labels=labels)
    for label_values, value in sorted(values.items()):
        family.add_metric(list(label_values), value)
    return family
