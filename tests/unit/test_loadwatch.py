"""The load watcher (proxy/core/loadwatch.py) with a fake loop, clock and log."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from proxy.core.loadwatch import LoadWatch
from proxy.core.overload import LoadGuard, OverloadSettings


class FakeHandle:
    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeLoop:
    """Just what LoadWatch uses: time() and call_later(); timers fire when told."""

    def __init__(self) -> None:
        self.now = 10.0
        self.pending: list[tuple[float, Callable[[], None], FakeHandle]] = []

    def time(self) -> float:
        return self.now

    def call_later(self, delay: float, callback: Callable[[], None]) -> FakeHandle:
        handle = FakeHandle()
        self.pending.append((self.now + delay, callback, handle))
        return handle

    def fire_next(self, late_by: float = 0.0) -> None:
        due, callback, handle = self.pending.pop(0)
        self.now = due + late_by
        if not handle.cancelled:
            callback()


class FakeLog:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def warning(self, event: str, **fields: Any) -> None:
        self.events.append((event, fields))

    def exception(self, event: str, **fields: Any) -> None:
        self.events.append((event, fields))


def test_shedding_is_logged_once_when_it_starts_and_once_when_it_stops() -> None:
    loop, log = FakeLoop(), FakeLog()
    guard = LoadGuard(OverloadSettings())
    watch = LoadWatch(guard, loop=loop, in_progress=lambda: 0,  # type: ignore[arg-type]
                      receive_backlog=lambda: 0, log=log)
    watch.start()
    for _ in range(20):
        guard.admit_new_call(loop.now)
        loop.fire_next()
    for _ in range(10):  # every timer 200 ms late: the loop is overloaded
        loop.fire_next(late_by=0.2)
    assert [event for event, _ in log.events] == ["overload.shedding_started"]
    assert "event loop 200 ms late" in log.events[0][1]["reason"]
    for _ in range(40):  # two calm seconds, no calls offered
        loop.fire_next()
    assert [event for event, _ in log.events] == ["overload.shedding_started",
                                                  "overload.shedding_stopped"]
    assert watch.shed_periods == 1
    watch.stop()
    assert all(handle.cancelled for _, _, handle in loop.pending)
