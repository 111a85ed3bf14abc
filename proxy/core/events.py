"""Call events: frozen facts the core publishes for observers (history, line state,
metrics) as calls progress (ARCHITECTURE principle 10).

Observers are called synchronously on the event loop, inside the handling of a
message: they must only record the event (append to a bounded queue, bump a
counter) and never do I/O there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from proxy.policy.decide import Decision as PolicyDecision


@dataclass(frozen=True, slots=True)
class CallRouted:
    """An initial request was given a plan (with the policy's reasons when it asked)."""

    call_id: str
    method: str
    decision: PolicyDecision | None
    at: float


@dataclass(frozen=True, slots=True)
class BranchRung:
    """A branch of the fork was sent to ``target``."""

    call_id: str
    branch_id: int
    target: str
    user: str | None
    at: float


@dataclass(frozen=True, slots=True)
class CallAnswered:
    """A 2xx from ``target`` went upstream."""

    call_id: str
    branch_id: int
    target: str
    user: str | None
    at: float


@dataclass(frozen=True, slots=True)
class CallEnded:
    """The server transaction's final response went upstream with ``status``."""

    call_id: str
    method: str
    status: int
    at: float


@dataclass(frozen=True, slots=True)
class RequestRefused:
    """The proxy answered a request itself with an error."""

    call_id: str
    method: str
    status: int
    reason: str
    source: str
    at: float


CallEvent = CallRouted | BranchRung | CallAnswered | CallEnded | RequestRefused
Observer = Callable[[CallEvent], None]


class EventBus:
    """Observers of call events; publishing with nobody listening costs one check."""

    __slots__ = ("_observers",)

    def __init__(self) -> None:
        self._observers: list[Observer] = []

    def subscribe(self, observer: Observer) -> None:
        self._observers.append(observer)

    @property
    def listening(self) -> bool:
        return bool(self._observers)

    def publish(self, event: CallEvent) -> None:
        for observer in self._observers:
            observer(event)
