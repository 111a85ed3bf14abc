"""Each configured host name's hops, kept for their TTL (RFC 1035 §3.2.1, RFC 3263
§4.3). Pure: the time is passed in; the resolver says when it looked."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from proxy.sip.hop import Hop, HostName, ResolvedNames

# A TTL of 0 (or a few seconds) must not turn the resolver into a loop.
MIN_REFRESH_SECONDS = 5.0
# A name that did not resolve is asked again after this long.
RETRY_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class Lookup:
    """What resolving one name gave: hops in the order to try and the smallest TTL
    of the records used, or why there are none."""

    hops: tuple[Hop, ...]
    ttl: float
    error: str | None = None


@dataclass(frozen=True, slots=True)
class _Entry:
    hops: tuple[Hop, ...]
    due: float  # when to resolve the name again
    error: str | None


class NameCache:
    """Every configured host name, its hops, and when it is due for a new lookup."""

    def __init__(self, names: Iterable[HostName]) -> None:
        self._entries = {name: _Entry((), 0.0, "not resolved yet") for name in names}

    @property
    def names(self) -> tuple[HostName, ...]:
        return tuple(self._entries)

    def due(self, now: float) -> tuple[HostName, ...]:
        """The names whose TTL has run out (all of them at the start)."""
        return tuple(name for name, entry in self._entries.items() if entry.due <= now)

    def next_due(self) -> float | None:
        """When the next name is due; None when there are no names."""
        return min((entry.due for entry in self._entries.values()), default=None)

    def record(self, name: HostName, lookup: Lookup, now: float) -> bool:
        """Keep ``lookup`` for its TTL; True when the hops the core sees changed.

        A lookup that fails keeps the hops from the last one that worked (RFC 8767
        §4: stale data beats none when the DNS servers are unreachable), and is
        tried again after ``RETRY_SECONDS``.
        """
        old = self._entries[name]
        if lookup.hops:
            new = _Entry(lookup.hops, now + max(lookup.ttl, MIN_REFRESH_SECONDS), None)
        else:
            new = _Entry(old.hops, now + RETRY_SECONDS, lookup.error or "no address")
        self._entries[name] = new
        return new.hops != old.hops or (not new.hops and new.error != old.error)

    def resolved(self) -> ResolvedNames:
        """The table the core reads: hops for each name that has some, else why not."""
        return ResolvedNames(
            hops={name: entry.hops for name, entry in self._entries.items() if entry.hops},
            failures={name: f"the name did not resolve ({entry.error})"
                      for name, entry in self._entries.items() if not entry.hops and entry.error},
        )
