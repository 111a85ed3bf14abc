"""Composition root: the only module that wires config, transports and the core."""

from __future__ import annotations

import asyncio
import random
import secrets
import signal
import socket
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from proxy.collector import PacedCollector
from proxy.config.errors import ConfigError
from proxy.config.loader import ProxyConfig, load_config
from proxy.core.classify import PRESENCE_SERVICE, PROXY_SERVICE, REGISTRAR_SERVICE
from proxy.core.driver import CoreSettings, ProxyCore
from proxy.core.loadwatch import LoadWatch
from proxy.core.local import Interface, LocalAddresses
from proxy.core.overload import LoadGuard, OverloadSettings
from proxy.core.services import ProxyItself, Service
from proxy.defaults import SETTINGS_REFRESH_SECONDS
from proxy.dialog import DialogSettings, DialogTracker
from proxy.history.recorder import history_writer, keep_history_trimmed
from proxy.lamps import Lamps
from proxy.lines import Lines
from proxy.logs import configure_logging
from proxy.names.cache import NameCache
from proxy.names.resolver import DnsLookups, NoResolvers, keep_resolved, refresh_due
from proxy.phones import Phones, keep_locations, open_phones, reloaded_authentication
from proxy.policy.trust import TrustModel, configured_host_names
from proxy.presence import Notifier
from proxy.reloading import LiveConfig, remove_pid_file, write_pid_file
from proxy.store import Store, StoreError, open_store
from proxy.transport.bind_errors import explain_bind_error
from proxy.transport.dispatch import Transports
from proxy.transport.handoff import HandoffReceiver, HandoffSender
from proxy.transport.tcp import TcpTransport
from proxy.transport.udp import open_udp
from proxy.workers import READY, Workers, WorkerStartFailed, end_with_first_worker

if TYPE_CHECKING:
    from proxy.admin.wiring import ManagementApi

# The store's name for the key route tokens are made with (proxy/core/route_token.py).
ROUTE_TOKEN_SECRET = "route-token"
_SECRET_BYTES = 32
# Our tags in lamp subscriptions: 64 random bits, as they alone let a refresh in.
_SUBSCRIPTION_TAG_BYTES = 8
# The worker that keeps the users' state and serves everything (``proxy.core.workers``).
FIRST_WORKER = 0


