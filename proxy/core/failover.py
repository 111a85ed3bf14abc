"""When a branch moves on to its target's next hop (RFC 3263 §4.3). Pure."""

from __future__ import annotations

import enum


class HopFailure(enum.Enum):
    """How one hop of a branch failed, as far as failover cares."""

    TIMEOUT = "timeout"  # Timer B or F fired (RFC 3261 §17.1.1.2, §17.1.2.2)
    TRANSPORT_ERROR = "transport_error"  # RFC 3261 §18.4: ICMP, refused connection
    UNAVAILABLE = "unavailable"  # the hop answered 503


def hop_failure(status: int) -> HopFailure | None:
    """A final response that sends the branch to the next hop: RFC 3263 §4.3 names
    a 503; anything else is the target's answer."""
    return HopFailure.UNAVAILABLE if status == 503 else None


def fails_over(failure: HopFailure | None, hops_left: int, branch_waiting: bool) -> bool:
    """RFC 3263 §4.3: after a timeout, a transport error or a 503 the request goes
    to the next hop of the same target, as a new transaction, if there is one and
    the fork still waits for this branch (not settled, not being cancelled).
    Otherwise the failure is the branch's response (§16.7)."""
    return failure is not None and hops_left > 0 and branch_waiting
