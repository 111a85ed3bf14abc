"""A routing plan: what the proxy core rings, in which order, and what comes last.

The policy layer produces plans; the core carries them out (RFC 3261 §16.5-§16.7:
each stage is a set of targets forked in parallel; stages run in sequence).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class TargetRole(enum.Enum):
    """Why a target is rung; the core decorates the forwarded INVITE accordingly."""

    ROUTE = "route"  # a static route from the routes: table
    DELEGATOR = "delegator"  # the owner of the called line
    DELEGATE = "delegate"  # rung on the delegator's behalf: History-Info, display prefix
    VOICEMAIL = "voicemail"  # the mailbox: History-Info and Diversion (RFC 7044, RFC 5806)
    GATEWAY = "gateway"  # an outbound PBX or trunk, a trusted peer: gets P-Asserted-Identity


@dataclass(frozen=True, slots=True)
class Target:
    """One branch of a stage."""

    uri: str  # the Request-URI of the forwarded INVITE (RFC 3261 §16.6 step 2)
    role: TargetRole
    user: str | None = None  # directory user id, for logs and call history
    display_prefix: str = ""  # prepended to the From display name, e.g. "[VIP] "
    # Stands for every contact ``user`` has registered (``uri`` is empty): the core
    # puts one target per contact in its place when the call is routed.
    registered: bool = False
    # Where to send instead of the Request-URI's host (RFC 3261 §16.6 step 7 lets a
    # proxy choose the next hop): the address a registered phone registered from.
    next_hop: str | None = None
    # Route entries the request must follow first: the Path a phone registered
    # through (RFC 3327 §5.3: the proxies between us and the phone).
    route_set: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Stage:
    """Targets rung in parallel for at most ``timeout`` seconds."""

    targets: tuple[Target, ...]
    timeout: float


@dataclass(frozen=True, slots=True)
class RoutingPlan:
    """Stages rung in order, then the fallback when no stage produced a 2xx.

    ``decline_moves_on``: when true a 6xx from a branch ends its stage only and the
    plan goes on (a delegator pressing "decline" still reaches delegates and
    voicemail); when false a 6xx ends the whole fork, as RFC 3261 §16.7 step 5
    advises for a plain proxy.
    """

    stages: tuple[Stage, ...]
    fallback: Stage | None = None
    decline_moves_on: bool = False
