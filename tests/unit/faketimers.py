"""A fake clock that runs the timers a transaction asks for, in deadline order.

It behaves like the real driver: a StartTimer replaces a pending timer of the
same name (see :class:`proxy.transaction.actions.StartTimer`) and a StopTimer
takes it back. ``cancelling=False`` keeps stopped timers pending instead, as a
driver too late to cancel would: they fire with a stale generation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from proxy.transaction.actions import Action, StartTimer, StopTimer, Terminated
from proxy.transaction.events import Event, TimerFired

Handle = Callable[[Event, float], list[Action]]


class FakeTimers:
    def __init__(self, *, cancelling: bool = True) -> None:
        self.pending: dict[str, tuple[float, int]] = {}
        self.terminated = False
        self._cancelling = cancelling

    def note(self, actions: Iterable[Action], now: float) -> None:
        """Record the StartTimer, StopTimer and Terminated actions returned at ``now``."""
        for action in actions:
            if isinstance(action, StartTimer):
                self.pending[action.name] = (now + action.delay, action.generation)
            elif isinstance(action, StopTimer) and self._cancelling:
                self.pending.pop(action.name, None)
            elif isinstance(action, Terminated):
                self.terminated = True

    def run(self, handle: Handle, until: float) -> list[tuple[float, Action]]:
        """Fire due timers up to ``until``; returns every action with its time.

        Stops when the transaction terminates, like a driver dropping it.
        """
        log: list[tuple[float, Action]] = []
        while self.pending and not self.terminated:
            name = min(self.pending, key=lambda n: self.pending[n][0])
            deadline, generation = self.pending[name]
            if deadline > until:
                break
            del self.pending[name]
            actions = handle(TimerFired(name, generation), deadline)
            self.note(actions, deadline)
            log.extend((deadline, action) for action in actions)
        return log
