"""The server sections: sockets, timers, limits, logging, numbering, store, auth."""

from __future__ import annotations

import ipaddress
from typing import Annotated

from pydantic import Field, field_validator, model_validator

from proxy.auth import supported_algorithms
from proxy.config.addresses import CountryCode, HttpUrl, IpHost, Realm, SocketAddress, StoreUrl
from proxy.config.addresses import Email as EmailAddress
from proxy.config.checks import EnvText, OneOf, Seconds, Section, Text, Whole, fail
from proxy.defaults import (
    ADMIN_TOKEN_MIN_LENGTH,
    API_HOST,
    API_PORT,
    DIALOG_MAX_DURATION_SECONDS,
    HISTORY_RETENTION_SECONDS,
    LINE_MAX_CALLS,
    MAX_BREADTH,
    MAX_MESSAGE_SIZE,
    MAX_WORKERS,
    NOTIFY_ATTEMPTS,
    TIMER_C_SECONDS,
    UDP_REQUEST_LIMIT,
)
from proxy.policy.directory import DEFAULT_COUNTRY_CODE
from proxy.transaction.timers import TimerSettings

_TRANSPORTS = OneOf(("udp", "tcp"))
_LOG_LEVELS = OneOf(("debug", "info", "warning", "error"))
_LOG_FORMATS = OneOf(("json", "console"))
_TIMERS = TimerSettings()


class Listen(Section):
    """A socket to listen on."""

    transport: Annotated[str, _TRANSPORTS, Field(description="udp or tcp")] = "udp"
    host: Annotated[str, IpHost(), Field(description="an IPv4 or IPv6 address")]
    port: Annotated[int, Whole(1, 65535)] = 5060
    advertise: Annotated[
        str | None,
        Text(),
        Field(description="the address peers can reach, put in Via and Record-Route"),
    ] = None

    @model_validator(mode="after")
    def _wildcard_needs_advertise(self) -> Listen:
        if self.advertise is None and ipaddress.ip_address(self.host).is_unspecified:
            raise fail("a wildcard host needs 'advertise': the address peers can reach")
        return self

    def shown(self) -> str:
        """The host as written in SIP (IPv6 in brackets) unless ``advertise`` is set."""
        if self.advertise is not None:
            return self.advertise
        return f"[{self.host}]" if ":" in self.host else self.host


class Workers(Section):
    """Processes sharing the listeners' UDP ports (SO_REUSEPORT), to use more cores."""

    count: Annotated[
        int, Whole(1, MAX_WORKERS),
        Field(description="processes; 1 (the default) runs the proxy in one process"),
    ] = 1
    first_port: Annotated[
        int | None, Whole(1, 65535),
        Field(description="the other workers' own ports, from which they send their"
                          " requests: worker 1 on first_port, worker 2 on first_port + 1,"
                          " ..., on every listener's host"),
    ] = None

    @model_validator(mode="after")
    def _ports_for_every_worker(self) -> Workers:
        if self.count > 1 and self.first_port is None:
            raise fail(f"{self.count} workers need 'first_port': every worker but the"
                       " first sends its requests from a port of its own")
        if self.first_port is not None and self.first_port + self.count - 2 > 65535:
            raise fail(f"first_port {self.first_port} leaves no room for {self.count}"
                       f" workers; allowed: at most {65535 - self.count + 2}")
        return self

    def ports(self) -> tuple[int, ...]:
        """The own ports of workers 1 to count - 1; () for a single process."""
        if self.count == 1 or self.first_port is None:
            return ()
        return tuple(range(self.first_port, self.first_port + self.count - 1))


class Timers(Section):
    """RFC 3261 §17.1.1.1 timers and the §16.6 Timer C."""

    t1: Annotated[float, Seconds(0.01, 10.0), Field(description="round-trip estimate")] = (
        _TIMERS.t1
    )
    t2: Annotated[float, Seconds(0.1, 60.0)] = _TIMERS.t2
    t4: Annotated[float, Seconds(0.1, 60.0)] = _TIMERS.t4
    # RFC 3261 §16.6 step 11: Timer C MUST be larger than 3 minutes.
    timer_c: Annotated[
        float,
        Seconds(180.0, 3600.0, exclusive_minimum=True),
        Field(description="bounds a ringing INVITE branch; more than 3 minutes"),
    ] = TIMER_C_SECONDS


class Limits(Section):
    max_message_size: Annotated[int, Whole(1500, 1048576)] = MAX_MESSAGE_SIZE
    max_breadth: Annotated[int, Whole(1, 1000)] = MAX_BREADTH
    udp_request_limit: Annotated[
        int, Whole(0, 65536),
        Field(description="bytes: a larger request to a UDP next hop goes over TCP, and"
                          " over UDP if TCP cannot connect (RFC 3261 §18.1.1); 0: never"),
    ] = UDP_REQUEST_LIMIT


