"""The load guard (proxy/core/overload.py) driven by a fake clock: samples in,
admissions out, no sleeps."""

from __future__ import annotations

import math

import pytest

from proxy.core.overload import (
    LoadGuard,
    LoadSample,
    OverloadSettings,
    ShedChange,
    SustainedOverload,
    answers_shed_call,
    is_shed_tag,
    overload_reason,
    shed_to_tag,
)

TICK = 0.05
CALM = LoadSample(loop_lag=0.001, in_progress=10, receive_backlog=0)
LATE = LoadSample(loop_lag=0.180, in_progress=10, receive_backlog=0)
# Over the backlog mark and not shrinking from one sample to the next.
QUEUED = LoadSample(loop_lag=0.001, in_progress=10, receive_backlog=2 * 1024 * 1024)
# While shedding: over backlog_low (not healthy) but under backlog_target.
BETWEEN = LoadSample(loop_lag=0.0, in_progress=10, receive_backlog=384 * 1024)


class Clock:
    """Time that moves only when told to."""

    def __init__(self) -> None:
        self.now = 100.0

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


def offer(guard: LoadGuard, clock: Clock, rate: float, sample: LoadSample,
          seconds: float) -> tuple[int, int, list[ShedChange]]:
    """Offer `rate` new calls per second for `seconds`, sampling every TICK.

    Returns (admitted, refused, changes)."""
    admitted = refused = 0
    changes: list[ShedChange] = []
    per_tick = rate * TICK
    owed = 0.0
    for _ in range(round(seconds / TICK)):
        owed += per_tick
        calls = int(owed)
        owed -= calls
        for index in range(calls):
            at = clock.now + TICK * index / max(calls, 1)
            if guard.admit_new_call(at):
                admitted += 1
            else:
                refused += 1
        change = guard.observe(sample, clock.advance(TICK))
        if change is not None:
            changes.append(change)
    return admitted, refused, changes


def shedding_guard(offered: float, settings: OverloadSettings | None = None,
                   ) -> tuple[LoadGuard, Clock, float]:
    """A guard that admitted ``offered`` calls/s for a second, then saw the queue
    grow: shedding, at the returned rate."""
    guard, clock = LoadGuard(settings or OverloadSettings()), Clock()
    offer(guard, clock, offered, CALM, 1.0)
    offer(guard, clock, offered, QUEUED, 2 * TICK)
    assert guard.admission_rate is not None
    return guard, clock, guard.admission_rate


def served_guard(offered: float) -> tuple[LoadGuard, Clock]:
    """A guard that admitted ``offered`` calls/s without overload for longer than
    ``sustained_window``: a rate it knows the proxy serves."""
    guard, clock = LoadGuard(OverloadSettings()), Clock()
    offer(guard, clock, offered, CALM, OverloadSettings().sustained_window + 1.0)
    return guard, clock


def test_admits_everything_while_the_load_is_normal() -> None:
    guard, clock = LoadGuard(OverloadSettings()), Clock()
    admitted, refused, changes = offer(guard, clock, 800, CALM, 5.0)
    assert (refused, changes, guard.shedding) == (0, [], False)
    assert admitted == 4000


def test_one_late_sample_does_not_start_shedding() -> None:
    # A single garbage-collector pause must not cost calls (settings.sustain).
    guard, clock = LoadGuard(OverloadSettings()), Clock()
    offer(guard, clock, 800, CALM, 1.0)
    assert guard.observe(LATE, clock.advance(TICK)) is None
    assert guard.observe(CALM, clock.advance(TICK)) is None
    assert not guard.shedding


def test_sustained_lag_starts_shedding_below_the_rate_admitted_before() -> None:
    settings = OverloadSettings()
    guard, clock = LoadGuard(settings), Clock()
    offer(guard, clock, 1000, CALM, 2.0)
    for _ in range(settings.lag_sustain - 1):
        assert guard.observe(LATE, clock.advance(TICK)) is None
    change = guard.observe(LATE, clock.advance(TICK))
    assert change is not None and change.shedding
    assert "event loop 180 ms late 4 samples in a row" in change.reason
    rate = guard.admission_rate
    # start_factor x the rate of the last second (16 samples of 50 calls, 4 of none).
    assert rate == pytest.approx(settings.start_factor * 800, rel=0.02)