async def serve(config: ProxyConfig, path: Path) -> int:
    """Run the proxy until SIGTERM/SIGINT, then drain for the grace period; exit code.
    SIGHUP reloads ``path``, the file ``config`` was read from."""
    log = configure_logging(config.log_level, config.log_format)
    if config.workers > 1:
        log = log.bind(worker=FIRST_WORKER)
    loop = asyncio.get_running_loop()
    live = LiveConfig(path, config, log)
    transports = Transports()
    local = _local_addresses(config, FIRST_WORKER)
    try:
        store = await open_store(config.database_url, log=log)
    except StoreError as error:
        return _store_failed(error, log)
    try:
        route_secret = await store.secret(ROUTE_TOKEN_SECRET,
                                          lambda: secrets.token_bytes(_SECRET_BYTES))
        await live.open_settings(store.delegation_settings, store.save_delegation_settings)
    except StoreError as error:
        await _close_store(store, log)
        return _store_failed(error, log)
    except ConfigError as error:
        await _close_store(store, log)
        return _settings_invalid(path, error, log)
    config = live.config  # the file with the delegators' own settings from the store
    try:
        phones = await open_phones(config, store, [item.advertise for item in config.listeners],
                                   time.time(), transports.flow_open,
                                   lambda host: live.config.directory.is_trusted_peer(host))
    except StoreError as error:
        await _close_store(store, log)
        return _store_failed(error, log)
    services: dict[str, Service] = {PROXY_SERVICE: ProxyItself()}
    if phones.service is not None:
        services[REGISTRAR_SERVICE] = phones.service
    guard = LoadGuard(OverloadSettings())
    lines = Lines(DialogTracker(config.directory, DialogSettings(config.dialog_max_duration,
                                                                 config.line_max_calls)),
                  loop, log)
    lines.on_call_finished(history_writer(store))
    core = ProxyCore(
        local=local,
        settings=_core_settings(config),
        send=transports.send,
        loop=loop,
        trust=TrustModel(config.directory, config.untrusted_calls),
        route_secret=route_secret,
        log=log,
        services=services,
        guard=guard,
        auth=phones.auth,
        registrar_hosts=phones.hosts,
        presence_hosts=_presence_hosts(config),
        locate=phones.locate,
        wall_clock=time.time,
        line_full=lines.tracker.line_full,
        dialogs=lines.tracker,
    )
    core.events.subscribe(lines.observe)
    lamps = Lamps(Notifier(config.directory, lines.tracker, local,
                           lambda: secrets.token_hex(_SUBSCRIPTION_TAG_BYTES)),
                  core.originate, loop, log)
    core.add_service(PRESENCE_SERVICE, lamps)
    handoffs = HandoffReceiver(core.receive, loop, log)
    workers = Workers(path, config.workers, route_secret, handoffs, log)
    _follow_reloads(live, core, phones, lines, lamps, workers)
    lines.on_line_change(lamps.on_line_change)
    watch = LoadWatch(
        guard, loop=loop, log=log,
        in_progress=lambda: core.in_progress,
        receive_backlog=transports.udp_receive_backlog,
    )
    # Handlers first: a SIGTERM that comes as soon as the sockets are bound drains.
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    loop.add_signal_handler(signal.SIGHUP, live.reload)
    api: ManagementApi | None = None
    try:
        names = await _resolve_names(config, core, loop, log)
        # The API first: once the SIP sockets are bound, everything answers.
        api = await _open_api(live, core, transports, phones, lines, lamps, watch, store, log)
        await _open_listeners(config, core, transports, log, FIRST_WORKER)
        if config.workers > 1:
            await workers.start()
    except (_ListenerFailed, NoResolvers, WorkerStartFailed) as failure:
        # The log may be JSON for a collector; whoever ran `vipproxy run` reads a line.
        log.error("proxy.listen_failed", error=str(failure))
        print(f"vipproxy: {failure}", file=sys.stderr)
        if api is not None:
            await api.stop()
        handoffs.close()
        transports.close()
        await _close_store(store, log)
        return 1
    log.info("proxy.listening", listeners=[
        f"{item.transport.lower()}:{item.advertise}:{item.port}" for item in config.listeners],
        api=api.url if api is not None else None)
    collector = PacedCollector(loop, log)
    collector.start()
    pid_file = write_pid_file(config.state_dir, log)
    watch.start()
    locations = asyncio.create_task(keep_locations(
        phones, store, shared=not config.database_url.startswith("sqlite"), log=log))
    settings = asyncio.create_task(live.keep_settings_fresh(store.delegation_settings,
                                                            SETTINGS_REFRESH_SECONDS))
    expiry = asyncio.create_task(lines.keep_expiring())
    lamp_expiry = asyncio.create_task(lamps.keep_expiring())
    purge = asyncio.create_task(keep_history_trimmed(store, config.history_retention, log))
    await stop.wait()
    workers.stop()
    await _drain(core, lamps, config.shutdown_grace, loop, log, quiet=config.timers.t1)
    # The others drain as long as this one; then they have the grace once more.
    workers_killed = await workers.wait(config.shutdown_grace)
    handoffs.close()
    watch.stop()
    collector.stop()
    if api is not None:
        await api.stop()
    locations.cancel()
    settings.cancel()
    expiry.cancel()
    lamp_expiry.cancel()
    purge.cancel()
    if names is not None:
        names.cancel()
    calls_up = len(lines.tracker)  # counted before lines.stop() records them
    lines.stop()  # the calls still up go to the history before the store closes
    transports.close()
    stored = await _close_store(store, log)  # after the drain: its writes are queued
    remove_pid_file(pid_file)
    left = {**_left_at_exit(core, calls_up, lamps), "workers_killed": workers_killed}
    _log_stopped(log, core, watch, collector, left, lamps.summary())
    return 0 if stored else 1