class Lines(Section):
    """Users' lines as shared lines."""

    max_calls: Annotated[
        int, Whole(1, 100_000),
        Field(description="calls a line carries at once, received or placed; the next call"
                          " to it gets 486 Busy Here, the next placed from it 403 Forbidden"),
    ] = LINE_MAX_CALLS


class Dialogs(Section):
    """Calls as the proxy follows them."""

    max_duration: Annotated[
        float, Seconds(60.0, 7 * 86400.0),
        Field(description="a quiet call without a session timer (its BYE lost) ends after"
                          " this long, such as 12h"),
    ] = DIALOG_MAX_DURATION_SECONDS


class History(Section):
    """The shared call history."""

    retention: Annotated[
        float, Seconds(86400.0, 3650 * 86400.0),
        Field(description="how long a call stays in the history, such as 90d; older calls"
                          " are purged"),
    ] = HISTORY_RETENTION_SECONDS


class Logging(Section):
    level: Annotated[str, _LOG_LEVELS] = "info"
    format: Annotated[str, _LOG_FORMATS] = "json"


class Numbering(Section):
    default_country_code: Annotated[
        str, CountryCode(), Field(description="for numbers written without one, such as 1")
    ] = DEFAULT_COUNTRY_CODE


class Dns(Section):
    """Where host names of targets and gateways are resolved (RFC 3263)."""

    servers: Annotated[
        tuple[Annotated[tuple[str, int], SocketAddress("a DNS server", 53)], ...],
        Field(description="DNS servers asked, such as 127.0.0.1:5353; the system's"
                          " (/etc/resolv.conf) when empty"),
    ] = ()


class Store(Section):
    url: Annotated[
        str,
        StoreUrl(),
        Field(description="sqlite+aiosqlite:///path/file.db or postgresql+asyncpg://..."),
    ]


_ALGORITHMS = OneOf(supported_algorithms())


class Auth(Section):
    realm: Annotated[
        str, Realm(), Field(description="the digest realm (RFC 7616), such as example.com")
    ]
    # Some phones answer only the first challenge, and only MD5 (SIPp 3.6 reads the
    # first; baresip 1.0 gives up when a 401 carries more than one): the operator
    # chooses what is offered, in order (RFC 8760 §2.4: most preferred first).
    algorithms: Annotated[
        tuple[Annotated[str, _ALGORITHMS], ...],
        Field(description=f"digest algorithms offered, in order: {_ALGORITHMS.allowed()}",
              min_length=1),
    ] = supported_algorithms()

    @model_validator(mode="after")
    def _listed_once(self) -> Auth:
        if len(set(self.algorithms)) != len(self.algorithms):
            raise fail("each algorithm may be listed once")
        return self


class Api(Section):
    """The HTTP management API, served on the proxy's own event loop."""

    listen: Annotated[
        tuple[str, int], SocketAddress("an API address", API_PORT),
        Field(description=f"address and port of the API, such as {API_HOST}:{API_PORT}"),
    ] = (API_HOST, API_PORT)
    admin_token: Annotated[
        str | None, EnvText(),
        Field(description="the administrator's bearer token (at least"
                          f" {ADMIN_TOKEN_MIN_LENGTH} characters), such as"
                          " ${VIPPROXY_ADMIN_TOKEN}; no administrator without it"),
    ] = None

    @field_validator("admin_token")
    @classmethod
    def _token_long_enough(cls, token: str | None) -> str | None:
        if token is not None and len(token) < ADMIN_TOKEN_MIN_LENGTH:
            raise fail(f"{len(token)} characters is too short; allowed: at least"
                       f" {ADMIN_TOKEN_MIN_LENGTH}")
        return token


class Webhook(Section):
    """Where notifications are POSTed as JSON."""

    url: Annotated[str, HttpUrl(), Field(description="an http:// or https:// URL")]
    attempts: Annotated[
        int, Whole(1, 20),
        Field(description="tries per notification, waiting longer after each failure"),
    ] = NOTIFY_ATTEMPTS


class Email(Section):
    """Where notifications are sent as e-mail, to the users' ``email``."""

    smtp: Annotated[
        tuple[str, int], SocketAddress("an SMTP server", 25),
        Field(description="the SMTP server (no TLS, no login: a local relay), such as"
                          " 127.0.0.1:25"),
    ]
    sender: Annotated[str, EmailAddress(), Field(description="the From address")]
    attempts: Annotated[int, Whole(1, 20)] = NOTIFY_ATTEMPTS


class Notifications(Section):
    """Invitations, acceptances and removals of delegates, told to whom they concern."""

    webhook: Annotated[Webhook | None, Field(description="POST JSON to this URL")] = None
    email: Annotated[Email | None, Field(description="mail the users concerned")] = None
