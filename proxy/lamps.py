"""Busy lamps on the event loop: the presence notifier (``proxy.presence``) behind
the Service port, fed with the line changes of ``proxy.lines``, its NOTIFYs sent
over the core's client transactions (``ProxyCore.originate``).

Nothing is sent while a message is being processed (ARCHITECTURE principle 10):
a SUBSCRIBE's first NOTIFY leaves after its 200 (``call_soon`` runs once the
driver has answered), and line changes are noted and flushed once the message
that made them has been handled, so that one message makes at most one NOTIFY
per subscription. When nobody watches a line, a change costs one look-up.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any, assert_never

from proxy.core.entries import FinalCallback
from proxy.core.services import Reply
from proxy.dialog import LineChange
from proxy.policy.trust import Source
from proxy.presence import (
    Action,
    DialogKey,
    Notifier,
    RestUntil,
    SendNotify,
    SubscriptionEnded,
    SubscriptionStarted,
)
from proxy.sip.hop import Hop
from proxy.sip.message import Request, Response

Originate = Callable[[Request, Hop, FinalCallback], None]

# How often subscriptions past their interval are looked for.
EXPIRY_CHECK_SECONDS = 1.0
# Delays from a line change to its NOTIFY leaving, kept for the percentiles that
# ``proxy.stopped`` reports: the newest this many.
DELAY_SAMPLES = 100_000


class Lamps:
    """The notifier as a service, and everything it sends."""

    def __init__(self, notifier: Notifier, originate: Originate,
                 loop: asyncio.AbstractEventLoop, log: Any,
                 clock: Callable[[], float] = time.time) -> None:
        self.notifier = notifier
        self._originate = originate
        self._loop = loop
        self._log = log
        self._clock = clock  # wall-clock seconds, as the Service port passes them
        self._flush_due = False
        # Subscriptions resting until a moment, by that moment: the watchers of a
        # line notified by one flush rest until the same moment, on one loop timer.
        self._resting: dict[float, list[tuple[DialogKey, int]]] = {}
        self.stats: Counter[str] = Counter()
        self._delays: deque[float] = deque(maxlen=DELAY_SAMPLES)
        self._longest_delay = 0.0

    # --- the Service port -----------------------------------------------------------

    def handle(self, request: Request, source: Source, now: float) -> Reply:
        """A SUBSCRIBE; what it starts is done once the driver has sent the reply."""
        outcome = self.notifier.subscribe(request, source, now)
        if outcome.actions:
            self._loop.call_soon(self._run, outcome.actions)
        return outcome.reply

    # --- line changes (``Lines.on_line_change``) --------------------------------------

    def on_line_change(self, change: LineChange) -> None:
        if self.notifier.note_change(change, self._clock()) and not self._flush_due:
            self._flush_due = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_due = False
        self._run(self.notifier.flush(self._clock()))

    # --- time and the end -------------------------------------------------------------

    async def keep_expiring(self) -> None:
        """End subscriptions whose interval ran out, until cancelled."""
        while True:
            await asyncio.sleep(EXPIRY_CHECK_SECONDS)
            self._run(self.notifier.expire(self._clock()))

    def stop(self) -> None:
        """The proxy drains: every subscription gets its final NOTIFY (deactivated)."""
        self._run(self.notifier.stop(self._clock()))

    @property
    def notifying(self) -> int:
        """Subscriptions with a NOTIFY in flight."""
        return self.notifier.notifying

    def summary(self) -> dict[str, float]:
        """Counters and the change-to-NOTIFY delays (ms) for ``proxy.stopped``."""
        ordered = sorted(self._delays)
        return {
            **self.stats,
            "notify_skipped": self.notifier.skipped,
            "notify_delay_p50_ms": _milliseconds(_nearest_rank(ordered, 50)),
            "notify_delay_p99_ms": _milliseconds(_nearest_rank(ordered, 99)),
            "notify_delay_max_ms": _milliseconds(self._longest_delay),
        }

    # --- carrying actions out ---------------------------------------------------------

    def _run(self, actions: Iterable[Action]) -> None:
        for action in actions:
            match action:
                case SendNotify(key, request, hop, changed_at):
                    self._send(key, request, hop, changed_at)
                case RestUntil(key, until, cseq):
                    resting = self._resting.get(until)
                    if resting is None:
                        resting = self._resting[until] = []
                        self._loop.call_later(max(0.0, until - self._clock()), self._rested,
                                              until)
                    resting.append((key, cseq))
                case SubscriptionStarted(_, watcher, entity, expires):
                    self.stats["subscriptions_started"] += 1
                    self._log.info("lamp.subscribed", watcher=watcher, entity=entity,
                                   expires=expires)
                case SubscriptionEnded(_, watcher, entity, reason):
                    self.stats["subscriptions_ended"] += 1
                    self._log.info("lamp.ended", watcher=watcher, entity=entity, reason=reason)
                case _:
                    assert_never(action)

    def _send(self, key: DialogKey, request: Request, hop: Hop, changed_at: float | None) -> None:
        if changed_at is not None:
            delay = max(0.0, self._clock() - changed_at)
            self._delays.append(delay)
            self._longest_delay = max(self._longest_delay, delay)
        self.stats["notify_sent"] += 1
        self._originate(request, hop, partial(self._answered, key))

    def _rested(self, until: float) -> None:
        now = self._clock()
        for key, cseq in self._resting.pop(until):
            self._run(self.notifier.rested(key, cseq, now))

    def _answered(self, key: DialogKey, response: Response) -> None:
        if response.status >= 300:
            self.stats["notify_failed"] += 1
        self._run(self.notifier.answered(key, response.status, self._clock()))


def _nearest_rank(ordered: list[float], percent: float) -> float:
    """The smallest value with ``percent``% of the values at or below it; 0 for none."""
    if not ordered:
        return 0.0
    return ordered[max(0, math.ceil(percent / 100 * len(ordered)) - 1)]


def _milliseconds(seconds: float) -> float:
    return round(seconds * 1000, 3)
