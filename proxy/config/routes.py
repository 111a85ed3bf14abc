"""The ``routes`` section: static plans for numbers that are nobody's line.

Shape::

    routes:
      "2000":
        stages:
          - {targets: ["sip:a@127.0.0.2:5070", "sip:b@127.0.0.3:5070"], timeout: 20s}
          - {targets: ["sip:c@127.0.0.4:5070"]}      # timeout defaults to 20s
        fallback: sip:vm@127.0.0.20:5070           # optional

The fallback rings for the last stage's timeout. That a route's number is no
user's line and no other route's is checked in ``proxy.config.document``.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from proxy.config.addresses import SipTarget
from proxy.config.checks import Section, at_least_one, min_items
from proxy.config.delegations import RING_TIMEOUT
from proxy.policy.directory import DEFAULT_RING_TIMEOUT
from proxy.policy.plan import RoutingPlan, Stage, Target, TargetRole


class RouteStage(Section):
    targets: Annotated[
        tuple[Annotated[str, SipTarget()], ...],
        at_least_one("target"),
        Field(description="a list of sip: URIs rung in parallel", json_schema_extra=min_items(1)),
    ]
    timeout: Annotated[float, RING_TIMEOUT, Field(description="how long the stage rings")] = (
        DEFAULT_RING_TIMEOUT
    )

    def stage(self) -> Stage:
        return Stage(tuple(Target(uri, TargetRole.ROUTE) for uri in self.targets), self.timeout)


class Route(Section):
    stages: Annotated[
        tuple[RouteStage, ...],
        at_least_one("stage"),
        Field(
            description="a list of {targets: [sip: URIs], timeout: 20s}, rung in order",
            json_schema_extra=min_items(1),
        ),
    ]
    fallback: Annotated[
        str | None, SipTarget(), Field(description="rung when no stage answered")
    ] = None

    def plan(self) -> RoutingPlan:
        stages = tuple(stage.stage() for stage in self.stages)
        fallback = (
            Stage((Target(self.fallback, TargetRole.ROUTE),), stages[-1].timeout)
            if self.fallback
            else None
        )
        return RoutingPlan(stages, fallback=fallback)
