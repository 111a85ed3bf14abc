"""Blocking a source address that keeps failing digest authentication.

Digest lets anyone who holds a nonce test password guesses offline only if
they saw a valid response; online, every guess costs a request. After
``max_failures`` failed attempts from one address within ``window`` seconds,
the address is blocked for ``block_for`` seconds (RFC 3261 §26.1.5 and
RFC 7616 §5.13 leave the defence against online guessing to the server).
Other addresses are unaffected. Memory is bounded: at most ``limit``
addresses with recent failures and at most ``limit`` blocked addresses.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass


@dataclass(slots=True)
class _Failures:
    started: float  # the first failure of the current window
    count: int


class FailureThrottle:
    """Failed attempts per source address and the blocks they earn. Time is an argument."""

    def __init__(self, *, max_failures: int, window: float, block_for: float, limit: int) -> None:
        if max_failures < 1 or window <= 0 or block_for <= 0 or limit < 1:
            raise ValueError("the failure throttle needs positive settings")
        self._max_failures = max_failures
        self._window = window
        self._block_for = block_for
        self._limit = limit
        # Least recently failing first; blocked in the order they were blocked,
        # which is the order they expire in (one block length, a clock that
        # does not go back).
        self._failures: OrderedDict[str, _Failures] = OrderedDict()
        self._blocked: OrderedDict[str, float] = OrderedDict()

    @property
    def failing_count(self) -> int:
        """Addresses with failures in an open window."""
        return len(self._failures)

    @property
    def blocked_count(self) -> int:
        """Addresses held as blocked (some may have expired and not been dropped yet)."""
        return len(self._blocked)

    def blocked_until(self, source: str, now: float) -> float | None:
        """The end of ``source``'s block, or None if it is not blocked at ``now``."""
        self._drop_expired_blocks(now)
        until = self._blocked.get(source)
        if until is None or until <= now:
            return None
        return until

    def record_failure(self, source: str, now: float) -> float | None:
        """Count a failed attempt; returns the end of the block it starts, if it
        is the attempt that reaches ``max_failures`` within the window."""
        self._drop_closed_windows(now)
        failures = self._failures.pop(source, None)
        if failures is None or now - failures.started >= self._window:
            failures = _Failures(started=now, count=0)
        failures.count += 1
        if failures.count >= self._max_failures:
            return self._block(source, now)
        if len(self._failures) >= self._limit:
            self._failures.popitem(last=False)  # forget the least recently failing
        self._failures[source] = failures
        return None

    def _block(self, source: str, now: float) -> float:
        until = now + self._block_for
        self._blocked.pop(source, None)
        if len(self._blocked) >= self._limit:
            self._blocked.popitem(last=False)  # the block that ends soonest
        self._blocked[source] = until
        return until

    def _drop_expired_blocks(self, now: float) -> None:
        while self._blocked:
            source, until = next(iter(self._blocked.items()))
            if until > now:
                return
            del self._blocked[source]

    def _drop_closed_windows(self, now: float) -> None:
        # The front is the least recently failing address; one whose window is
        # over is dropped. Others wait their turn (the table stays bounded).
        while self._failures:
            source, failures = next(iter(self._failures.items()))
            if now - failures.started < self._window:
                return
            del self._failures[source]