def test_a_queue_that_drains_after_a_pause_starts_nothing() -> None:
    # A garbage-collector pass or another process on the core leaves datagrams
    # queued; at a rate the proxy serves, the queue shrinks again: no 503s.
    guard, clock = LoadGuard(OverloadSettings()), Clock()
    offer(guard, clock, 400, CALM, 2.0)
    for kib in (3000, 2600, 2100, 1500, 1100, 600, 200):
        pause = LoadSample(loop_lag=0.150 if kib == 3000 else 0.0, in_progress=10,
                           receive_backlog=kib * 1024)
        assert guard.observe(pause, clock.advance(TICK)) is None
    assert not guard.shedding


def test_a_queue_that_keeps_growing_starts_shedding() -> None:
    guard, clock = LoadGuard(OverloadSettings()), Clock()
    offer(guard, clock, 400, CALM, 2.0)
    changes = [guard.observe(LoadSample(0.0, 10, kib * 1024), clock.advance(TICK))
               for kib in (1100, 1500)]
    assert changes[0] is None
    assert changes[1] is not None and changes[1].shedding
    assert "1500 KiB waiting in the receive queue and not shrinking" in changes[1].reason


def test_sustained_overload_needs_each_signal_to_last() -> None:
    settings = OverloadSettings()
    sustained = SustainedOverload(settings)
    mark = settings.backlog_high
    busy = LoadSample(0.0, settings.in_progress_budget, 0)
    assert sustained.observe(busy, mark) is None
    assert sustained.observe(busy, mark) == (f"{settings.in_progress_budget} transactions in "
                                             f"progress (budget {settings.in_progress_budget})")
    assert sustained.observe(CALM, mark) is None
    # Late, on time, late: the run of late samples starts again.
    for sample in (LATE, LATE, LATE, CALM, LATE, LATE, LATE):
        assert sustained.observe(sample, mark) is None
    assert sustained.observe(LATE, mark) is not None


def test_the_queue_counts_against_the_mark_it_is_given() -> None:
    settings = OverloadSettings()
    queue = LoadSample(0.0, 10, 768 * 1024)
    under_high, over_target = SustainedOverload(settings), SustainedOverload(settings)
    for _ in range(settings.sustain):
        assert under_high.observe(queue, settings.backlog_high) is None
        reason = over_target.observe(queue, settings.backlog_target)
    assert reason == "768 KiB waiting in the receive queue and not shrinking"


def test_each_signal_names_itself_in_the_reason() -> None:
    settings = OverloadSettings()
    backlog = LoadSample(0.0, 0, 3 * 1024 * 1024)
    busy = LoadSample(0.0, settings.in_progress_budget, 0)
    mark = settings.backlog_high
    assert overload_reason(CALM, settings, mark) is None
    assert overload_reason(backlog, settings, mark) == "3072 KiB waiting in the receive queue"
    assert f"{settings.in_progress_budget} transactions in progress" in (
        overload_reason(busy, settings, mark) or "")


def test_while_shedding_admissions_follow_the_rate_and_the_rest_are_refused() -> None:
    guard, clock, rate = shedding_guard(1000, OverloadSettings(increase_per_second=0.0))
    admitted, refused, _ = offer(guard, clock, 2000, CALM, 1.0)
    assert abs(admitted - rate) <= rate * 0.05 + 2
    assert refused == 2000 - admitted


def test_overload_cuts_the_rate_at_most_once_per_interval() -> None:
    settings = OverloadSettings()
    guard, clock, start = shedding_guard(1000, settings)
    # Eleven overloaded samples in 0.55 s: one cut (the start counts as the last one),
    # from a little under the start rate (the flooded queue refused every call).
    offer(guard, clock, 1000, QUEUED, settings.decision_interval + TICK)
    rate = guard.admission_rate
    assert rate is not None
    assert start * settings.decrease_factor * 0.9 < rate <= start * settings.decrease_factor


def test_a_cut_starts_from_what_was_admitted_when_fewer_calls_come() -> None:
    # A rate above the offered one refuses nothing; cutting it alone would not
    # lower the load (measured: two cuts in a row changed nothing).
    settings = OverloadSettings()
    guard, clock, _ = shedding_guard(1000, settings)
    offer(guard, clock, 300, CALM, 1.0)
    offer(guard, clock, 300, QUEUED, settings.decision_interval)
    assert guard.admission_rate == pytest.approx(300 * settings.decrease_factor, rel=0.05)


