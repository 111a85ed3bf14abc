"""Plumbing shared by the four RFC 3261 §17 transaction state machines.

Each machine is a subclass with a ``_TABLE`` mapping ``(state, input kind)``
to a handler (ARCHITECTURE principle 2); states are :class:`TransactionState`
members, each machine using those its RFC figure shows. Input kinds are
short strings that read like the labels of the RFC's state diagrams: ``"1xx"``,
``"3xx-6xx"``, ``"2xx from core"``, ``"ACK"``, a timer letter, ``"transport failed"``.

A pair missing from a table is input the RFC gives no meaning in that state
(anything after Terminated, for instance): it is dropped and nothing is sent.
A transition that stops a running timer asks the driver to cancel it
(:class:`StopTimer`: a timer per request the proxy sends would otherwise still
fire, for nothing, on a busy loop) and bumps its generation too, so that a
firing the driver could not take back never reaches a table (principle 5).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import ClassVar

from proxy.sip.message import Response
from proxy.transaction.actions import (
    Action,
    PassUp,
    StartTimer,
    StopTimer,
    Terminated,
    TimedOut,
    TransportError,
)
from proxy.transaction.events import TimerFired
from proxy.transaction.states import TransactionState
from proxy.transaction.timers import TimerSettings

TRANSPORT_FAILED = "transport failed"

# Handlers take the transaction and the input's payload (a response, a reason, or nothing).
Handler = Callable[..., list[Action]]
Table = Mapping[tuple[TransactionState, str], Handler]


def response_class(status: int) -> str:
    """The input kind of a response status: ``"1xx"``, ``"2xx"`` or ``"3xx-6xx"``."""
    if status < 200:
        return "1xx"
    if status < 300:
        return "2xx"
    return "3xx-6xx"


# Timer actions are frozen values, equal by content, and a frozen dataclass costs
# several times a plain object to make. A transaction asks for three timers and
# stops two (each NOTIFY the busy lamps send, each branch of a call) from a handful
# of names, delays and generations: those few values are made once and shared.
_started = lru_cache(maxsize=512)(StartTimer)
_stopped = lru_cache(maxsize=64)(StopTimer)


class TimerGenerations:
    """The current generation of each named timer of one transaction (principle 5),
    and which of them are running (started, and neither fired nor stopped since)."""

    __slots__ = ("_current", "_running")

    def __init__(self) -> None:
        self._current: dict[str, int] = {}
        self._running: set[str] = set()

    def start(self, name: str, delay: float) -> StartTimer:
        """A StartTimer for ``name`` with a new generation; older firings become stale."""
        generation = self._current.get(name, 0) + 1
        self._current[name] = generation
        self._running.add(name)
        return _started(name, delay, generation)

    def stop(self, *names: str) -> list[StopTimer]:
        """Make any pending firing of ``names`` stale; a StopTimer for each that runs."""
        stops = []
        for name in names:
            self._current[name] = self._current.get(name, 0) + 1
            if name in self._running:
                self._running.discard(name)
                stops.append(_stopped(name))
        return stops

    def fired(self, event: TimerFired) -> bool:
        """True when ``event`` is the latest start of its timer and the timer was not
        stopped; the timer is then no longer running."""
        if self._current.get(event.name) != event.generation:
            return False
        self._running.discard(event.name)
        return True


def absorb(machine: TransactionMachine, *payload: object) -> list[Action]:
    """Table entry for input the RFC absorbs in that state: nothing is sent or changed."""
    return []


def end(machine: TransactionMachine, *payload: object) -> list[Action]:
    """Table entry that only terminates (a linger or lifetime timer fired)."""
    return [machine._terminate()]


def pass_up(machine: TransactionMachine, response: Response) -> list[Action]:
    """Client table entry: hand the response to the core, no change of state."""
    return [PassUp(response)]


def time_out(machine: TransactionMachine) -> list[Action]:
    """Client table entry for Timer B / F: the core answers the branch as a 408.

    RFC 3261 §16.7 step 2 and ARCHITECTURE principle 4 (a timeout is a response).
    """
    return [TimedOut(), machine._terminate()]


def fail_transport(machine: TransactionMachine, reason: str) -> list[Action]:
    """Client table entry: the request could not be sent (§17.1.4); the core answers 503."""
    return [TransportError(reason), machine._terminate()]


class TransactionMachine:
    """State, timers and table dispatch common to client and server transactions."""

    __slots__ = ("_reliable", "_settings", "_state", "_timers")
    _TABLE: ClassVar[Table]

    def __init__(self, state: TransactionState, *, reliable: bool, timers: TimerSettings) -> None:
        self._state = state
        self._reliable = reliable
        self._settings = timers
        self._timers = TimerGenerations()

    @property
    def state(self) -> TransactionState:
        """Where the machine is; :attr:`TransactionState.TERMINATED` once it has ended."""
        return self._state

    def _run(self, kind: str, *payload: object) -> list[Action]:
        handler = self._TABLE.get((self._state, kind))
        if handler is None:
            return []  # no meaning in this state (see the module docstring)
        return handler(self, *payload)

    def _run_timer(self, event: TimerFired) -> list[Action]:
        if not self._timers.fired(event):
            return []  # stale: restarted or stopped since (principle 5)
        return self._run(event.name)

    def _terminate(self) -> Terminated:
        self._state = TransactionState.TERMINATED
        return Terminated()

    def _linger(self, name: str, unreliable_delay: float) -> list[Action]:
        """Start the timer that absorbs retransmissions before Terminated (D, I, J, K).

        RFC 3261 §17 sets these to zero on reliable transports, where nothing is
        retransmitted; the transaction then terminates at once instead of asking
        the driver for a zero-second timer.
        """
        if self._reliable:
            return [self._terminate()]
        return [self._timers.start(name, unreliable_delay)]
