"""The cyclic garbage collector, run on a clock instead of by allocation counts.

CPython starts a young collection when tracked allocations minus deallocations
pass a threshold. A proxy under steady load frees about as many objects as it
makes (calls end as calls begin), so that count hardly moves: young collections
come seldom, and each one scans every object made since the one before, up to
the whole set of calls in progress. Measured over the bench's call flow in
process (450 calls/s for 60 s, thresholds 5000/10/1000, 2 shared cores): 53
generation-1 passes of up to 1.27 s, and 13% of the CPU in the collector.

On a clock the young generation holds what the last ``young_interval`` made
that is still alive, whatever the churn: a generation-0 pass every 100 ms. The
same run: no pass over 151 ms, 10% of the CPU.

What survives a young pass is frozen (``gc.freeze``: moved to the permanent
generation, which no pass but the hourly one scans, in constant time) instead of
being scanned again by generation-1 passes. It lives long: transactions are kept
for 64*T1 (RFC 3261 §17), and every call in progress holds about a hundred
objects. A generation-1 pass once a second, the design before, found nothing
under load and cost as much as the young passes: in a warm run at 290 calls/s
(bench, cancel variant) its 237 passes took 8.4 s of CPU (3.5% of a core, the
young passes as much again), the 218 that took over 15 ms collected 0 objects,
and each paused the loop for 35-100 ms once a second, long enough to queue
megabytes of datagrams behind it at capacity. Frozen objects are still freed by
reference counting when the call ends; only a cycle among them waits for the
full pass.

The full pass unfreezes everything, what start-up made included, and scans it:
about a hundred objects per call in progress, so it takes seconds at full load.
Finished calls leave nothing for the collector (tests/unit/test_core_memory.py),
so the full pass is a safety net for what else might (a cycle that became
garbage after its young pass), and it runs every ``full_interval`` (an hour)
rather than whenever CPython's heuristics say. Each full pass is logged with
its duration and what it found: anything found there is a cycle worth
reporting.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable
from typing import Any

YOUNG_INTERVAL = 0.1  # s between collections of generation 0
FULL_INTERVAL = 3600.0  # s between full collections


class PacedCollector:
    """Runs the collector from the event loop's clock; :meth:`stop` hands it back."""

    def __init__(self, loop: asyncio.AbstractEventLoop, log: Any, *,
                 young_interval: float = YOUNG_INTERVAL, full_interval: float = FULL_INTERVAL,
                 collect: Callable[[int], int] = gc.collect,
                 freeze: Callable[[], None] = gc.freeze,
                 unfreeze: Callable[[], None] = gc.unfreeze,
                 timer: Callable[[], float] = time.perf_counter) -> None:
        self._loop = loop
        self._log = log
        self._young_interval = young_interval
        self._full_interval = full_interval
        self._collect = collect
        self._freeze = freeze
        self._unfreeze = unfreeze
        self._timer = timer
        self._full_due = 0.0
        self._handle: asyncio.TimerHandle | None = None
        self.passes = {"young": 0, "full": 0}  # collections of each kind
        self.longest = {"young": 0.0, "full": 0.0}  # s: the longest pause of each kind
        self.found = {"young": 0, "full": 0}  # unreachable objects each kind collected

    def start(self) -> None:
        """Freeze what start-up made (config, modules: never garbage) out of every
        pass but the full one, stop CPython's own collections, and collect on the
        clock instead."""
        self._freeze()
        gc.disable()
        self._full_due = self._loop.time() + self._full_interval
        self._handle = self._loop.call_later(self._young_interval, self._tick)

    def stop(self) -> None:
        """No more paced collections; CPython's own take over again, over everything."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._unfreeze()
        gc.enable()

    def summary(self) -> dict[str, int]:
        """Passes, the longest pause (ms) and the unreachable objects found, of each
        kind, for ``proxy.stopped``."""
        fields = {}
        for kind, passes in self.passes.items():
            fields[f"gc_{kind}_passes"] = passes
            fields[f"gc_{kind}_longest_ms"] = round(self.longest[kind] * 1000)
            fields[f"gc_{kind}_found"] = self.found[kind]
        return fields

    def _tick(self) -> None:
        now = self._loop.time()
        started = self._timer()
        if now >= self._full_due:
            self._full_due = now + self._full_interval
            kind = "full"
            self._unfreeze()
            found = self._collect(2)
        else:
            kind = "young"
            found = self._collect(0)
        self._freeze()  # what survived lives long: no pass scans it again for now
        took = self._timer() - started
        self.passes[kind] += 1
        self.longest[kind] = max(self.longest[kind], took)
        self.found[kind] += found
        if kind == "full":
            self._log.info("gc.full_collection", duration_ms=round(took * 1000),
                           unreachable=found)
        self._handle = self._loop.call_later(self._young_interval, self._tick)
