"""When a branch moves on to its target's next hop (RFC 3263 §4.3). Pure."""

from __future__ import annotations

import enum

from proxy.sip.hop import Hop


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


def hops_after(failure: HopFailure, hop: Hop, next_hops: tuple[Hop, ...]) -> tuple[Hop, ...]:
    """The hops a branch that failed at ``hop`` may still try. A request moved to
    TCP for its size is followed by the same address over UDP (RFC 3261 §18.1.1,
    ``proxy.core.branching``), which is for a connection that could not be made:
    after a timeout or a 503 that server has had the request, so it is skipped."""
    if (failure is not HopFailure.TRANSPORT_ERROR and next_hops
            and next_hops[0] == Hop("UDP", hop.host, hop.port) and hop.transport == "TCP"):
        return next_hops[1:]
    return next_hops
