"""Read the ``routes`` section: static plans for numbers that are nobody's line.

Shape::

    routes:
      "2000":
        stages:
          - {targets: ["sip:a@127.0.0.2:5070", "sip:b@127.0.0.3:5070"], timeout: 20s}
          - {targets: ["sip:c@127.0.0.4:5070"]}      # timeout defaults to 20s
        fallback: sip:vm@127.0.0.20:5070           # optional

The fallback rings for the last stage's timeout.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from proxy.config.fields import mapping_of, non_empty_items, required, ring_timeout, sip_uri
from proxy.config.reader import Node
from proxy.policy.directory import DEFAULT_RING_TIMEOUT
from proxy.policy.numbers import normalize_user
from proxy.policy.plan import RoutingPlan, Stage, Target, TargetRole

_ROUTE_USER = re.compile(r'^[^\s@;:<>"]+$')  # a non-number route: a plain SIP user part


def read_routes(
    node: Node | None, line_owners: Mapping[str, str], default_country_code: str
) -> dict[str, RoutingPlan]:
    """``routes``: number as written -> plan. ``line_owners`` maps E.164 lines to users."""
    routes: dict[str, RoutingPlan] = {}
    written_as: dict[str, str] = {}  # normalised number -> the route key that has it
    for number, route_node in mapping_of(node).items():
        key = normalize_user(number, default_country_code)
        if key == number and not _ROUTE_USER.match(number):
            route_node.problem("must be a phone number or a user name without spaces, @, ; or :")
            continue
        if key in line_owners:
            route_node.problem(
                f"{number!r} is also a line of {line_owners[key]}; a user's line is routed"
                " by the directory and cannot also have a static route"
            )
        elif key in written_as:
            route_node.problem(f"{number!r} is the same number as route {written_as[key]!r}")
        written_as.setdefault(key, number)
        plan = _plan(route_node)
        if plan is not None:
            routes[number] = plan
    return routes


def _plan(node: Node) -> RoutingPlan | None:
    fields = node.mapping(("stages", "fallback"))
    if fields is None:
        return None
    stages_node = required(fields, "stages", node, "a list of {targets: [sip: URIs], timeout: 20s}")
    stages = [_stage(item) for item in non_empty_items(stages_node, "stage")] if stages_node else []
    fallback_node = fields.get("fallback")
    fallback = sip_uri(fallback_node) if fallback_node else None
    complete = [stage for stage in stages if stage is not None]
    if not complete or len(complete) < len(stages):
        return None
    return RoutingPlan(
        tuple(complete),
        fallback=Stage((Target(fallback, TargetRole.ROUTE),), complete[-1].timeout)
        if fallback
        else None,
    )


def _stage(node: Node) -> Stage | None:
    fields = node.mapping(("targets", "timeout"))
    if fields is None:
        return None
    targets_node = required(fields, "targets", node, "a list of sip: URIs rung in parallel")
    uris = (
        [sip_uri(item) for item in non_empty_items(targets_node, "target")] if targets_node else []
    )
    timeout_node = fields.get("timeout")
    timeout = ring_timeout(timeout_node) if timeout_node else DEFAULT_RING_TIMEOUT
    targets = tuple(Target(uri, TargetRole.ROUTE) for uri in uris if uri is not None)
    if timeout is None or not targets or len(targets) < len(uris):
        return None
    return Stage(targets, timeout)