async def serve_worker(config: ProxyConfig, path: Path, index: int, handoff_fd: int) -> int:
    """Run worker ``index`` (from 1) of several (``proxy.workers``) until SIGTERM, then
    drain. It serves calls to static routes and hands everything else to the first
    worker through ``handoff_fd``; the route-token secret comes on standard input."""
    end_with_first_worker()
    log = configure_logging(config.log_level, config.log_format).bind(worker=index)
    loop = asyncio.get_running_loop()
    secret = bytes.fromhex(sys.stdin.readline().strip())
    transports = Transports()
    handoff = HandoffSender(socket.socket(fileno=handoff_fd), log)
    guard = LoadGuard(OverloadSettings())
    core = ProxyCore(local=_local_addresses(config, index), settings=_core_settings(config),
                     send=transports.send, loop=loop,
                     trust=TrustModel(config.directory, config.untrusted_calls),
                     route_secret=secret, log=log, services={PROXY_SERVICE: ProxyItself()},
                     guard=guard, wall_clock=time.time, first_worker=handoff.send)
    watch = LoadWatch(guard, loop=loop, log=log, in_progress=lambda: core.in_progress,
                      receive_backlog=transports.udp_receive_backlog)
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    loop.add_signal_handler(signal.SIGHUP, lambda: _reload_worker(path, core, log))
    try:
        names = await _resolve_names(config, core, loop, log)
        await _open_listeners(config, core, transports, log, index)
    except (_ListenerFailed, NoResolvers) as failure:
        log.error("proxy.listen_failed", error=str(failure))
        transports.close()
        return 1
    sys.stdout.buffer.write(READY)
    sys.stdout.flush()
    collector = PacedCollector(loop, log)
    collector.start()
    watch.start()
    await stop.wait()
    await _drain(core, None, config.shutdown_grace, loop, log, quiet=config.timers.t1)
    watch.stop()
    collector.stop()
    if names is not None:
        names.cancel()
    transports.close()
    handoff.close()
    left = {**_left_at_exit(core), "handoffs_dropped": handoff.dropped}
    _log_stopped(log, core, watch, collector, left)
    return 0


def _reload_worker(path: Path, core: ProxyCore, log: Any) -> None:
    """SIGHUP from the first worker, which applied the file: this worker takes the
    directory from it too (trusted peers, routes, who is a user)."""
    try:
        config = load_config(path)
    except ConfigError as error:  # changed again since the first worker read it
        log.error("config.reload_failed", problems=[str(item) for item in error.problems])
        return
    core.use_directory(TrustModel(config.directory, config.untrusted_calls), None)
    log.info("config.reloaded")


def _log_stopped(log: Any, core: ProxyCore, watch: LoadWatch, collector: PacedCollector,
                 left: dict[str, int], summary: dict[str, Any] | None = None) -> None:
    # At warning when anything is left, so a proxy logging only warnings (the load
    # bench) still says what it dropped; a clean exit stays at info.
    (log.warning if any(left.values()) else log.info)(
        "proxy.stopped", shed_periods=watch.shed_periods, **dict(core.stats),
        **(summary or {}), **collector.summary(), **left)


def _local_addresses(config: ProxyConfig, worker: int) -> LocalAddresses:
    """The listeners as worker ``worker`` advertises them: with several workers, its
    own port in its Via (the others'), or its mark in its Record-Route (the first's)."""
    own_port = _own_port(config, worker)
    return LocalAddresses(tuple(
        Interface(item.transport, item.advertise, item.port, own_port=own_port,
                  first_worker=config.workers > 1 and worker == FIRST_WORKER)
        for item in config.listeners))


