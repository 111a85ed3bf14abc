"""The load watcher: measures the proxy's load every ``interval`` seconds and tells
the guard (proxy/core/overload.py), logging once when shedding starts or stops.

Three cheap measurements:
- event-loop lag: how late this watcher's own timer fires. Every callback
  (datagrams, transaction timers) runs on the one loop, so a late timer means
  work is queueing behind it.
- receive backlog: bytes the kernel holds in the proxy's UDP receive queues
  (``Transports.udp_receive_backlog``: one SO_MEMINFO getsockopt per socket,
  about 0.6 µs; the same number as /proc/net/udp's ``rx_queue``, whose read cost
  105 µs and grew with every UDP socket of the host).
- in progress: ``core.in_progress``, a count the transaction table keeps as
  transactions are answered, so reading it is free; it is still read only every
  ``in_progress_every``-th sample.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from proxy.core.overload import LoadGuard, LoadSample


class LoadWatch:
    """Samples the load periodically with ``loop.call_later``; :meth:`stop` ends it."""

    def __init__(self, guard: LoadGuard, *, loop: asyncio.AbstractEventLoop,
                 in_progress: Callable[[], int], receive_backlog: Callable[[], int],
                 log: Any, interval: float = 0.05, in_progress_every: int = 20) -> None:
        self._guard = guard
        self._loop = loop
        self._in_progress = in_progress
        self._receive_backlog = receive_backlog
        self._log = log
        self._interval = interval
        self._in_progress_every = in_progress_every
        self._last_in_progress = 0
        self._ticks = 0
        self._due = 0.0
        self._handle: asyncio.TimerHandle | None = None
        self.shed_periods = 0  # times shedding started, for the stats
        self.loop_lag = 0.0  # seconds, as last measured: for the metrics

    def start(self) -> None:
        """Take the first sample ``interval`` seconds from now."""
        self._schedule(self._loop.time())

    def stop(self) -> None:
        """No more samples."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _schedule(self, now: float) -> None:
        self._due = now + self._interval
        self._handle = self._loop.call_later(self._interval, self._tick)

    def _tick(self) -> None:
        now = self._loop.time()
        try:
            self._sample(now)
        except Exception:  # a broken measurement must not stop the watching
            self._log.exception("overload.sample_failed")
        self._schedule(now)

    def _sample(self, now: float) -> None:
        if self._ticks % self._in_progress_every == 0:
            self._last_in_progress = self._in_progress()
        self._ticks += 1
        self.loop_lag = max(0.0, now - self._due)
        sample = LoadSample(loop_lag=self.loop_lag,
                            in_progress=self._last_in_progress,
                            receive_backlog=self._receive_backlog())
        change = self._guard.observe(sample, now)
        if change is None:
            return
        fields = {"reason": change.reason, "loop_lag_ms": round(sample.loop_lag * 1000),
                  "in_progress": sample.in_progress, "receive_backlog": sample.receive_backlog}
        if change.shedding:
            self.shed_periods += 1
            self._log.warning("overload.shedding_started", **fields)
        else:
            self._log.warning("overload.shedding_stopped", **fields)

