"""The transactions' timer queues on the fake clock: when timers fire, in what
order, how many loop timers they take, and what cancelling leaves behind."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fakelink import FakeLoop

from proxy.core.timer_queues import COMPACT_AFTER, TimerQueues

RESOLUTION = 0.01


@pytest.fixture
def loop() -> FakeLoop:
    return FakeLoop()


@pytest.fixture
def queues(loop: FakeLoop) -> TimerQueues:
    return TimerQueues(loop, RESOLUTION)  # type: ignore[arg-type]


def record(fired: list[tuple[str, float]], loop: FakeLoop) -> Callable[[str], None]:
    """A callback that notes its name and the fake clock's seconds since the start."""
    return lambda name: fired.append((name, round(loop.now - 1000.0, 4)))


def queued(queues: TimerQueues) -> int:
    """Timers in every queue, cancelled ones included (they wait to fall due)."""
    return sum(len(queue.timers) for queue in queues._queues.values())


def loop_timers(loop: FakeLoop) -> int:
    return sum(1 for _, _, handle in loop._queue if not handle.cancelled())


def test_timers_fire_at_their_deadline_in_the_order_they_were_started(
        loop: FakeLoop, queues: TimerQueues) -> None:
    fired: list[tuple[str, float]] = []
    call = record(fired, loop)
    queues.call_later(0.5, call, "A1")
    loop.advance(0.25)
    queues.call_later(0.5, call, "A2")
    queues.call_later(32.0, call, "B")
    loop.advance(0.1875)
    assert fired == []  # never early
    loop.advance(0.0625)
    assert fired == [("A1", 0.5)]
    loop.advance(0.25)
    assert fired == [("A1", 0.5), ("A2", 0.75)]
    loop.advance(32.0)
    assert fired[-1] == ("B", 32.25)


def test_one_loop_timer_per_delay_and_due_timers_run_in_one_batch(
        loop: FakeLoop, queues: TimerQueues) -> None:
    fired: list[tuple[str, float]] = []
    call = record(fired, loop)
    for number in range(100):
        queues.call_later(32.0, call, f"B{number}")
        queues.call_later(0.5, call, f"A{number}")
        loop.advance(0.0001)
    assert loop_timers(loop) == 2
    loop.advance(0.51)
    # The first A fell due, the other 99 within the resolution after it: they wait
    # for the next batch, a resolution later, and none of them fires early.
    assert [name for name, _ in fired] == [f"A{number}" for number in range(100)]
    assert all(at >= 0.5 + number * 0.0001 for number, (_, at) in enumerate(fired))
    assert max(at for _, at in fired) <= 0.5 + 0.0099 + RESOLUTION
    assert loop_timers(loop) == 1  # the 32 s queue's


def test_a_cancelled_timer_does_not_fire_and_a_fired_one_cannot_be_cancelled(
        loop: FakeLoop, queues: TimerQueues) -> None:
    fired: list[tuple[str, float]] = []
    call = record(fired, loop)
    kept = queues.call_later(1.0, call, "kept")
    taken_back = queues.call_later(1.0, call, "taken back")
    taken_back.cancel()
    assert (kept.pending, taken_back.pending) == (True, False)
    loop.advance(2.0)
    kept.cancel()
    assert fired == [("kept", 1.0)]
    assert not kept.pending
    assert queued(queues) == 0


def test_cancelled_timers_are_compacted_away_before_they_fall_due(
        loop: FakeLoop, queues: TimerQueues) -> None:
    """Timer C runs 185 s and nearly every call cancels it: the queue must not
    keep three minutes of calls' worth of cancelled timers."""
    fired: list[str] = []
    timers = [queues.call_later(185.0, fired.append, str(number))
              for number in range(4 * COMPACT_AFTER)]
    for timer in timers[:3 * COMPACT_AFTER]:
        timer.cancel()
    assert queued(queues) < 2 * COMPACT_AFTER
    loop.advance(185.0)
    assert fired == [str(number) for number in range(3 * COMPACT_AFTER, 4 * COMPACT_AFTER)]


def test_a_timer_started_or_cancelled_by_a_firing_one_is_taken_into_account(
        loop: FakeLoop, queues: TimerQueues) -> None:
    fired: list[tuple[str, float]] = []
    call = record(fired, loop)

    def first(name: str) -> None:
        call(name)
        later.cancel()
        queues.call_later(1.0, call, "started by the first")

    queues.call_later(1.0, first, "first")
    later = queues.call_later(1.0, call, "cancelled by the first")
    loop.advance(1.0)
    assert fired == [("first", 1.0)]
    loop.advance(1.0)
    assert fired == [("first", 1.0), ("started by the first", 2.0)]
    assert queued(queues) == 0


def test_a_failing_callback_is_reported_and_the_batch_goes_on(
        loop: FakeLoop, queues: TimerQueues) -> None:
    reported: list[BaseException] = []
    loop.call_exception_handler = lambda context: reported.append(  # type: ignore[method-assign]
        context["exception"])
    fired: list[tuple[str, float]] = []

    def broken(name: str) -> None:
        raise RuntimeError(name)

    queues.call_later(1.0, broken, "broken")
    queues.call_later(1.0, record(fired, loop), "after it")
    loop.advance(1.0)
    assert [str(error) for error in reported] == ["broken"]
    assert fired == [("after it", 1.0)]
    queues.call_later(1.0, record(fired, loop), "still running")
    loop.advance(1.0)
    assert fired[-1] == ("still running", 2.0)
