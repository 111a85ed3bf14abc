"""How long the store's write-behind takes to make a registration durable.

Run: ``python tools/bench_store.py [POSTGRES_URL]`` (or set
VIPPROXY_TEST_POSTGRES_URL). For a SQLite file in a temporary directory and, when
given, a PostgreSQL database (its registrations table is emptied first), prints:

- the time of one flush transaction for batches of 1, 100 and 1000 registrations;
- from ``save_registration`` to written by the background writer at the default
  flush interval: what a ``kill -9`` can lose at most, as measured here.

A script that prints numbers, never a timed assertion (ARCHITECTURE.md, conventions).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

# Runs from a plain checkout too: put the repository root on the import path.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import create_async_engine

from proxy.defaults import STORE_FLUSH_INTERVAL_SECONDS
from proxy.store import Received, Registration, open_store
from proxy.store.database import parse_url
from proxy.store.schema import registrations

_ROUNDS = 20


def _registration(number: int) -> Registration:
    now = time.time()
    return Registration(f"sip:user{number}@example.com", f"sip:user{number}@192.0.2.{number % 250}",
                        now + 3600, f"call-{number}", number, Received("UDP", "192.0.2.1", 5060),
                        now, q=1.0, path=("<sip:edge.example.com;lr>",), user_agent="bench/1")


async def _measure(url: str) -> None:
    store = await open_store(url, flush_interval=3600.0)
    engine = create_async_engine(parse_url(url))
    async with engine.begin() as connection:  # a benchmark's database: emptied first
        await connection.execute(delete(registrations))
    await engine.dispose()
    for size in (1, 100, 1000):
        times = []
        for round_number in range(_ROUNDS):
            for number in range(size):
                store.save_registration(_registration(round_number * size + number))
            started = time.perf_counter()
            await store.flush()
            times.append(time.perf_counter() - started)
        print(f"  flush of {size:4d}: median {statistics.median(times) * 1000:6.1f} ms, "
              f"max {max(times) * 1000:6.1f} ms")
    await store.close()

    store = await open_store(url)  # the default interval, as the proxy runs
    durable = []
    for number in range(_ROUNDS):
        written = store.stats.written
        started = time.perf_counter()
        store.save_registration(_registration(number))
        while store.stats.written == written:
            await asyncio.sleep(0.001)
        durable.append(time.perf_counter() - started)
    await store.close()
    print(f"  save -> written at the {STORE_FLUSH_INTERVAL_SECONDS * 1000:.0f} ms interval: "
          f"median {statistics.median(durable) * 1000:.1f} ms, max {max(durable) * 1000:.1f} ms")


async def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        print("SQLite (WAL, synchronous=NORMAL):")
        await _measure(f"sqlite+aiosqlite:///{directory}/bench.db")
    postgres = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("VIPPROXY_TEST_POSTGRES_URL")
    if postgres:
        print("PostgreSQL:")
        await _measure(postgres)


if __name__ == "__main__":
    asyncio.run(main())
