"""What a reload of the configuration file may change in a running proxy.

Pure: the running configuration and the newly validated one in, what applies now
and what waits for a restart out. The directory (users, lines, endpoints,
delegations, routes, trusted peers, outbound, numbering), ``untrusted_calls``, the
users' credentials and e-mail addresses are values the proxy reads per request:
they are swapped in for the next call. Everything else was built into sockets, the
store, timers or tasks at start; a change there is reported, by its section in the
file, as needing a restart, and the running proxy keeps the old value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from proxy.config.loader import ProxyConfig
from proxy.policy.trust import configured_host_names

# Each start-up setting by the section of the file that holds it.
_START_UP_SECTIONS: tuple[tuple[str, Callable[[ProxyConfig], object]], ...] = (
    ("listen", lambda config: config.listeners),
    ("store", lambda config: config.store_url),
    ("state_dir", lambda config: config.state_dir),
    ("domain", lambda config: config.domain),
    ("timers", lambda config: (config.timers, config.timer_c)),
    ("limits", lambda config: (config.max_message_size, config.max_breadth,
                                config.udp_request_limit)),
    ("shutdown_grace", lambda config: config.shutdown_grace),
    ("logging", lambda config: (config.log_level, config.log_format)),
    ("auth", lambda config: (config.auth_realm, config.auth_algorithms)),
    ("lines", lambda config: config.line_max_calls),
    ("dialogs", lambda config: config.dialog_max_duration),
    ("history", lambda config: config.history_retention),
    ("dns", lambda config: config.dns_servers),
    ("api", lambda config: config.api),
    ("workers", lambda config: config.worker_ports),
    ("notifications", lambda config: config.notifications),
)


def restart_needed(running: ProxyConfig, new: ProxyConfig) -> tuple[str, ...]:
    """Why parts of ``new`` only take effect after a restart, each starting with
    the section of the file; empty when the whole file applies now."""
    reasons = [f"{section}: changed; takes effect after a restart"
               for section, setting in _START_UP_SECTIONS if setting(running) != setting(new)]
    # Services that exist only when the file at start asked for them.
    if not _has_registrar(running) and _has_registrar(new):
        reasons.append("users: a user's endpoints now include 'registered'; the registrar "
                       "starts after a restart")
    if not running.credentials and new.credentials:
        reasons.append("users: users now have auth credentials; authentication starts after "
                       "a restart")
    # Configured host names are resolved before the proxy listens (RFC 3263).
    unresolved = configured_host_names(new.directory) - configured_host_names(running.directory)
    if unresolved:
        names = ", ".join(sorted({name.host for name in unresolved}))
        reasons.append(f"routes: new host names ({names}) are resolved after a restart")
    return tuple(reasons)


def live_config(running: ProxyConfig, new: ProxyConfig) -> ProxyConfig:
    """The configuration the proxy runs with after the reload: ``new``'s per-request
    values over ``running``'s start-up settings."""
    return replace(running, directory=new.directory, untrusted_calls=new.untrusted_calls,
                   credentials=new.credentials, emails=new.emails)


def _has_registrar(config: ProxyConfig) -> bool:
    return any(user.registered for user in config.directory.users.values())
