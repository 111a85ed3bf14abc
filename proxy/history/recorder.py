"""The history's wiring: the dialog tracker's records into the store, and the purge.

A finished call reaches ``Lines.on_call_finished`` inside the handling of a message,
so it is only queued here (the store's bounded write-behind buffer, which counts and
logs what it cannot keep); the purge runs as a task of its own.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from proxy.dialog import CallRecord
from proxy.store import CallHistory, Store, StoreError

# How often calls past the retention are looked for (also once at start).
PURGE_SECONDS = 3600.0


def stored(record: CallRecord) -> CallHistory:
    """The store's row for a finished call: the very fields its ``call.ended`` log
    line shows, so the history and the log never tell the story differently."""
    values: dict[str, Any] = record.fields()
    return CallHistory(**values)


def history_writer(store: Store) -> Callable[[CallRecord], None]:
    """The listener for ``Lines.on_call_finished``: queue each record, never wait."""

    def write_behind(record: CallRecord) -> None:
        store.add_call(stored(record))

    return write_behind


async def keep_history_trimmed(store: Store, retention: float, log: Any) -> None:
    """Purge the calls that started more than ``retention`` seconds ago, at once and
    then every hour, until cancelled."""
    while True:
        try:
            purged = await store.purge_calls(time.time() - retention)
        except StoreError as error:  # a database hiccup must not stop the proxy
            log.warning("history.purge_failed", error=str(error))
        else:
            if purged:
                log.info("history.purged", calls=purged, retention_days=retention / 86400)
        await asyncio.sleep(PURGE_SECONDS)