def _own_port(config: ProxyConfig, worker: int) -> int | None:
    """The port worker ``worker`` sends its requests from: None for the first (or
    only) one, which sends from the listeners' ports as a single process does."""
    return config.worker_ports[worker - 1] if worker != FIRST_WORKER else None


def _core_settings(config: ProxyConfig) -> CoreSettings:
    return CoreSettings(config.timers, config.timer_c, config.max_breadth,
                        config.max_message_size, config.udp_request_limit)


def _left_at_exit(core: ProxyCore, calls_up: int = 0,
                  lamps: Lamps | None = None) -> dict[str, int]:
    """What the proxy still held when it stopped: transactions (a finished one
    lingers up to 64*T1 to absorb retransmissions, RFC 3261 §17), calls up on users'
    lines and lamp subscriptions whose final NOTIFY went unanswered. Counted once,
    at exit, off the message path."""
    return {
        "left_server_transactions": core.live_server_transactions,
        "left_client_transactions": core.live_client_transactions,
        "left_dialogs": calls_up,
        "left_subscriptions": len(lamps.notifier) if lamps is not None else 0,
    }


async def _resolve_names(config: ProxyConfig, core: ProxyCore,
                         loop: asyncio.AbstractEventLoop, log: Any) -> asyncio.Task[None] | None:
    """Resolve the host names of configured targets and gateways (RFC 3263) before
    the proxy listens, then keep them fresh for their TTL in the background; None
    when the configuration names only IP addresses."""
    cache = NameCache(configured_host_names(config.directory))
    if not cache.names:
        return None
    lookups = DnsLookups(config.dns_servers, random.Random())
    await refresh_due(cache, lookups, loop, log)
    core.use_names(cache.resolved())
    return asyncio.create_task(keep_resolved(cache, lookups, loop, core.use_names, log))


def _follow_reloads(live: LiveConfig, core: ProxyCore, phones: Phones, lines: Lines,
                    lamps: Lamps, workers: Workers) -> None:
    """Every part that reads the directory or the credentials takes a reloaded
    configuration's; all of them before the loop handles another message. The
    other workers read the file again."""
    def apply(config: ProxyConfig) -> None:
        auth = phones.auth
        core.use_directory(TrustModel(config.directory, config.untrusted_calls),
                           None if auth is None else reloaded_authentication(auth, config))
        lines.tracker.use_directory(config.directory)
        lamps.notifier.use_directory(config.directory)
        if phones.registrar is not None:
            phones.registrar.use_directory(config.directory)
        workers.reload()

    live.on_reload(apply)


def _presence_hosts(config: ProxyConfig) -> frozenset[str]:
    """Where busy lamps are subscribed: the domain and the proxy's own addresses.
    None without credentials: nobody could be let in, and a SUBSCRIBE to a line
    is then routed to the line's phones as before."""
    if not config.credentials:
        return frozenset()
    hosts = (config.domain or "", *(item.advertise for item in config.listeners))
    return frozenset(host.lower() for host in hosts if host)


def _settings_invalid(path: Path, error: ConfigError, log: Any) -> int:
    """The delegators' settings in the store do not fit the file (a policy needs a
    mailbox the administrator removed, ...): ``locked: true`` makes the file win."""
    problems = [str(problem) for problem in error.problems]
    log.error("config.invalid_with_store", path=str(path), problems=problems)
    print(f"vipproxy: {path} with the delegations users changed in the store is invalid "
          "(set locked: true on a delegation to use the file's):", file=sys.stderr)
    for problem in problems:
        print(f"  {problem}", file=sys.stderr)
    return 2


def _store_failed(error: StoreError, log: Any) -> int:
    # Like a listener that cannot be bound: whoever ran `vipproxy run` reads a line.
    log.error("store.unusable", url=error.url, error=error.problem)
    print(f"vipproxy: {error}", file=sys.stderr)
    return 1