def test_a_queue_lower_than_at_the_last_decision_holds_the_rate() -> None:
    # Over the mark and growing from one sample to the next, but smaller than when
    # the rate was last set: the queue drains at this rate, no cut.
    settings = OverloadSettings()
    guard, clock = LoadGuard(settings), Clock()
    offer(guard, clock, 1000, CALM, 1.0)
    offer(guard, clock, 1000, LoadSample(0.0, 10, 3 * 1024 * 1024), 2 * TICK)
    start = guard.admission_rate
    for step in range(round(settings.decision_interval / TICK) + 2):
        for kib in (2800 - 100 * step, 2850 - 100 * step):
            guard.observe(LoadSample(0.0, 10, kib * 1024), clock.advance(TICK))
    assert guard.admission_rate == start


def test_the_rate_grows_to_a_margin_over_what_is_admitted() -> None:
    settings = OverloadSettings()
    guard, clock, start = shedding_guard(200, settings)
    assert start == pytest.approx(100, rel=0.05)
    # 120 offered, between the marks: the rate grows past 120, then stops at the
    # margin over the 120 admitted instead of growing on for nothing.
    offer(guard, clock, 120, BETWEEN, 5.0)
    assert guard.admission_rate == pytest.approx(settings.rate_margin * 120, rel=0.05)


def test_refusals_between_the_marks_grow_the_rate() -> None:
    settings = OverloadSettings()
    guard, clock, before = shedding_guard(1000, settings)
    offer(guard, clock, 1000, BETWEEN, 1.0)
    after = guard.admission_rate
    assert after is not None and after > before * (1 + settings.increase_per_second * 0.9)


