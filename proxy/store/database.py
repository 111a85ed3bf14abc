"""Opening the database a URL names: SQLite through aiosqlite, PostgreSQL through
asyncpg, both behind SQLAlchemy's async engine."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import time
from pathlib import Path
from typing import Any

import aiosqlite
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from proxy.store.errors import StoreError

# A plain scheme means the async driver the store is written for.
_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg",
                  "postgres": "postgresql+asyncpg"}
_SUPPORTED = ("sqlite+aiosqlite", "postgresql+asyncpg")
# Seconds a SQLite writer waits for another connection's lock before failing.
_SQLITE_BUSY_TIMEOUT = 10.0
# Seconds between tries of the switch to WAL while another connection holds the file.
_WAL_RETRY_INTERVAL = 0.02


def shown(url: str) -> str:
    """``url`` as it may be logged: any password replaced by ``***``."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", url)


def parse_url(url: str) -> URL:
    """The SQLAlchemy URL for ``url``, with the async driver filled in."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(shown(url), "not a database URL; allowed: "
                         "sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER:PASSWORD@HOST/DB"
                         ) from None
    drivername = _ASYNC_DRIVERS.get(parsed.drivername, parsed.drivername)
    if drivername not in _SUPPORTED:
        raise StoreError(shown(url), f"unsupported database {parsed.drivername!r}; "
                         f"allowed: {', '.join(_SUPPORTED)}")
    if drivername.startswith("sqlite") and parsed.database in (None, "", ":memory:"):
        raise StoreError(shown(url), "SQLite needs a file (sqlite+aiosqlite:///PATH): "
                         "an in-memory database would not survive a restart")
    return parsed.set(drivername=drivername)


def create_engine(url: URL) -> AsyncEngine:
    """An engine for ``url``; for SQLite the file's directory is made if missing."""
    if url.drivername.startswith("sqlite"):
        return _sqlite_engine(url)
    # Two connections: one for the write-behind flusher, one for start-up reads.
    return create_async_engine(url, pool_size=2, max_overflow=2, pool_pre_ping=True)


def _sqlite_engine(url: URL) -> AsyncEngine:
    assert url.database is not None
    path = Path(url.database).expanduser()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StoreError(url.render_as_string(hide_password=True),
                         f"cannot make the directory {path.parent}: {error.strerror}") from None
    engine = create_async_engine(url.set(database=str(path)),
                                 connect_args={"timeout": _SQLITE_BUSY_TIMEOUT})

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # SQLAlchemy's documented recipe for real SQLite transactions: the driver
        # emits no BEGIN of its own, the "begin" hook below does.
        dbapi_connection.isolation_level = None
        # WAL: readers do not block the writer. synchronous=NORMAL: a commit is in
        # the OS before it returns, so a killed process loses nothing committed
        # (only a power cut can lose the last commits).
        dbapi_connection.run_async(_use_write_ahead_log)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # IMMEDIATE takes the write lock at BEGIN, so two writers queue up for the
        # busy timeout instead of one failing when it upgrades a read lock.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


async def _use_write_ahead_log(connection: aiosqlite.Connection) -> None:
    """Switch the file to WAL, waiting while another connection holds it.

    The switch takes the file's exclusive lock, and SQLite does not call its busy
    handler when a connection holding a shared lock asks for it (two such
    connections would wait for each other forever): it answers "database is
    locked" at once. Proxies opening a new file together meet exactly that, so the
    switch is retried up to the busy timeout. WAL is stored in the file: once one
    connection has switched, the others find it done.
    """
    deadline = time.monotonic() + _SQLITE_BUSY_TIMEOUT
    while True:
        try:
            cursor = await connection.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError as error:
            if error.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() >= deadline:
                raise
            await asyncio.sleep(_WAL_RETRY_INTERVAL)
        else:
            await cursor.close()
            return
