"""The line feed served as server-sent events, on the proxy's loop.

The pure part (who is sent what, and the bound on a slow client) is
``proxy.admin.linefeed``; this module only waits for it and writes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from proxy.admin.access import Caller
from proxy.admin.linefeed import KEEP_ALIVE, LineFeeds
from proxy.policy.directory import Directory

# A comment this often when nothing changes: proxies between us and the browser
# keep the connection open, and a browser that went away is noticed on the write.
KEEP_ALIVE_SECONDS = 15.0


async def line_events(feeds: LineFeeds, caller: Caller, directory: Directory,
                      keep_alive: float = KEEP_ALIVE_SECONDS) -> AsyncIterator[str]:
    """The stream of one client, until it disconnects (the generator is closed)."""
    ready = asyncio.Event()
    feed = feeds.open(caller, directory, ready.set)
    try:
        while True:
            try:
                await asyncio.wait_for(ready.wait(), keep_alive)
            except TimeoutError:
                yield KEEP_ALIVE
                continue
            ready.clear()
            for frame in feed.take(feeds.snapshot):
                yield frame
    finally:
        feeds.close(feed)
