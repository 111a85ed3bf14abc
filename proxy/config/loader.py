"""Loading the YAML configuration file into frozen, validated values.

Validation happens once, through the models of ``proxy.config.document``; the
rest of the proxy trusts what it gets. Every problem names its path in the file
and what is allowed (``vipproxy check``); ``vipproxy schema`` prints the same
models as a JSON Schema for editors.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from proxy.config.context import ConfigContext
from proxy.config.directory import directory_of
from proxy.config.document import STORE_FILE, ConfigDocument
from proxy.config.errors import ConfigError, ConfigProblem
from proxy.config.problems import problems_of
from proxy.config.server import Numbering
from proxy.defaults import DIALOG_MAX_DURATION_SECONDS, HISTORY_RETENTION_SECONDS, LINE_MAX_CALLS
from proxy.policy.directory import Directory
from proxy.policy.trust import UntrustedCalls
from proxy.transaction.timers import TimerSettings

# The dialect pydantic writes; editors (YAML language servers) read it from here.
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


@dataclass(frozen=True, slots=True)
class Listener:
    """A socket to listen on. ``advertise`` is the address put in Via and Record-Route."""

    transport: str  # "UDP" or "TCP"
    host: str  # an IP literal (IPv6 without brackets)
    port: int
    advertise: str  # host as written in SIP (IPv6 in brackets)


@dataclass(frozen=True, slots=True)
class Credentials:
    """How a user's phones authenticate: a password or precomputed HA1 values
    (RFC 8760 algorithm name -> hex). Kept out of ``repr`` so logs never show them."""

    username: str
    password: str | None = field(default=None, repr=False)
    ha1: Mapping[str, str] = field(default_factory=dict, repr=False)


@dataclass(frozen=True, slots=True)
class ApiSettings:
    """Where the management API listens, and the administrator's token (kept out of
    ``repr`` so logs never show it)."""

    host: str
    port: int
    admin_token: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class WebhookSettings:
    url: str
    attempts: int


@dataclass(frozen=True, slots=True)
class EmailSettings:
    host: str  # the SMTP server
    port: int
    sender: str
    attempts: int


@dataclass(frozen=True, slots=True)
class NotificationSettings:
    """Where delegation changes are told; neither: nowhere."""

    webhook: WebhookSettings | None = None
    email: EmailSettings | None = None


@dataclass(frozen=True, slots=True)
class ProxyConfig:
    listeners: tuple[Listener, ...]
    timers: TimerSettings
    timer_c: float
    max_message_size: int
    max_breadth: int
    udp_request_limit: int
    shutdown_grace: float
    log_level: str
    log_format: str
    directory: Directory
    untrusted_calls: UntrustedCalls
    state_dir: Path
    domain: str | None = None  # the proxy's SIP domain (a host name or IP)
    store_url: str | None = None  # SQLAlchemy URL; None: STORE_FILE under state_dir
    auth_realm: str | None = None  # the digest realm (RFC 7616)
    auth_algorithms: tuple[str, ...] = ()  # offered in order; () for every supported one
    credentials: Mapping[str, Credentials] = field(default_factory=dict)  # by user id
    line_max_calls: int = LINE_MAX_CALLS  # calls a line carries before 486 (403 placed)
    dialog_max_duration: float = DIALOG_MAX_DURATION_SECONDS  # a quiet call ends after it
    history_retention: float = HISTORY_RETENTION_SECONDS  # seconds a call stays in the history
    dns_servers: tuple[tuple[str, int], ...] = ()  # (IP, port); () for the system's
    api: ApiSettings | None = None  # None: no management API
    notifications: NotificationSettings = field(default_factory=NotificationSettings)
    emails: Mapping[str, str] = field(default_factory=dict)  # user id -> e-mail address
    # The own ports of workers 1, 2, ... (``proxy.workers``); () for a single process.
    worker_ports: tuple[int, ...] = ()

    @property
    def workers(self) -> int:
        """Processes serving the listeners (``workers.count``)."""
        return len(self.worker_ports) + 1 if self.worker_ports else 1

    @property
    def database_url(self) -> str:
        """The store's SQLAlchemy URL: ``store.url``, or a SQLite file in ``state_dir``."""
        if self.store_url is not None:
            return self.store_url
        return f"sqlite+aiosqlite:///{self.state_dir / STORE_FILE}"


