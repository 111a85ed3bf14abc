"""Call events: frozen facts the core publishes for observers (history, line state,
metrics) as calls progress (ARCHITECTURE principle 10).

Observers are called synchronously on the event loop, inside the handling of a
message: they must only record the event (append to a bounded queue, bump a
counter) and never do I/O there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from proxy.core.pickup import Pickup
from proxy.policy.decide import Decision as PolicyDecision
from proxy.policy.plan import TargetRole
from proxy.policy.trust import Source
from proxy.sip.message import Request, Response


@dataclass(frozen=True, slots=True)
class CallRouted:
    """An initial request (no To tag) was given a plan, with the policy's reasons when
    it asked. ``request`` is the request as received (its From tag, Contact and
    identities); ``source`` is its sender as identified (an authenticated user);
    ``pickup`` the held call it picks up, when it does (``proxy.core.pickup``)."""

    call_id: str
    method: str
    decision: PolicyDecision | None
    at: float
    request: Request
    source: Source
    pickup: Pickup | None = None


@dataclass(frozen=True, slots=True)
class BranchRung:
    """A branch of an initial request's fork was sent to ``target``."""

    call_id: str
    branch_id: int
    target: str
    user: str | None
    at: float
    role: TargetRole


@dataclass(frozen=True, slots=True)
class BranchResponded:
    """A branch of an initial INVITE got ``response``: provisional or final, real or
    synthetic (a timeout is a 408, an unreachable target a 503)."""

    call_id: str
    branch_id: int
    response: Response
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
class CallSettled:
    """An initial request's final response went upstream with ``status``: for an
    INVITE, a 2xx means the call is up, anything else that it never was."""

    call_id: str
    method: str
    status: int
    at: float


@dataclass(frozen=True, slots=True)
class InDialogAnswered:
    """A request inside a dialog (BYE, re-INVITE, UPDATE, ...) that the proxy
    forwarded got its final ``response`` upstream (a refresh's 2xx says the
    session interval, RFC 4028 §9)."""

    request: Request
    response: Response
    at: float

    @property
    def status(self) -> int:
        return self.response.status


@dataclass(frozen=True, slots=True)
class RequestRefused:
    """The proxy answered a request itself with an error."""

    call_id: str
    method: str
    status: int
    reason: str
    source: str
    at: float


CallEvent = (CallRouted | BranchRung | BranchResponded | CallAnswered | CallSettled
             | InDialogAnswered | RequestRefused)
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
