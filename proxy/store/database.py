"""Opening the database a URL names: SQLite through aiosqlite, PostgreSQL through
asyncpg, both behind SQLAlchemy's async engine."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

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
        cursor = dbapi_connection.cursor()
        # WAL: readers do not block the writer. synchronous=NORMAL: a commit is in
        # the OS before it returns, so a killed process loses nothing committed
        # (only a power cut can lose the last commits).
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # IMMEDIATE takes the write lock at BEGIN, so two writers queue up for the
        # busy timeout instead of one failing when it upgrades a read lock.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
