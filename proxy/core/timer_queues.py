"""Transaction timers kept in one first-in first-out queue per delay.

Why not a loop timer each: a call starts about twenty timers (RFC 3261 §17:
Timers A and B of each branch, D, E, F, J, K of the transactions that follow,
and Timer C of §16.6 step 11), and a loop timer costs uvloop about 4 µs to
start and 1 µs to cancel, a heap entry and two objects that live as long as the
timer, 32 s for most. Their delays come from a handful of values (Table 4 of
§A, Timer C), and timers started with the same delay fall due in the order they
were started, so each delay needs only a deque and one loop timer for its head.

That loop timer runs every due timer of its queue in one batch, and runs at
most once per ``resolution``: a timer may fire up to that much late. RFC 3261's
timers are lower bounds measured in hundreds of milliseconds, and a late firing
changes nothing the RFC counts on; no timer fires early.

A cancelled timer stays in its queue, as nothing to run, until it falls due:
taking it out of the middle of a deque would cost what the queue saves. A
queue whose cancelled timers outnumber the live ones is compacted, so Timer C
(cancelled by nearly every call's final response, due after 185 s) does not
hold three minutes of calls' worth of them. The 32-s queue stays under that
mark: at 300 calls/s it holds about 86,000 timers, 38,000 of them Timers B and
F cancelled by their final responses, a few MB waiting out their 32 s.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any

# A queue is compacted when it holds more cancelled timers than this and more
# cancelled than live ones: a walk of the queue per that many cancellations.
COMPACT_AFTER = 1024


class Timer:
    """One pending call of a :class:`TimerQueues`; :meth:`cancel` takes it back."""

    __slots__ = ("_args", "_callback", "_queue", "deadline")

    def __init__(self, queue: _DelayQueue, deadline: float,
                 callback: Callable[..., None], args: tuple[Any, ...]) -> None:
        self._queue = queue
        self.deadline = deadline
        self._callback: Callable[..., None] | None = callback
        self._args = args

    @property
    def pending(self) -> bool:
        """Neither fired nor cancelled yet."""
        return self._callback is not None

    def cancel(self) -> None:
        """Take the call back; nothing happens when it has fired already."""
        if self._callback is not None:
            self._callback, self._args = None, ()
            self._queue.cancelled_one()

    def fire(self) -> bool:
        """Run the call, once; False, and nothing run, when it was cancelled."""
        callback, args = self._callback, self._args
        if callback is None:
            return False
        self._callback, self._args = None, ()
        callback(*args)
        return True


class _DelayQueue:
    """The timers of one delay, in the order they fall due. While it is in its
    :class:`TimerQueues`, one loop timer waits for its head."""

    __slots__ = ("cancelled", "timers")

    def __init__(self) -> None:
        self.timers: deque[Timer] = deque()
        self.cancelled = 0  # cancelled timers still in ``timers``

    def cancelled_one(self) -> None:
        self.cancelled += 1
        if self.cancelled > COMPACT_AFTER and 2 * self.cancelled > len(self.timers):
            # In place: a batch being run holds this deque.
            live = [timer for timer in self.timers if timer.pending]
            self.timers.clear()
            self.timers.extend(live)
            self.cancelled = 0


class TimerQueues:
    """``call_later`` for many timers of few delays; see the module docstring."""

    def __init__(self, loop: asyncio.AbstractEventLoop, resolution: float) -> None:
        self._loop = loop
        self._resolution = resolution
        self._queues: dict[float, _DelayQueue] = {}

    def call_later(self, delay: float, callback: Callable[..., None], *args: Any) -> Timer:
        """Call ``callback(*args)`` ``delay`` seconds from now, or up to a
        resolution later."""
        queue = self._queues.get(delay)
        if queue is None:
            queue = self._queues[delay] = _DelayQueue()
            self._loop.call_later(delay, self._expire, delay)
        timer = Timer(queue, self._loop.time() + delay, callback, args)
        queue.timers.append(timer)
        return timer

    def _expire(self, delay: float) -> None:
        """The head of ``delay``'s queue is due: run every timer that is, then wait
        for the next head, a resolution at least."""
        queue = self._queues[delay]
        timers = queue.timers
        now = self._loop.time()
        while timers and timers[0].deadline <= now:
            try:
                if not timers.popleft().fire():
                    queue.cancelled -= 1  # it was counted when cancelled
            except Exception as error:  # as the loop does for its own callbacks
                self._loop.call_exception_handler(
                    {"message": "timer callback failed", "exception": error})
        if timers:
            wait = max(timers[0].deadline - now, self._resolution)
            self._loop.call_later(wait, self._expire, delay)
        else:
            # Gone until a timer of this delay starts again: the queues in the
            # table never outnumber the timers, whatever delays are asked for.
            del self._queues[delay]
