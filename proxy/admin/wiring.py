"""The management API wired to the running proxy: its metrics sources, its view of
the lines, the store and the configuration, served on the proxy's event loop."""

from __future__ import annotations

import secrets
import time
from typing import Any

from prometheus_client import ProcessCollector
from prometheus_client.registry import CollectorRegistry

from proxy.admin.access import Access
from proxy.admin.api import RunningProxy, build_api
from proxy.admin.linefeed import LineFeeds
from proxy.admin.metrics import CallCounts, ProxyCollector, Sources
from proxy.admin.server import ApiServer, start_api
from proxy.core.driver import ProxyCore
from proxy.core.loadwatch import LoadWatch
from proxy.lamps import Lamps
from proxy.lines import Lines
from proxy.notifications import Notifications
from proxy.phones import Phones
from proxy.reloading import LiveConfig
from proxy.store import Store
from proxy.transport.dispatch import Transports

_SESSION_TOKEN_BYTES = 32
# Notices still queued when the proxy stops get this long to go out.
NOTIFY_GRACE_SECONDS = 2.0


class ManagementApi:
    """The API's server and the notifications its changes send."""

    def __init__(self, server: ApiServer, notifications: Notifications) -> None:
        self._server = server
        self._notifications = notifications

    @property
    def url(self) -> str:
        return self._server.url

    async def stop(self) -> None:
        await self._server.stop()
        await self._notifications.stop(NOTIFY_GRACE_SECONDS)


async def start_management_api(live: LiveConfig, core: ProxyCore, transports: Transports,
                               phones: Phones, lines: Lines, lamps: Lamps, watch: LoadWatch,
                               store: Store, log: Any) -> ManagementApi:
    """Count what only events tell from now on and serve the API where the
    configuration says; raises OSError when its address cannot be bound."""
    settings = live.config.api
    assert settings is not None, "only called when the file has an api section"
    notifications = Notifications(live.config.notifications, lambda: live.config.emails, log)
    counts = CallCounts()
    core.events.subscribe(counts.observe)
    lines.on_call_finished(counts.call_finished)
    access = Access(lambda: secrets.token_urlsafe(_SESSION_TOKEN_BYTES))
    authority = phones.auth.authority if phones.auth is not None else None
    feeds = LineFeeds(lines.line, time.time)
    lines.on_line_change(feeds.changed)
    live.on_reload(lambda config: feeds.rescope(config.directory))
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)  # CPU seconds, memory, open files
    registry.register(ProxyCollector(Sources(
        core_stats=lambda: core.stats,
        requests_received=lambda: core.requests_received,
        responses_sent=lambda: core.responses_sent,
        transactions=lambda: {"client": core.live_client_transactions,
                              "server": core.live_server_transactions},
        registrations=lambda: len(phones.registrar) if phones.registrar is not None else 0,
        active_calls=lambda: len(lines.tracker),
        busy_lines=lines.tracker.busy_lines,
        lamp_subscriptions=lambda: len(lamps.notifier),
        auth_sources=lambda: _auth_sources(phones),
        api_logins=lambda: (access.failures, access.blocks),
        udp_receive=lambda: (transports.udp_receive_drops(), transports.udp_receive_backlog()),
        loop_lag=lambda: watch.loop_lag,
        store_queue=lambda: store.waiting,
        store_writes=lambda: {"written": store.stats.written, "dropped": store.stats.dropped},
        reloads=lambda: live.results,
        notifications=lambda: notifications.results,
        line_streams=lambda: (len(feeds), feeds.resyncs),
    ), counts))
    api = build_api(RunningProxy(
        live=live,
        authority=authority,
        access=access,
        line=lines.line,
        feeds=feeds,
        history=store.call_history_page,
        registrations=store.load_registrations,
        metrics=registry,
        clock=time.time,
        notify=notifications.tell,
    ))
    server = await start_api(api, settings.host, settings.port)
    notifications.start()
    return ManagementApi(server, notifications)


def _auth_sources(phones: Phones) -> tuple[int, int]:
    if phones.auth is None:
        return 0, 0
    memory = phones.auth.authority.memory()
    return memory.failing_sources, memory.blocked_sources
