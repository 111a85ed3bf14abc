"""Live line state for the management API's event stream (``GET /events/lines``). Pure.

Each connected client has a :class:`Feed`: the lines it may watch and the events
not yet sent to it. A change is turned into JSON once, for every feed watching
that line. A feed holds at most ``limit`` events: a browser that reads slower than
the lines change (a phone on a bad network, a suspended tab) would otherwise grow
the proxy's memory without bound. Past the limit its queue is dropped and the next
thing it reads is a fresh snapshot of all its lines, so it stays correct, only
without the states it was too slow to see.

Server-sent events are framed as the HTML Living Standard says ("Server-sent
events", §9.2.6 "Interpreting an event stream"): ``event:`` and ``data:`` lines,
a blank line to end each event, ``:`` for a comment (the keep-alive).
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from proxy.admin.access import Caller
from proxy.admin.views import line_json, watched_lines
from proxy.dialog.views import LineChange, LineView
from proxy.policy.directory import Directory

# Events a client may be behind before it is sent a snapshot instead.
FEED_LIMIT = 64
KEEP_ALIVE = ": keep-alive\n\n"


def sse(event: str, data: Any) -> str:
    """One server-sent event: its name and its data as JSON on one line."""
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Every watched line as it is now: sent first, and after a feed fell behind."""

    lines: tuple[LineView, ...]
    at: float  # Unix seconds

    def frame(self) -> str:
        return sse("snapshot", {"lines": [line_json(view) for view in self.lines],
                                "at": self.at})


class Feed:
    """What one client is sent: a snapshot, then one event per change of its lines.

    ``wake`` is called when there is something to read (the wiring's event)."""

    def __init__(self, caller: Caller, lines: frozenset[str], wake: Callable[[], None],
                 limit: int) -> None:
        self.caller = caller
        self.lines = lines
        self._wake = wake
        self._limit = limit
        self._pending: deque[str] = deque()
        self._behind = True  # nothing sent yet: the first read is a snapshot

    def put(self, frame: str) -> bool:
        """Queue ``frame``; True when this is where the feed fell behind."""
        fell_behind = False
        if not self._behind:
            if len(self._pending) >= self._limit:
                self._pending.clear()
                self._behind = fell_behind = True
            else:
                self._pending.append(frame)
        self._wake()
        return fell_behind

    def rescope(self, lines: frozenset[str]) -> None:
        """The caller now sees ``lines``: what is queued is of the old set, so the
        next read is a snapshot of the new one."""
        if lines != self.lines:
            self.lines = lines
            self._pending.clear()
            self._behind = True
            self._wake()

    def take(self, snapshot: Callable[[frozenset[str]], Snapshot]) -> list[str]:
        """The frames to send now, oldest first (empty when there is nothing new)."""
        if self._behind:
            self._behind = False
            self._pending.clear()
            return [snapshot(self.lines).frame()]
        frames = list(self._pending)
        self._pending.clear()
        return frames


class LineFeeds:
    """Every open feed, and the tracker's line changes handed to those watching.

    ``view`` is how a line is now (``DialogTracker.line``); ``clock`` Unix seconds,
    stamped on each event so a page can tell since when a line is in its state."""

    def __init__(self, view: Callable[[str], LineView | None], clock: Callable[[], float],
                 limit: int = FEED_LIMIT) -> None:
        self._view = view
        self._clock = clock
        self._limit = limit
        self._feeds: set[Feed] = set()
        self.resyncs = 0  # times a feed fell behind and was sent a snapshot instead

    def __len__(self) -> int:
        return len(self._feeds)

    def open(self, caller: Caller, directory: Directory, wake: Callable[[], None]) -> Feed:
        """A feed of the lines ``caller`` may watch now (``watched_lines``)."""
        feed = Feed(caller, watched_lines(directory, caller), wake, self._limit)
        self._feeds.add(feed)
        wake()
        return feed

    def rescope(self, directory: Directory) -> None:
        """The directory changed (a reload, an accepted invitation, a removed
        delegate): each feed follows the lines its caller may watch from now on."""
        for feed in self._feeds:
            feed.rescope(watched_lines(directory, feed.caller))

    def close(self, feed: Feed) -> None:
        self._feeds.discard(feed)

    def snapshot(self, lines: frozenset[str]) -> Snapshot:
        views = (self._view(line) for line in sorted(lines))
        return Snapshot(tuple(view for view in views if view is not None), self._clock())

    def changed(self, change: LineChange) -> None:
        """A line changed (``Lines.on_line_change``): one event to each feed watching it."""
        watching = [feed for feed in self._feeds if change.line in feed.lines]
        if not watching:
            return
        view = self._view(change.line)
        if view is None:  # a line taken out of the directory by a reload
            return
        frame = sse("line", {**line_json(view), "at": self._clock()})
        for feed in watching:
            self.resyncs += feed.put(frame)
