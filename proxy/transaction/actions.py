"""What a transaction asks its driver to do (ARCHITECTURE principle 1: actions out).

Transactions never know addresses: a client transaction's peer is its next hop and
a server transaction's peer is where responses go per RFC 3261 §18.2.2; the
driver, which knows both, carries out :class:`Send`.
"""

from __future__ import annotations

from dataclasses import dataclass

from proxy.sip.message import Message, Request, Response


@dataclass(frozen=True, slots=True)
class Send:
    """Send ``message`` to this transaction's peer."""

    message: Message


@dataclass(frozen=True, slots=True)
class StartTimer:
    """Fire ``TimerFired(name, generation)`` after ``delay`` seconds.

    Starting a timer of a name that is already running replaces it.
    """

    name: str
    delay: float
    generation: int


@dataclass(frozen=True, slots=True)
class StopTimer:
    """Cancel the pending firing of timer ``name``: the transition that stopped it
    has made it stale already, so a firing that slips through changes nothing."""

    name: str


@dataclass(frozen=True, slots=True)
class PassUp:
    """Client transaction -> core: a response for the proxy core to decide on."""

    response: Response


@dataclass(frozen=True, slots=True)
class TimedOut:
    """Client transaction -> core: Timer B or F fired with no final response.

    The core treats it as a 408 (§16.7 step 2; ARCHITECTURE principle 4).
    """


@dataclass(frozen=True, slots=True)
class TransportError:
    """Client transaction -> core: the request could not be sent (§16.7 step 2: 503)."""

    reason: str


@dataclass(frozen=True, slots=True)
class PassUpAck:
    """Server transaction -> core: an ACK that is the core's, not the transaction's.

    RFC 6026 §8.7: an ACK matched to an INVITE server transaction in Accepted
    acknowledges a 2xx and is passed to the TU; a proxy routes it on like any
    other ACK for a 2xx. It only matches when the caller reused the INVITE's
    branch, which RFC 3261 §8.1.1.7 forbids, or is an RFC 2543 peer.
    """

    request: Request


@dataclass(frozen=True, slots=True)
class AckTimedOut:
    """Server transaction -> core: Timer H fired, the final response was never acknowledged.

    RFC 3261 §17.2.1 treats it as a transaction failure; a Terminated follows.
    The core counts it; there is nobody left to tell.
    """


@dataclass(frozen=True, slots=True)
class Terminated:
    """The transaction is over: drop it from the transaction table."""


Action = (
    Send | StartTimer | StopTimer | PassUp | TimedOut | TransportError | PassUpAck | AckTimedOut
    | Terminated
)
