"""What a transaction can be told (ARCHITECTURE principle 1: events in)."""

from __future__ import annotations

from dataclasses import dataclass

from proxy.sip.message import Request, Response


@dataclass(frozen=True, slots=True)
class RequestReceived:
    """A request matched to this transaction arrived: a retransmission, or an ACK."""

    request: Request


@dataclass(frozen=True, slots=True)
class ResponseReceived:
    """A response matched to this client transaction arrived (RFC 3261 §17.1.3)."""

    response: Response


@dataclass(frozen=True, slots=True)
class TimerFired:
    """A timer started by a :class:`~proxy.transaction.actions.StartTimer` fired.

    ``generation`` is the one given when the timer was started; a firing whose
    generation is no longer current is ignored (principle 5).
    """

    name: str
    generation: int


@dataclass(frozen=True, slots=True)
class TransportFailed:
    """Sending failed (RFC 3261 §17.1.4, §17.2.4): ICMP error, connection refused."""

    reason: str


Event = RequestReceived | ResponseReceived | TimerFired | TransportFailed