def load_config(path: str | Path, environ: Mapping[str, str] | None = None) -> ProxyConfig:
    """Read and validate ``path``; raises :class:`ConfigError` listing every problem."""
    return validate_document(read_document(path), os.environ if environ is None else environ)


def read_document(path: str | Path) -> object:
    """The YAML of ``path``, parsed but not validated; :class:`ConfigError` when it
    cannot be read or is no YAML."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError([ConfigProblem("", f"cannot read {path}: {error.strerror}")]) from None
    return _parsed(text)


def parse_config(text: str, environ: Mapping[str, str] | None = None) -> ProxyConfig:
    """Validate YAML ``text``; ``${VAR}`` values come from ``environ`` (the process
    environment by default)."""
    return validate_document(_parsed(text), os.environ if environ is None else environ)


def _parsed(text: str) -> object:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError([ConfigProblem("", f"{where}not valid YAML ({error})")]) from None


def validate_document(document: object, environ: Mapping[str, str]) -> ProxyConfig:
    """Validate the parsed YAML (or the same data from another door)."""
    try:
        valid = ConfigDocument.model_validate(document, context=context_for(document, environ))
    except ValidationError as error:
        raise ConfigError(problems_of(error, ConfigDocument)) from None
    return _proxy_config(valid)


def config_schema() -> dict[str, Any]:
    """The JSON Schema of the configuration file (``vipproxy schema``)."""
    return {"$schema": JSON_SCHEMA_DIALECT, **ConfigDocument.model_json_schema()}


def context_for(document: object, environ: Mapping[str, str]) -> ConfigContext:
    """What validators need from elsewhere in the file, read before validating it.

    Numbers anywhere are read with ``numbering.default_country_code``, and a
    reference to a user is judged by the ids under ``users`` even when a user's
    own entry has a problem (which is then reported once, at that entry).
    """
    if not isinstance(document, dict):
        return ConfigContext(environ=environ)
    try:
        country_code = Numbering.model_validate(document.get("numbering")).default_country_code
    except ValidationError:
        country_code = Numbering().default_country_code  # the problem is reported in full
    users = document.get("users")
    user_ids = frozenset(str(key) for key in users) if isinstance(users, dict) else frozenset()
    return ConfigContext(country_code, user_ids, environ)


def _proxy_config(document: ConfigDocument) -> ProxyConfig:
    timers = document.timers
    return ProxyConfig(
        listeners=tuple(
            Listener(item.transport.upper(), item.host, item.port, item.shown())
            for item in document.listen
        ),
        timers=TimerSettings(timers.t1, timers.t2, timers.t4),
        timer_c=timers.timer_c,
        max_message_size=document.limits.max_message_size,
        max_breadth=document.limits.max_breadth,
        udp_request_limit=document.limits.udp_request_limit,
        shutdown_grace=document.shutdown_grace,
        line_max_calls=document.lines.max_calls,
        dialog_max_duration=document.dialogs.max_duration,
        history_retention=document.history.retention,
        log_level=document.logging.level,
        log_format=document.logging.format,
        dns_servers=document.dns.servers,
        directory=directory_of(document),
        untrusted_calls=document.untrusted_calls,
        state_dir=Path(document.state_dir).expanduser(),
        domain=document.domain,
        store_url=document.store.url if document.store is not None else None,
        auth_realm=document.auth.realm if document.auth is not None else None,
        auth_algorithms=document.auth.algorithms if document.auth is not None else (),
        api=ApiSettings(*document.api.listen, document.api.admin_token)
        if document.api is not None else None,
        notifications=_notifications(document),
        worker_ports=document.workers.ports(),
        emails={user_id: user.email for user_id, user in document.users.items() if user.email},
        credentials={
            user_id: Credentials(
                username=user.auth.username or user_id,
                password=user.auth.password,
                ha1=user.auth.ha1.by_algorithm() if user.auth.ha1 is not None else {},
            )
            for user_id, user in document.users.items()
            if user.auth is not None
        },
    )


def _notifications(document: ConfigDocument) -> NotificationSettings:
    webhook, email = document.notifications.webhook, document.notifications.email
    return NotificationSettings(
        webhook=WebhookSettings(webhook.url, webhook.attempts) if webhook is not None else None,
        email=EmailSettings(*email.smtp, email.sender, email.attempts)
        if email is not None else None,
    )