def test_while_shedding_a_queue_standing_over_the_target_cuts_the_rate() -> None:
    # Under the mark that starts shedding, over the one it steers to: the calls
    # admitted wait behind that queue, so the rate comes down until it drains.
    settings = OverloadSettings()
    guard, clock, start = shedding_guard(1000, settings)
    standing = LoadSample(0.0, 10, (settings.backlog_target + settings.backlog_high) // 2)
    # The first decision holds (the queue shrank from the 2 MiB shedding started
    # at); the second sees it standing where it was and cuts.
    offer(guard, clock, 1000, standing, settings.decision_interval + TICK)
    assert guard.admission_rate == start
    offer(guard, clock, 1000, standing, settings.decision_interval + TICK)
    assert guard.admission_rate == pytest.approx(start * settings.decrease_factor, rel=0.02)


def test_while_shedding_a_queue_over_the_start_mark_refuses_every_call() -> None:
    settings = OverloadSettings(increase_per_second=0.0)
    guard, clock, rate = shedding_guard(1000, settings)
    flooded = LoadSample(0.0, 10, settings.backlog_high)
    admitted, refused, _ = offer(guard, clock, 1000, flooded, 4 * TICK)
    assert (admitted, refused) == (0, 200)
    # Back under the mark: admitted at the rate again, which the flood left alone
    # until its decision came (one cut at most).
    admitted, _, _ = offer(guard, clock, 1000, BETWEEN, 1.0)
    assert admitted >= rate * settings.decrease_factor * 0.95


def test_the_same_queue_does_not_start_shedding() -> None:
    settings = OverloadSettings()
    guard, clock = served_guard(400)
    standing = LoadSample(0.0, 10, (settings.backlog_target + settings.backlog_high) // 2)
    _, refused, changes = offer(guard, clock, 400, standing, 2.0)
    assert (refused, changes, guard.shedding) == (0, [], False)


def test_a_draining_queue_holds_the_rate() -> None:
    guard, clock, before = shedding_guard(1000)
    for kib in (1900, 1700, 1500, 1300):
        guard.observe(LoadSample(0.0, 10, kib * 1024), clock.advance(TICK))
    assert guard.admission_rate == before


def test_shedding_starts_no_lower_than_a_rate_served_before() -> None:
    # Served 400 calls/s for longer than sustained_window: when the queue then
    # grows at 400 calls/s (a slower moment of the machine), shedding admits 400,
    # not half of it, and cuts only if the overload goes on.
    guard, clock = served_guard(400)
    offer(guard, clock, 400, QUEUED, 2 * TICK)
    assert guard.admission_rate == pytest.approx(400, rel=0.05)


def test_a_step_above_the_served_rate_starts_at_the_served_rate() -> None:
    guard, clock = served_guard(300)
    offer(guard, clock, 500, CALM, 0.5)
    offer(guard, clock, 500, QUEUED, 2 * TICK)
    # Half the ~400 calls/s of the last second would be 200; the last 3 s served
    # ~330 calls/s without overload.
    rate = guard.admission_rate
    assert rate is not None and 300 < rate < 350


def test_a_step_far_above_the_served_rate_starts_at_half_the_admitted_rate() -> None:
    guard, clock = served_guard(300)
    offer(guard, clock, 2000, CALM, 1.0)
    offer(guard, clock, 2000, QUEUED, 2 * TICK)
    assert guard.admission_rate == pytest.approx(OverloadSettings().start_factor * 2000,
                                                 rel=0.05)


def test_the_rate_never_drops_below_the_minimum() -> None:
    settings = OverloadSettings()
    guard, clock = LoadGuard(settings), Clock()
    offer(guard, clock, 100, CALM, 1.0)
    offer(guard, clock, 100, QUEUED, 30.0)
    assert guard.admission_rate == settings.min_rate


def test_healthy_samples_grow_the_rate_back() -> None:
    settings = OverloadSettings()
    guard, clock = LoadGuard(settings), Clock()
    offer(guard, clock, 1000, CALM, 1.0)
    offer(guard, clock, 2000, QUEUED, 2 * TICK)
    before = guard.admission_rate
    assert before is not None
    offer(guard, clock, 2000, CALM, 1.0)
    after = guard.admission_rate
    assert after is not None
    # About increase_per_second more, compounded over the samples.
    growth = settings.increase_per_second
    assert before * (1 + growth) < after < before * math.exp(growth)


def test_shedding_stops_once_calm_and_nothing_was_refused() -> None:
    settings = OverloadSettings()
    guard, clock = LoadGuard(settings), Clock()
    offer(guard, clock, 1000, CALM, 1.0)
    offer(guard, clock, 2000, QUEUED, 2 * TICK)
    assert guard.shedding
    # The offered rate falls far below the admission rate: calm, and no refusals
    # once the flooded queue's sample has passed and the bucket has a token again.
    _, refused, changes = offer(guard, clock, 100, CALM, settings.calm_time + 3 * TICK)
    assert refused <= 100 * TICK + 1
    assert [change.shedding for change in changes] == [False]
    assert "load normal for 1.0 s" in changes[0].reason
    assert f"{refused} calls refused in " in changes[0].reason
    assert guard.admit_new_call(clock.now) and guard.admission_rate is None


def test_shedding_stops_though_a_pause_makes_a_sample_late_each_second() -> None:
    settings = OverloadSettings()
    guard, clock, _ = shedding_guard(1000)
    # After the overload: little queued, nothing refused, and once a second the
    # loop 60 ms late (a pause: then a collector pass, or another process on the
    # core), under the mark that is overload.
    paused = LoadSample(loop_lag=0.060, in_progress=10, receive_backlog=128 * 1024)
    changes: list[ShedChange] = []
    for _ in range(3):
        changes += offer(guard, clock, 100, CALM, 1.0 - TICK)[2]
        changes += offer(guard, clock, 100, paused, TICK)[2]
    assert [change.shedding for change in changes] == [False]
    assert not guard.shedding
    # Over the mark, lateness still holds the end off.
    guard, clock, _ = shedding_guard(1000)
    late = LoadSample(loop_lag=settings.lag_high, in_progress=10, receive_backlog=0)
    for _ in range(3):
        offer(guard, clock, 100, CALM, 0.5 - TICK)
        offer(guard, clock, 100, late, TICK)
    assert guard.shedding


def test_refusals_keep_shedding_on_even_when_calm() -> None:
    guard, clock, _ = shedding_guard(1000)
    # Offered far above what the rate can grow to in 2 s: refusals go on.
    _, refused, changes = offer(guard, clock, 5000, CALM, 2.0)
    assert refused > 0 and changes == [] and guard.shedding


def test_retry_after_comes_from_the_settings() -> None:
    assert LoadGuard(OverloadSettings(retry_after=7)).retry_after == 7


def test_a_shed_to_tag_is_recognised() -> None:
    tag = shed_to_tag("1a2b3c4d")
    assert is_shed_tag(tag)
    assert not is_shed_tag("1a2b3c4d")
    assert not is_shed_tag(None)


def test_an_ack_answering_a_503_is_known_by_its_to_tag() -> None:
    assert answers_shed_call("<sip:2000@127.0.0.1>;tag=shed-1a2b3c4d")
    assert not answers_shed_call("<sip:2000@127.0.0.1>;tag=1a2b3c4d")
    assert not answers_shed_call("<sip:shed-line@127.0.0.1>;tag=callee")  # user, not tag
    assert not answers_shed_call("<sip:2000@127.0.0.1;tag=shed-x>")  # URI parameter
