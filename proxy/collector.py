"""The cyclic garbage collector, run on a clock instead of by allocation counts.

CPython starts a young collection when tracked allocations minus deallocations
pass a threshold. A proxy under steady load frees about as many objects as it
makes (calls end as calls begin), so that count hardly moves: young collections
come seldom, and each one scans every object made since the one before, up to
the whole set of calls in progress. Measured over the bench's call flow in
process (450 calls/s for 60 s, thresholds 5000/10/1000, 2 shared cores): 53
generation-1 passes of up to 1.27 s, and 13% of the CPU in the collector.

On a clock the young generation holds what the last ``young_interval`` made
that is still alive, whatever the churn: a generation-0 pass every 100 ms and a
generation-1 pass every second. The same run: no pass over 151 ms, 10% of the
CPU. What survives a generation-1 pass lives long (transactions are kept for
64*T1, RFC 3261 §17) and goes to generation 2, which only a full pass scans.

A full pass scans every live object, about a hundred per call in progress, so
it takes seconds at full load. Finished calls leave nothing for the collector
(tests/unit/test_core_memory.py), so the full pass is a safety net for what else
might, and it runs every ``full_interval`` (an hour) rather than whenever
CPython's heuristics say (after 1,000 generation-1 passes, every 15 minutes or
so under load). Each full pass is logged with its duration and what it found:
anything found there is a cycle worth reporting.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable
from typing import Any

YOUNG_INTERVAL = 0.1  # s between collections of generation 0
OLDER_EVERY = 10  # every tenth collection takes generation 1 too
FULL_INTERVAL = 3600.0  # s between full collections


class PacedCollector:
    """Runs the collector from the event loop's clock; :meth:`stop` hands it back."""

    def __init__(self, loop: asyncio.AbstractEventLoop, log: Any, *,
                 young_interval: float = YOUNG_INTERVAL, older_every: int = OLDER_EVERY,
                 full_interval: float = FULL_INTERVAL,
                 collect: Callable[[int], int] = gc.collect,
                 timer: Callable[[], float] = time.perf_counter) -> None:
        self._loop = loop
        self._log = log
        self._young_interval = young_interval
        self._older_every = older_every
        self._full_interval = full_interval
        self._collect = collect
        self._timer = timer
        self._ticks = 0
        self._full_due = 0.0
        self._handle: asyncio.TimerHandle | None = None
        self.passes = [0, 0, 0]  # collections per generation
        self.longest = [0.0, 0.0, 0.0]  # s: the longest pause per generation

    def start(self) -> None:
        """Freeze what start-up made (config, modules: never garbage) out of every
        pass, stop CPython's own collections, and collect on the clock instead."""
        gc.freeze()
        gc.disable()
        self._full_due = self._loop.time() + self._full_interval
        self._handle = self._loop.call_later(self._young_interval, self._tick)

    def stop(self) -> None:
        """No more paced collections; CPython's own take over again."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        gc.enable()

    def summary(self) -> dict[str, int]:
        """Passes and the longest pause (ms) per generation, for ``proxy.stopped``."""
        fields = {}
        for generation in range(3):
            fields[f"gc{generation}_passes"] = self.passes[generation]
            fields[f"gc{generation}_longest_ms"] = round(self.longest[generation] * 1000)
        return fields

    def _tick(self) -> None:
        self._ticks += 1
        now = self._loop.time()
        if now >= self._full_due:
            generation = 2
            self._full_due = now + self._full_interval
        else:
            generation = 1 if self._ticks % self._older_every == 0 else 0
        started = self._timer()
        found = self._collect(generation)
        took = self._timer() - started
        self.passes[generation] += 1
        self.longest[generation] = max(self.longest[generation], took)
        if generation == 2:
            self._log.info("gc.full_collection", duration_ms=round(took * 1000),
                           unreachable=found)
        self._handle = self._loop.call_later(self._young_interval, self._tick)
