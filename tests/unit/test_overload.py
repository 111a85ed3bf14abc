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
    answers_shed_call,
    is_shed_tag,
    overload_reason,
    shed_to_tag,
)

TICK = 0.05
CALM = LoadSample(loop_lag=0.001, in_progress=10, receive_backlog=0)
LATE = LoadSample(loop_lag=0.180, in_progress=10, receive_backlog=0)


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
    assert guard.observe(LATE, clock.advance(TICK)) is None
    change = guard.observe(LATE, clock.advance(TICK))
    assert change is not None and change.shedding
    assert "event loop 180 ms late" in change.reason
    rate = guard.admission_rate
    # start_factor x the rate of the last second (18 samples of 50 calls, 2 of none).
    assert rate == pytest.approx(settings.start_factor * 900, rel=0.02)


def test_each_signal_names_itself_in_the_reason() -> None:
    settings = OverloadSettings()
    backlog = LoadSample(0.0, 0, 3 * 1024 * 1024)
    busy = LoadSample(0.0, settings.in_progress_budget, 0)
    assert overload_reason(CALM, settings) is None
    assert overload_reason(backlog, settings) == "3072 KiB waiting in the receive queue"
    assert f"{settings.in_progress_budget} transactions in progress" in (
        overload_reason(busy, settings) or "")


def test_while_shedding_admissions_follow_the_rate_and_the_rest_are_refused() -> None:
    guard, clock = LoadGuard(OverloadSettings()), Clock()
    offer(guard, clock, 1000, CALM, 1.0)
    offer(guard, clock, 1000, LATE, 2 * TICK)
    assert guard.shedding
    rate = guard.admission_rate
    assert rate is not None
    # Neither overloaded nor healthy (between the marks): the rate holds.
    between = LoadSample(loop_lag=0.050, in_progress=10, receive_backlog=0)
    admitted, refused, _ = offer(guard, clock, 2000, between, 1.0)
    assert abs(admitted - rate) <= rate * 0.05 + 2
    assert refused == 2000 - admitted


def test_overload_cuts_the_rate_at_most_once_per_interval() -> None:
    settings = OverloadSettings()
    guard, clock = LoadGuard(settings), Clock()
    offer(guard, clock, 1000, CALM, 1.0)
    offer(guard, clock, 1000, LATE, 2 * TICK)
    start = guard.admission_rate
    assert start is not None
    # Six late samples in 0.3 s: one cut (the start counts as the last one).
    offer(guard, clock, 1000, LATE, settings.decrease_interval + TICK)
    assert guard.admission_rate == start * settings.decrease_factor


def test_the_rate_never_drops_below_the_minimum() -> None:
    settings = OverloadSettings()
    guard, clock = LoadGuard(settings), Clock()
    offer(guard, clock, 100, CALM, 1.0)
    offer(guard, clock, 100, LATE, 30.0)
    assert guard.admission_rate == settings.min_rate


def test_healthy_samples_grow_the_rate_back() -> None:
    settings = OverloadSettings()
    guard, clock = LoadGuard(settings), Clock()
    offer(guard, clock, 1000, CALM, 1.0)
    offer(guard, clock, 2000, LATE, 2 * TICK)
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
    offer(guard, clock, 2000, LATE, 2 * TICK)
    assert guard.shedding
    # The offered rate falls far below the admission rate: calm, and no refusals
    # once the emptied bucket has a token again.
    _, refused, changes = offer(guard, clock, 100, CALM, settings.calm_time + 3 * TICK)
    assert refused <= 1
    assert [change.shedding for change in changes] == [False]
    assert "load normal for 1.0 s" in changes[0].reason
    assert guard.admit_new_call(clock.now) and guard.admission_rate is None


def test_refusals_keep_shedding_on_even_when_calm() -> None:
    guard, clock = LoadGuard(OverloadSettings()), Clock()
    offer(guard, clock, 1000, CALM, 1.0)
    offer(guard, clock, 1000, LATE, 2 * TICK)
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
