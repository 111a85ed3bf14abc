"""Refusals are logged at info once per source per minute, not once per packet: a
flood of forged requests must not become a flood of log lines."""

from __future__ import annotations

from dataclasses import dataclass, field

REFUSAL_LOG_INTERVAL = 60.0
# Sources remembered at most; past that, the oldest are forgotten (and may log again).
_MAX_SOURCES = 10_000


@dataclass(slots=True)
class RefusalThrottle:
    """Says whether a refusal for a source should be logged now."""

    interval: float = REFUSAL_LOG_INTERVAL
    _last: dict[str, float] = field(default_factory=dict)

    def should_log(self, source: str, now: float) -> bool:
        last = self._last.get(source)
        if last is not None and now - last < self.interval:
            return False
        if last is None and len(self._last) >= _MAX_SOURCES:
            self._forget_before(now - self.interval)
        self._last.pop(source, None)  # re-inserted at the end: dict order is age order
        self._last[source] = now
        return True

    def _forget_before(self, cutoff: float) -> None:
        stale = [source for source, at in self._last.items() if at < cutoff]
        for source in stale or list(self._last)[: _MAX_SOURCES // 10]:
            del self._last[source]
