"""Registered phones in a routing plan.

The policy says *whom* to ring; a person who registers stands in the plan as one
target marked ``registered``. When a call is routed, the core puts one target per
contact that person has registered right now in its place (RFC 3261 §16.5: the
location service gives the target set), each sent to the address the phone
registered from (RFC 3581 received/rport, RFC 5626 §5.3: its own flow).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from proxy.policy.plan import RoutingPlan, Stage, Target


@dataclass(frozen=True, slots=True)
class Contact:
    """A registered contact: its URI, and where to send requests for it."""

    uri: str
    next_hop: str | None  # e.g. sip:192.0.2.10:5060;transport=udp
    route_set: tuple[str, ...] = ()  # RFC 3327 Path of the registration: Route entries


# User id -> the contacts that user has registered now, most preferred first.
Locate = Callable[[str], Sequence[Contact]]


def has_registered_targets(plan: RoutingPlan) -> bool:
    return any(target.registered for stage in _stages(plan) for target in stage.targets)


def expand_registered(plan: RoutingPlan, locate: Locate) -> tuple[RoutingPlan, tuple[str, ...]]:
    """``plan`` with every registered target replaced by that user's contacts, and
    the users who had none (skipped: said in the log, like a user without phones)."""
    unreachable: list[str] = []

    def expand(stage: Stage) -> Stage:
        targets: list[Target] = []
        for target in stage.targets:
            if not target.registered:
                targets.append(target)
                continue
            contacts = locate(target.user or "")
            if not contacts and target.user not in unreachable:
                unreachable.append(target.user or "")
            targets += [replace(target, uri=contact.uri, next_hop=contact.next_hop,
                                route_set=contact.route_set, registered=False)
                        for contact in contacts]
        return Stage(tuple(targets), stage.timeout)

    fallback = expand(plan.fallback) if plan.fallback is not None else None
    expanded = replace(plan, stages=tuple(expand(stage) for stage in plan.stages),
                       fallback=fallback)
    return expanded, tuple(unreachable)


def rings_nobody(plan: RoutingPlan) -> bool:
    return not any(stage.targets for stage in _stages(plan))


def _stages(plan: RoutingPlan) -> tuple[Stage, ...]:
    return (*plan.stages, *((plan.fallback,) if plan.fallback is not None else ()))