async def _close_store(store: Store, log: Any) -> bool:
    """Write everything queued and close; False (logged) when writes were lost."""
    try:
        await store.close()
    except StoreError as error:
        log.error("store.close_failed", url=error.url, error=error.problem)
        return False
    log.info("store.closed", url=store.url, queued=store.stats.queued,
             written=store.stats.written, dropped=store.stats.dropped,
             calls_dropped=store.stats.calls_dropped, failed_batches=store.stats.failed_batches)
    return True


class _ListenerFailed(Exception):
    """A listener could not be opened; the message names it and says why."""


async def _open_listeners(config: ProxyConfig, core: ProxyCore, transports: Transports,
                          log: Any, worker: int) -> None:
    """The listeners, for worker ``worker``: with several workers every one shares
    the UDP ports, and the others send from their own port; a TCP listener's port
    is the first worker's, as a connection stays with the worker that accepted it
    (the others listen on their own port, §18.2.2)."""
    own_port = _own_port(config, worker)
    for item in config.listeners:
        port = item.port
        try:
            if item.transport == "UDP":
                endpoint = await open_udp(item.host, port, core.receive, log,
                                          reuse_port=config.workers > 1)
                transports.add_udp(item.host, endpoint)
                if own_port is not None:
                    port = own_port
                    transports.add_own_udp(item.host,
                                           await open_udp(item.host, port, core.receive, log))
            else:
                if transports.tcp is None:
                    transports.tcp = TcpTransport(core.receive, core.transport_failed,
                                                  config.max_message_size, log)
                if own_port is not None:
                    port = own_port  # where a response comes when its connection closed
                await transports.tcp.listen(item.host, port)
        except OSError as error:
            explanation = explain_bind_error(error, item.transport, item.host, port)
            raise _ListenerFailed(explanation) from error


async def _open_api(live: LiveConfig, core: ProxyCore, transports: Transports,
                    phones: Phones, lines: Lines, lamps: Lamps, watch: LoadWatch,
                    store: Store, log: Any) -> ManagementApi | None:
    """The management API when the file has an ``api`` section."""
    settings = live.config.api
    if settings is None:
        return None
    # Imported here: FastAPI, uvicorn and pydantic's models for them add about a
    # second to start-up, paid only by a proxy that serves the API.
    from proxy.admin.wiring import start_management_api
    try:
        return await start_management_api(live, core, transports, phones, lines, lamps,
                                          watch, store, log)
    except OSError as error:
        explanation = explain_bind_error(error, "TCP", settings.host, settings.port)
        raise _ListenerFailed(f"management API: {explanation}") from error


async def _drain(core: ProxyCore, lamps: Lamps | None, grace: float,
                 loop: asyncio.AbstractEventLoop, log: Any, quiet: float) -> None:
    """Refuse new INVITEs (503) and go on serving everything else until nothing is in
    progress and no message has come for ``quiet`` seconds, or ``grace`` runs out.
    The quiet time lets the ACK and a quick BYE of a call answered during the drain
    still pass through the Record-Route. Every lamp subscription gets its final
    NOTIFY (deactivated: the phone subscribes again, to the next proxy) and the
    drain waits for their answers too."""
    core.start_draining()
    if lamps is not None:
        lamps.stop()
    log.info("proxy.draining", in_progress=core.in_progress, grace=grace,
             lamps_notifying=_notifying(lamps))
    deadline = loop.time() + grace
    while loop.time() < deadline:
        if (not core.in_progress and not _notifying(lamps)
                and loop.time() - core.last_received >= quiet):
            return
        await asyncio.sleep(0.05)
    ended = core.end_calls_in_progress("proxy shutting down")
    log.warning("proxy.drain_timeout", ended=ended)
    # The 503s and CANCELs are on their way; give the transports a moment to flush
    # them and the phones to answer the CANCELs before the sockets close.
    await asyncio.sleep(min(quiet, 1.0))


def _notifying(lamps: Lamps | None) -> int:
    """Final NOTIFYs still waiting for their answer (none in a worker without lamps)."""
    return lamps.notifying if lamps is not None else 0
