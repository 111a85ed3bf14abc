"""The outbound table: where calls to numbers outside the directory go.

Rows are tried in order and the first match wins. A row matches the called
number normalised as everywhere else (``proxy.policy.numbers``: ``+14155550199``
for a public number, the digits of a short extension), either by a ``prefix``
that it starts with or by a regular expression ``pattern`` searched in it. The
call goes to the row's gateway (a PBX or a trunk, a trusted peer) with the
normalised number as the Request-URI's user (RFC 3261 §16.5: the proxy
retargets to the gateway, §16.6 step 2).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from proxy.policy.plan import RoutingPlan, Stage, Target, TargetRole
from proxy.sip.uri import SipUri, parse_uri

# Seconds an outbound call may ring: the longest a stage may (a trunk's callee is
# given up by its own network first; Timer C, > 3 min, stays the last resort).
OUTBOUND_RING_TIMEOUT = 180.0


@dataclass(frozen=True, slots=True)
class OutboundRule:
    """One row of the table: the numbers it takes (a prefix or a pattern) and the
    gateway they go to (``sip:HOST[:PORT][;transport=...]``, no user part)."""

    index: int  # the row's position, for explanations (``outbound[2]``)
    gateway: str
    prefix: str | None = None
    pattern: re.Pattern[str] | None = None

    def matches(self, number: str) -> bool:
        """Whether the normalised ``number`` is one of this row's."""
        if self.pattern is not None:
            return self.pattern.search(number) is not None
        return self.prefix is not None and number.startswith(self.prefix)

    @property
    def text(self) -> str:
        """``outbound[0] (prefix '+1')``: the row as the configuration names it."""
        match = (f"pattern {self.pattern.pattern!r}" if self.pattern is not None
                 else f"prefix {self.prefix!r}")
        return f"outbound[{self.index}] ({match})"

    def plan(self, number: str) -> RoutingPlan:
        """One stage: the gateway, asked for ``number``."""
        gateway = parse_uri(self.gateway)
        assert isinstance(gateway, SipUri)  # the configuration accepts sip: URIs only
        target = Target(str(replace(gateway, user=number, password=None)), TargetRole.GATEWAY)
        return RoutingPlan((Stage((target,), OUTBOUND_RING_TIMEOUT),))


def first_match(rules: tuple[OutboundRule, ...], number: str) -> OutboundRule | None:
    """The first row that takes the normalised ``number``, or None."""
    return next((rule for rule in rules if rule.matches(number)), None)
