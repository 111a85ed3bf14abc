"""The paced collector: which generation each tick collects, on a fake clock."""

from __future__ import annotations

import gc
import weakref
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


class Passes:
    """What the collector was asked to do, in order: a generation, or a freeze."""

    def __init__(self) -> None:
        self.calls: list[int | str] = []
        self.frozen = False

    def collect(self, generation: int) -> int:
        self.calls.append(generation)
        return 3 if generation == 2 else 1

    def freeze(self) -> None:
        self.calls.append("freeze")
        self.frozen = True

    def unfreeze(self) -> None:
        self.calls.append("unfreeze")
        self.frozen = False


def paced(loop: FakeLoop, passes: Passes) -> PacedCollector:
    pauses = iter([0.0, 0.002] * 10_000)  # each pass takes 2 ms on the fake timer
    return PacedCollector(loop, structlog.get_logger("test"), young_interval=0.1,  # type: ignore[arg-type]
                          full_interval=5.0, collect=passes.collect, freeze=passes.freeze,
                          unfreeze=passes.unfreeze, timer=lambda: next(pauses))


def test_young_then_freeze_every_tick_full_on_its_interval(restore_collector: None) -> None:
    loop, passes = FakeLoop(), Passes()
    collector = paced(loop, passes)
    collector.start()
    assert not gc.isenabled()  # CPython's own collections are off while paced
    assert passes.calls == ["freeze"]  # what start-up made
    for _ in range(60):
        loop.advance(0.1)
    # Each young pass freezes its survivors: no generation-1 pass ever rescans them.
    assert passes.calls[1:5] == [0, "freeze", 0, "freeze"]
    assert 1 not in passes.calls
    # At 5 s, not before: everything unfrozen, a full pass, then frozen again.
    full = passes.calls.index(2)
    assert passes.calls.count(2) == 1 and passes.calls[full - 1:full + 2] == [
        "unfreeze", 2, "freeze"]
    assert passes.calls[1:full - 1].count(0) == 49
    assert collector.summary() == {
        "gc_young_passes": passes.calls.count(0), "gc_young_longest_ms": 2,
        "gc_young_found": passes.calls.count(0), "gc_full_passes": 1,
        "gc_full_longest_ms": 2, "gc_full_found": 3}


def test_stop_hands_collection_back_to_cpython(restore_collector: None) -> None:
    loop, passes = FakeLoop(), Passes()
    collector = paced(loop, passes)
    collector.start()
    loop.advance(0.25)
    collector.stop()
    loop.advance(5.0)
    assert passes.calls == ["freeze", 0, "freeze", 0, "freeze", "unfreeze"]
    assert gc.isenabled() and not passes.frozen


class Node:
    """An object the collector tracks, which can hold another (a cycle)."""

    def __init__(self) -> None:
        self.other: Node | None = None


def test_the_real_collector_frees_the_frozen_by_count_and_their_cycles_in_the_full_pass(
        restore_collector: None) -> None:
    loop = FakeLoop()
    collector = PacedCollector(loop, structlog.get_logger("test"),  # type: ignore[arg-type]
                               young_interval=0.1, full_interval=5.0)
    collector.start()
    plain, cycle = Node(), Node()
    cycle.other = Node()
    cycle.other.other = cycle
    plain_ref, cycle_ref = weakref.ref(plain), weakref.ref(cycle)
    loop.advance(0.1)  # a young pass with both alive: frozen
    assert not any(tracked is plain or tracked is cycle for tracked in gc.get_objects())
    del plain, cycle
    assert plain_ref() is None  # frozen, yet freed when its last reference goes
    loop.advance(1.0)
    assert cycle_ref() is not None  # a cycle that died frozen waits for the full pass
    loop.advance(4.0)
    assert cycle_ref() is None and collector.found["full"] >= 2
    collector.stop()
