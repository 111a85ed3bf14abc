"""The shared line on the event loop: the dialog tracker fed by the core's call
events, and what it finds handed on (line changes to the busy-lamp service, each
finished call to the log and the history).

The tracker's work is in memory and small; anything slow (the store, NOTIFYs)
happens behind whoever listens: they queue, they never wait on the per-message path.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from proxy.core.events import CallEvent
from proxy.dialog import CallRecord, DialogTracker, LineChange, LineView, Update

# How often calls past their deadline (a lost BYE) are looked for.
EXPIRY_CHECK_SECONDS = 5.0

LineListener = Callable[[LineChange], None]
RecordListener = Callable[[CallRecord], None]


class Lines:
    """The tracker and who listens to it."""

    def __init__(self, tracker: DialogTracker, loop: asyncio.AbstractEventLoop, log: Any) -> None:
        self.tracker = tracker
        self._loop = loop
        self._log = log
        # Records leave with Unix times: the events carry the loop's clock.
        self._wall_offset = time.time() - loop.time()
        self._line_listeners: list[LineListener] = []
        self._record_listeners: list[RecordListener] = []

    def line(self, number: str) -> LineView | None:
        """The line now, its times in Unix seconds (``DialogTracker.line``): what a
        page shows as "held since" must survive a reload of the page."""
        view = self.tracker.line(number)
        return None if view is None else view.on_wall_clock(self._wall_offset)

    def on_line_change(self, listener: LineListener) -> None:
        self._line_listeners.append(listener)

    def on_call_finished(self, listener: RecordListener) -> None:
        self._record_listeners.append(listener)

    def observe(self, event: CallEvent) -> None:
        """The core's observer (``core.events.subscribe``)."""
        self._apply(self.tracker.observe(event))

    async def keep_expiring(self) -> None:
        """End the calls whose BYE never came, on time, until cancelled."""
        while True:
            await asyncio.sleep(EXPIRY_CHECK_SECONDS)
            self._apply(self.tracker.expire(self._loop.time()))

    def stop(self) -> None:
        """The proxy stops: the calls still up are recorded as they stand."""
        self._apply(self.tracker.stop(self._loop.time()))

    def _apply(self, update: Update) -> None:
        for change in update.changed:
            for line_listener in self._line_listeners:
                line_listener(change)
        for record in update.finished:
            on_wall = record.on_wall_clock(self._wall_offset)
            self._log.info("call.ended", **on_wall.fields())
            for record_listener in self._record_listeners:
                record_listener(on_wall)
