"""Shared hypothesis machinery for the transaction property tests.

A step is drawn abstractly and turned into a concrete input when replayed, so
that timer firings can carry the generation the machine handed out last (to
reach deep states) or an arbitrary one (to exercise staleness).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from hypothesis import strategies as st
from sipfactory import response

from proxy.sip.message import Request, Response
from proxy.transaction.actions import Action, StartTimer, StopTimer, Terminated
from proxy.transaction.events import (
    Event,
    RequestReceived,
    ResponseReceived,
    TimerFired,
    TransportFailed,
)
from proxy.transaction.states import TransactionState

STATUSES = (100, 180, 183, 200, 202, 302, 404, 486, 487, 503, 603)


class Machine(Protocol):
    @property
    def state(self) -> TransactionState: ...

    def handle(self, event: Event, now: float) -> list[Action]: ...


@runtime_checkable
class ServerMachine(Machine, Protocol):
    def send_response(self, response: Response, now: float) -> list[Action]: ...


@dataclass(frozen=True)
class Step:
    kind: str  # "response", "send", "timer", "request", "transport"
    status: int = 0
    timer: str = ""
    latest_generation: bool = True
    generation: int = 0
    request: Request | None = None


def steps(
    timers: str, *, responses: bool, sends: bool, requests: Sequence[Request] = ()
) -> st.SearchStrategy[list[Step]]:
    """Lists of steps over the inputs a machine can be given."""
    options: list[st.SearchStrategy[Step]] = [
        st.builds(
            Step,
            kind=st.just("timer"),
            timer=st.sampled_from(timers),
            latest_generation=st.booleans(),
            generation=st.integers(0, 6),
        ),
        st.just(Step("transport")),
    ]
    if responses:
        options.append(st.builds(Step, kind=st.just("response"), status=st.sampled_from(STATUSES)))
    if sends:
        options.append(st.builds(Step, kind=st.just("send"), status=st.sampled_from(STATUSES)))
    if requests:
        options.append(st.builds(Step, kind=st.just("request"), request=st.sampled_from(requests)))
    return st.lists(st.one_of(options), max_size=40)


def replay(machine: Machine, request: Request, start: list[Action], plan: list[Step]) -> None:
    """Run ``plan``; assert nothing is emitted after Terminated and state agrees."""
    generations: dict[str, int] = {}
    ended = _check(start, generations, ended=False)
    for now, step in enumerate(plan, start=1):
        if step.kind == "send":
            assert isinstance(machine, ServerMachine)
            actions = machine.send_response(response(request, step.status), float(now))
        else:
            actions = machine.handle(_event(step, request, generations), float(now))
        if ended:
            assert actions == [], f"actions after Terminated: {actions}"
        ended = _check(actions, generations, ended)
        assert (machine.state is TransactionState.TERMINATED) == ended


def _event(step: Step, request: Request, generations: dict[str, int]) -> Event:
    if step.kind == "response":
        return ResponseReceived(response(request, step.status))
    if step.kind == "timer":
        generation = step.generation
        if step.latest_generation:
            generation = generations.get(step.timer, step.generation)
        return TimerFired(step.timer, generation)
    if step.kind == "request":
        assert step.request is not None
        return RequestReceived(step.request)
    return TransportFailed("ICMP port unreachable")


def _check(actions: list[Action], generations: dict[str, int], ended: bool) -> bool:
    for index, action in enumerate(actions):
        if isinstance(action, StartTimer):
            assert action.generation > generations.get(action.name, 0)
            generations[action.name] = action.generation
        if isinstance(action, StopTimer):
            assert action.name in generations, f"{action.name} stopped, never started"
        if isinstance(action, Terminated):
            assert index == len(actions) - 1, "Terminated must be the last action"
            ended = True
    return ended
