"""Loading the YAML configuration file into frozen, validated values.

Validation happens once, here; the rest of the proxy trusts what it gets. Every
problem names its path in the file and what is allowed (``vipproxy check``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import yaml

from proxy.config.directory import DIRECTORY_SECTIONS, read_directory
from proxy.config.errors import ConfigError, ConfigProblem
from proxy.config.reader import Node
from proxy.defaults import (
    MAX_BREADTH,
    MAX_MESSAGE_SIZE,
    SHUTDOWN_GRACE_SECONDS,
    STATE_DIR,
    TIMER_C_SECONDS,
)
from proxy.policy.directory import Directory
from proxy.policy.trust import UntrustedCalls
from proxy.transaction.timers import TimerSettings

T = TypeVar("T")

# Sections read here; every other top-level key belongs to the directory reader.
_SERVER_SECTIONS = ("listen", "timers", "limits", "logging", "shutdown_grace",
                    "untrusted_calls", "state_dir")
_TRANSPORTS = ("udp", "tcp")
_LOG_LEVELS = ("debug", "info", "warning", "error")
_LOG_FORMATS = ("json", "console")


@dataclass(frozen=True, slots=True)
class Listener:
    """A socket to listen on. ``advertise`` is the address put in Via and Record-Route."""

    transport: str  # "UDP" or "TCP"
    host: str  # an IP literal (IPv6 without brackets)
    port: int
    advertise: str  # host as written in SIP (IPv6 in brackets)


@dataclass(frozen=True, slots=True)
class ProxyConfig:
    listeners: tuple[Listener, ...]
    timers: TimerSettings
    timer_c: float
    max_message_size: int
    max_breadth: int
    shutdown_grace: float
    log_level: str
    log_format: str
    directory: Directory
    untrusted_calls: UntrustedCalls
    state_dir: Path


def load_config(path: str | Path) -> ProxyConfig:
    """Read and validate ``path``; raises :class:`ConfigError` listing every problem."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError([ConfigProblem("", f"cannot read {path}: {error.strerror}")]) from None
    return parse_config(text)


def parse_config(text: str) -> ProxyConfig:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError([ConfigProblem("", f"{where}not valid YAML ({error})")]) from None
    problems: list[ConfigProblem] = []
    root = Node(document, "", problems)
    sections = root.mapping(_SERVER_SECTIONS + tuple(DIRECTORY_SECTIONS))
    if sections is None:
        raise ConfigError(problems)
    listeners = _listeners(sections.get("listen"), problems)
    timers, timer_c = _timers(sections.get("timers"))
    max_message_size, max_breadth = _limits(sections.get("limits"))
    grace = _read(sections, "shutdown_grace", lambda node: node.duration(0.0, 3600.0),
                  SHUTDOWN_GRACE_SECONDS)
    log_level, log_format = _logging(sections.get("logging"))
    untrusted = _read(sections, "untrusted_calls",
                      lambda n: n.string(tuple(UntrustedCalls)), UntrustedCalls.REFUSE.value)
    state_dir = _read(sections, "state_dir", lambda n: n.string(), STATE_DIR)
    directory = read_directory({k: v for k, v in sections.items() if k in DIRECTORY_SECTIONS})
    if problems or directory is None:
        raise ConfigError(problems or [ConfigProblem("", "invalid configuration")])
    return ProxyConfig(listeners, timers, timer_c, max_message_size, max_breadth, grace,
                       log_level, log_format, directory, UntrustedCalls(untrusted),
                       Path(state_dir).expanduser())


def _listeners(node: Node | None, problems: list[ConfigProblem]) -> tuple[Listener, ...]:
    if node is None:
        problems.append(ConfigProblem("listen", "required: a list of {transport, host, port}"))
        return ()
    listeners: list[Listener] = []
    for item in node.items() or []:
        fields = item.mapping(("transport", "host", "port", "advertise"))
        if fields is None:
            continue
        transport = _read(fields, "transport", lambda n: n.string(_TRANSPORTS), "udp")
        port = _read(fields, "port", lambda n: n.integer(1, 65535), 5060)
        host = fields["host"].string() if "host" in fields else None
        if host is None:
            if "host" not in fields:
                item.problem("host is required (an IPv4 or IPv6 address)")
            continue
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            fields["host"].problem(f"{host!r} is not an IP address; allowed: IPv4 or IPv6 literal")
            continue
        advertise = fields["advertise"].string() if "advertise" in fields else None
        if address.is_unspecified and advertise is None:
            item.problem("a wildcard host needs 'advertise': the address peers can reach")
            continue
        shown = advertise or (f"[{host}]" if address.version == 6 else host)
        listeners.append(Listener(transport.upper(), host, port, shown))
    if not listeners and not problems:
        node.problem("at least one listener is required")
    return tuple(listeners)


def _read(fields: dict[str, Node], key: str, read: Callable[[Node], T | None], default: T) -> T:
    """``read`` the optional ``key``; the default when it is absent or invalid (the
    problem is recorded either way)."""
    if key not in fields:
        return default
    value = read(fields[key])
    return default if value is None else value


def _timers(node: Node | None) -> tuple[TimerSettings, float]:
    defaults = TimerSettings()
    fields = (node.mapping(("t1", "t2", "t4", "timer_c")) if node is not None else None) or {}
    t1 = _read(fields, "t1", lambda n: n.duration(0.01, 10.0), defaults.t1)
    t2 = _read(fields, "t2", lambda n: n.duration(0.1, 60.0), defaults.t2)
    t4 = _read(fields, "t4", lambda n: n.duration(0.1, 60.0), defaults.t4)
    # RFC 3261 §16.6 step 11: Timer C MUST be larger than 3 minutes.
    timer_c = _read(fields, "timer_c", lambda n: n.duration(180.001, 3600.0), TIMER_C_SECONDS)
    return TimerSettings(t1, t2, t4), timer_c


def _limits(node: Node | None) -> tuple[int, int]:
    fields = (node.mapping(("max_message_size", "max_breadth")) if node is not None else None) or {}
    size = _read(fields, "max_message_size", lambda n: n.integer(1500, 1048576),
                 MAX_MESSAGE_SIZE)
    breadth = _read(fields, "max_breadth", lambda n: n.integer(1, 1000), MAX_BREADTH)
    return size, breadth


def _logging(node: Node | None) -> tuple[str, str]:
    fields = (node.mapping(("level", "format")) if node is not None else None) or {}
    level = _read(fields, "level", lambda n: n.string(_LOG_LEVELS), "info")
    log_format = _read(fields, "format", lambda n: n.string(_LOG_FORMATS), "json")
    return level, log_format
