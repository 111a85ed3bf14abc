"""The configuration file as one pydantic model: the schema every door validates
through (the YAML file, ``vipproxy schema`` for editors, later the admin API).

The sections are in ``server``, ``users``, ``delegations``, ``routes`` and
``outbound``; the rules here relate sections to each other. Fields are validated
in the order they are declared, so a rule on ``routes`` sees the validated
``users``.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, ValidationInfo, field_validator

from proxy.config.addresses import Domain, Network, RouteNumber, UserRef
from proxy.config.checks import Loc, OneOf, Seconds, Section, Text, at_least_one, min_items
from proxy.config.checks import problems_at as problems_error
from proxy.config.context import context_of
from proxy.config.delegations import Delegation
from proxy.config.outbound import OutboundRoute
from proxy.config.routes import Route
from proxy.config.server import (
    Api,
    Auth,
    Dialogs,
    Dns,
    History,
    Limits,
    Lines,
    Listen,
    Logging,
    Notifications,
    Numbering,
    Store,
    Timers,
    Workers,
)
from proxy.config.users import User
from proxy.defaults import SHUTDOWN_GRACE_SECONDS, STATE_DIR
from proxy.policy.directory import IpNetwork
from proxy.policy.numbers import normalize_user
from proxy.policy.trust import UntrustedCalls

MAX_DELEGATORS_PER_DELEGATE = 15
STORE_FILE = "vipproxy.db"  # the SQLite file under state_dir when no store is set


class ConfigDocument(Section):
    """The vipproxy configuration file (YAML)."""

    listen: Annotated[
        tuple[Listen, ...],
        at_least_one("listener"),
        Field(description="a list of {transport, host, port}", json_schema_extra=min_items(1)),
    ]
    domain: Annotated[
        str | None, Domain(), Field(description="the proxy's SIP domain: a host name or IP")
    ] = None
    timers: Annotated[Timers, Field(default_factory=Timers)]
    limits: Annotated[Limits, Field(default_factory=Limits)]
    lines: Annotated[Lines, Field(default_factory=Lines)]
    dialogs: Annotated[Dialogs, Field(default_factory=Dialogs)]
    history: Annotated[History, Field(default_factory=History)]
    logging: Annotated[Logging, Field(default_factory=Logging)]
    dns: Annotated[Dns, Field(default_factory=Dns)]
    workers: Annotated[Workers, Field(default_factory=Workers)]
    shutdown_grace: Annotated[float, Seconds(0.0, 3600.0)] = SHUTDOWN_GRACE_SECONDS
    untrusted_calls: Annotated[UntrustedCalls, OneOf(UntrustedCalls)] = UntrustedCalls.REFUSE
    state_dir: Annotated[
        str, Text(), Field(description="where what must survive a restart is kept")
    ] = STATE_DIR
    store: Annotated[
        Store | None,
        Field(description=f"the database; a SQLite file {STORE_FILE} in state_dir if absent"),
    ] = None
    auth: Annotated[Auth | None, Field(description="digest authentication settings")] = None
    api: Annotated[
        Api | None, Field(description="the HTTP management API and metrics; off when absent")
    ] = None
    notifications: Annotated[
        Notifications, Field(default_factory=Notifications,
                             description="webhook and e-mail for delegation changes")
    ]
    numbering: Annotated[Numbering, Field(default_factory=Numbering)]
    users: Annotated[dict[str, User], Field(default_factory=dict)]
    trusted_peers: Annotated[
        tuple[Annotated[IpNetwork, Network()], ...],
        Field(description="IP addresses or networks whose P-Asserted-Identity is believed"),
    ] = ()
    delegations: Annotated[
        dict[Annotated[str, UserRef()], Delegation],
        Field(description="delegator's user id -> delegation", default_factory=dict),
    ]
    routes: Annotated[
        dict[Annotated[str, RouteNumber()], Route],
        Field(description="number -> static routing plan", default_factory=dict),
    ]

    outbound: Annotated[
        tuple[OutboundRoute, ...],
        Field(description=(
            "where calls to numbers outside the directory go: a list of {prefix, gateway} or"
            " {pattern, gateway}, tried in order, first match wins; numbers are normalised"
            " (+14155550199) before matching; only users' phones and trusted peers call out")),
    ] = ()

    @field_validator("workers")
    @classmethod
    def _worker_ports_free(cls, workers: Workers, info: ValidationInfo) -> Workers:
        """A worker's own port must not be a listener's: the worker could not bind it."""
        listeners: tuple[Listen, ...] = info.data.get("listen", ())  # absent when invalid
        ports = workers.ports()
        taken = {item.port for item in listeners} & set(ports)
        if taken:
            raise problems_error([(("first_port",), (
                f"the workers' ports {ports[0]}-{ports[-1]} include"
                f" {', '.join(map(str, sorted(taken)))}, a listener's port; allowed: ports"
                " no listener uses"))])
        return workers

    @field_validator("users")
    @classmethod
    def _lines_unique(cls, users: dict[str, User]) -> dict[str, User]:
        """A line belongs to one user: the directory finds the callee by it. (A
        user's own lines are each written once: ``User``.)"""
        owners: dict[str, str] = {}
        problems: list[tuple[Loc, str]] = []
        for user_id, user in users.items():
            for index, number in enumerate(user.lines):
                owner = owners.setdefault(number, user_id)
                if owner != user_id:
                    problems.append(((user_id, "lines", index),
                                     f"{number} is already a line of {owner}; lines are unique"))
        if problems:
            raise problems_error(problems)
        return users

    @field_validator("delegations")
    @classmethod
    def _delegates_are_others(cls, delegations: dict[str, Delegation]) -> dict[str, Delegation]:
        """Nobody delegates to themselves; a delegate serves at most 15 delegators."""
        problems: list[tuple[Loc, str]] = []
        delegators_of: dict[str, list[str]] = {}
        for delegator, delegation in delegations.items():
            for user_id in delegation.delegates:
                loc: Loc = (delegator, "delegates", user_id)
                if user_id == delegator:
                    problems.append((loc, "a user cannot be their own delegate"))
                    continue
                delegators = delegators_of.setdefault(user_id, [])
                delegators.append(delegator)
                if len(delegators) > MAX_DELEGATORS_PER_DELEGATE:
                    problems.append((loc, (
                        f"{user_id} is a delegate of {len(delegators)} delegators"
                        f" ({', '.join(delegators)}); at most {MAX_DELEGATORS_PER_DELEGATE}"
                        " allowed per delegate"
                    )))
        if problems:
            raise problems_error(problems)
        return delegations

    @field_validator("routes")
    @classmethod
    def _routes_are_not_lines(
        cls, routes: dict[str, Route], info: ValidationInfo
    ) -> dict[str, Route]:
        """A user's line is routed by the directory; two spellings of one number
        would make the route found depend on how the caller wrote it."""
        country_code = context_of(info).country_code
        users: dict[str, User] = info.data.get("users", {})  # absent when users are invalid
        line_owners = {line: user_id for user_id, user in users.items() for line in user.lines}
        written_as: dict[str, str] = {}  # normalised number -> the route key that has it
        problems: list[tuple[Loc, str]] = []
        for number in routes:
            key = normalize_user(number, country_code)
            if key in line_owners:
                problems.append(((number,), (
                    f"{number!r} is also a line of {line_owners[key]}; a user's line is routed"
                    " by the directory and cannot also have a static route"
                )))
            elif key in written_as:
                problems.append(
                    ((number,), f"{number!r} is the same number as route {written_as[key]!r}")
                )
            written_as.setdefault(key, number)
        if problems:
            raise problems_error(problems)
        return routes
