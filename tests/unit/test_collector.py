"""The paced collector: which generation each tick collects, on a fake clock."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
import structlog
from fakelink import FakeLoop

from proxy.collector import PacedCollector


@pytest.fixture
def restore_collector() -> Iterator[None]:
    yield
    gc.enable()
    gc.unfreeze()


def paced(loop: FakeLoop, collected: list[int]) -> PacedCollector:
    def collect(generation: int) -> int:
        collected.append(generation)
        return 3 if generation == 2 else 0

    pauses = iter([0.0, 0.002] * 10_000)  # each pass takes 2 ms on the fake timer
    return PacedCollector(loop, structlog.get_logger("test"), young_interval=0.1,  # type: ignore[arg-type]
                          older_every=10, full_interval=5.0, collect=collect,
                          timer=lambda: next(pauses))


def test_young_every_tick_older_every_tenth_full_on_its_interval(restore_collector: None) -> None:
    loop, collected = FakeLoop(), []
    collector = paced(loop, collected)
    collector.start()
    assert not gc.isenabled()  # CPython's own collections are off while paced
    for _ in range(60):
        loop.advance(0.1)
    assert collected[:10] == [0] * 9 + [1]
    assert collected.count(2) == 1 and collected.index(2) == 49  # at 5 s, not before
    assert collector.passes == [collected.count(0), collected.count(1), 1]
    assert collector.summary()["gc2_passes"] == 1
    assert collector.summary()["gc0_longest_ms"] == 2


def test_stop_hands_collection_back_to_cpython(restore_collector: None) -> None:
    loop, collected = FakeLoop(), []
    collector = paced(loop, collected)
    collector.start()
    loop.advance(0.25)
    collector.stop()
    loop.advance(5.0)
    assert collected == [0, 0]
    assert gc.isenabled()
