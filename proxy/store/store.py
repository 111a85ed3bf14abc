"""The store: what must survive a restart, in SQLite or PostgreSQL.

Reads happen at start (``secret``, ``load_registrations``), or outside the proxy
(``call_history`` for ``vipproxy history``); afterwards the services keep their state
in memory and only hand changes to the store. Those changes are write-behind:
``save_registration``, ``delete_registration`` and ``add_call`` put the operation in
one bounded buffer and return at once; a background task writes what is waiting in
one transaction, ``flush_interval`` after the first of it was queued. Nothing on the
per-message path awaits the database.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, assert_never

from alembic.util.exc import CommandError
from sqlalchemy import (
    ColumnElement,
    Insert,
    RowMapping,
    Select,
    Table,
    and_,
    bindparam,
    delete,
    func,
    insert,
    select,
)
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine
from structlog.typing import FilteringBoundLogger

from proxy.defaults import STORE_FLUSH_INTERVAL_SECONDS, STORE_QUEUE_LIMIT
from proxy.store.database import create_engine, parse_url, shown
from proxy.store.errors import StoreError
from proxy.store.migrate import upgrade_to_head
from proxy.store.pending import Delete, Operation, PendingWrites
from proxy.store.records import CallHistory, HistoryOrder, Received, Registration
from proxy.store.schema import call_history, delegations, registrations, secrets

# What a database or its driver raises when it cannot be reached or refuses.
_DATABASE_ERRORS = (SQLAlchemyError, OSError, TimeoutError, CommandError)
# Longest wait between two tries to write while the database is unreachable.
_MAX_RETRY_DELAY = 5.0
# A full buffer is logged when it starts dropping, then at most this often while it
# goes on: an unreachable database under load must not flood the log.
_DROPS_REPORT_SECONDS = 60.0


@dataclass(slots=True)
class StoreStats:
    """Counters of the write-behind, for logs and metrics."""

    queued: int = 0  # operations accepted by save/delete
    dropped: int = 0  # operations refused because the buffer was full
    calls_dropped: int = 0  # of which call history records: those calls are not kept
    written: int = 0  # operations written to the database
    batches: int = 0  # transactions that wrote them
    failed_batches: int = 0  # transactions that failed (their operations were kept)
    last_batch_seconds: float = 0.0  # how long the last transaction took
    max_batch_seconds: float = 0.0


async def open_store(url: str, *, flush_interval: float = STORE_FLUSH_INTERVAL_SECONDS,
                     queue_limit: int = STORE_QUEUE_LIMIT,
                     log: FilteringBoundLogger | None = None) -> Store:
    """Open the database at ``url`` and bring its schema to the newest migration.

    ``url`` is ``sqlite+aiosqlite:///PATH`` (the file and its directory are made on
    first start) or ``postgresql+asyncpg://USER:PASSWORD@HOST[:PORT]/DB``; a plain
    ``sqlite://`` or ``postgresql://`` means the same drivers. Raises
    :class:`StoreError` naming the URL (password hidden) and what went wrong.
    """
    engine = create_engine(parse_url(url))
    try:
        await upgrade_to_head(engine)
    except CommandError as error:
        # The usual cause: a newer vipproxy migrated this database, then an older one
        # was started on it.
        await engine.dispose()
        raise StoreError(shown(url), f"cannot migrate the schema: {error} (was the "
                         "database made by a newer vipproxy?)") from error
    except _DATABASE_ERRORS as error:
        await engine.dispose()
        raise StoreError(shown(url), f"cannot open: {_describe(error)}") from error
    return Store(engine, shown(url), flush_interval, queue_limit, log)


class Store:
    """An open database. Use :func:`open_store`; end with :meth:`close`."""

    def __init__(self, engine: AsyncEngine, url: str, flush_interval: float, queue_limit: int,
                 log: FilteringBoundLogger | None) -> None:
        self.url = url  # password hidden
        self.stats = StoreStats()
        self._engine = engine
        self._flush_interval = flush_interval
        self._log = log
        self._pending = PendingWrites(queue_limit)
        self._upsert = _upsert_registrations(engine.dialect.name)
        self._add_calls: Insert = _insert(engine.dialect.name, call_history).on_conflict_do_nothing(
            index_elements=list(call_history.primary_key.columns))
        self._writing = asyncio.Lock()  # one transaction at a time keeps writes in order
        self._wake = asyncio.Event()  # set when something is waiting, or on close
        self._closing = asyncio.Event()
        self._closed = False
        self._dropped_unreported = 0
        self._drops_reported_at = -_DROPS_REPORT_SECONDS
        self._flusher = asyncio.create_task(self._flush_in_background(), name="store-flusher")

    # -- reads and the secret: awaited at start, never per message ------------------

    async def secret(self, name: str, make: Callable[[], bytes]) -> bytes:
        """The secret called ``name``; on first use ``make()`` makes it and it is kept.

        Atomic: when two proxies start at once on one database, both get the value
        of whichever inserted first.
        """
        try:
            value = await self._read_secret(name)
            if value is not None:
                return value
            try:
                async with self._engine.begin() as connection:
                    await connection.execute(insert(secrets).values(
                        name=name, value=make(), created_at=time.time()))
            except IntegrityError:
                pass  # another proxy made it between our read and our insert: theirs wins
            value = await self._read_secret(name)
        except _DATABASE_ERRORS as error:
            raise StoreError(self.url, f"cannot read or make the secret {name!r}: "
                                       f"{_describe(error)}") from error
        if value is None:  # only if someone deleted it in between
            raise StoreError(self.url, f"the secret {name!r} vanished while it was made")
        return value

    async def _read_secret(self, name: str) -> bytes | None:
        async with self._engine.connect() as connection:
            value = await connection.scalar(select(secrets.c.value).where(secrets.c.name == name))
        return None if value is None else bytes(value)

    async def load_registrations(self, now: float) -> list[Registration]:
        """Every registration in the database that expires after ``now`` (Unix seconds),
        ordered by address of record and contact. Operations still waiting to be
        written are not included: call it at start, before any save."""
        query = (select(registrations).where(registrations.c.expires_at > now)
                 .order_by(registrations.c.aor, registrations.c.contact))
        return [_registration(row) for row in await self._rows(query, "registrations")]

    async def delegation_settings(self) -> dict[str, dict[str, Any]]:
        """Every delegator's own settings (their ``delegations`` entry), by user id."""
        rows = await self._rows(select(delegations), "the delegations")
        return {row["delegator"]: dict(row["settings"]) for row in rows}

    async def save_delegation_settings(self, delegator: str, settings: Mapping[str, Any]) -> None:
        """Keep ``delegator``'s settings, replacing what was kept. Awaited, unlike the
        write-behind: the API answers a change only once it is durable."""
        try:
            async with self._engine.begin() as connection:
                await connection.execute(
                    delete(delegations).where(delegations.c.delegator == delegator))
                await connection.execute(insert(delegations).values(
                    delegator=delegator, settings=dict(settings), updated_at=time.time()))
        except _DATABASE_ERRORS as error:
            raise StoreError(self.url, f"cannot write the delegation of {delegator!r}: "
                                       f"{_describe(error)}") from error

    async def call_history(self, *, lines: Collection[str] | None = None,
                           delegators: Collection[str] | None = None,
                           since: float | None = None) -> list[CallHistory]:
        """The calls written so far, oldest first: only those on ``lines``, only those
        on the lines of ``delegators``, only those started at ``since`` (Unix
        seconds) or later, as far as each is given."""
        query = select(call_history).where(*_history_filters(lines, delegators, since))
        return [CallHistory(**row) for row in
                await self._rows(query.order_by(*_HISTORY_ORDER), "the call history")]

    async def call_history_page(self, *, lines: Collection[str] | None = None,
                                delegators: Collection[str] | None = None,
                                since: float | None = None,
                                outcomes: Collection[str] | None = None, offset: int = 0,
                                limit: int, order: HistoryOrder = HistoryOrder.OLDEST_FIRST,
                                ) -> tuple[int, list[CallHistory]]:
        """How many calls :meth:`call_history` would give (only those whose outcome
        is one of ``outcomes``, when given), and ``limit`` of them from ``offset`` on,
        in ``order``: one page, read as such from the database."""
        filters = _history_filters(lines, delegators, since)
        if outcomes is not None:
            filters.append(call_history.c.outcome.in_(list(outcomes)))
        try:
            async with self._engine.connect() as connection:
                total = await connection.scalar(
                    select(func.count()).select_from(call_history).where(*filters))
        except _DATABASE_ERRORS as error:
            raise StoreError(self.url, f"cannot count the call history: {_describe(error)}"
                             ) from error
        ordered = (_HISTORY_ORDER if order is HistoryOrder.OLDEST_FIRST
                   else [column.desc() for column in _HISTORY_ORDER])
        query = (select(call_history).where(*filters).order_by(*ordered)
                 .offset(offset).limit(limit))
        rows = await self._rows(query, "the call history")
        return int(total or 0), [CallHistory(**row) for row in rows]

    async def _rows(self, query: Select[Any], what: str) -> Sequence[RowMapping]:
        """What ``query`` selects; a :class:`StoreError` saying ``what`` could not be read."""
        try:
            async with self._engine.connect() as connection:
                rows: Sequence[RowMapping] = (await connection.execute(query)).mappings().all()
        except _DATABASE_ERRORS as error:
            raise StoreError(self.url, f"cannot read {what}: {_describe(error)}") from error
        return rows

    async def purge_calls(self, started_before: float) -> int:
        """Delete the calls started before ``started_before`` (Unix seconds): the
        history's retention. Returns how many were deleted."""
        try:
            async with self._engine.begin() as connection:
                result = await connection.execute(
                    delete(call_history).where(call_history.c.started < started_before))
        except _DATABASE_ERRORS as error:
            raise StoreError(self.url, f"cannot purge the call history: {_describe(error)}"
                             ) from error
        return int(result.rowcount)

    # -- write-behind: called on the per-message path, never waits -------------------

    def save_registration(self, registration: Registration) -> bool:
        """Queue ``registration`` to be written (replacing the binding
        ``(aor, contact)``). False when it was dropped: the buffer is full or the
        store is closed (counted in ``stats.dropped`` and logged)."""
        return self._queue(registration)

    def delete_registration(self, aor: str, contact: str) -> bool:
        """Queue the removal of the binding ``(aor, contact)``; False when dropped."""
        return self._queue(Delete(aor, contact))

    def add_call(self, record: CallHistory) -> bool:
        """Queue a finished call's record to be added to the history. False when it
        was dropped: the buffer is full or the store is closed (counted in
        ``stats.dropped`` and ``stats.calls_dropped``, and logged)."""
        return self._queue(record)

    def _queue(self, operation: Operation) -> bool:
        if self._closed or not self._pending.add(operation):
            # The registrar keeps a binding in memory and the phone refreshes it: a
            # restart before the refresh forgets it. A dropped call record is lost.
            self._count_dropped([operation])
            self._wake.set()
            return False
        self.stats.queued += 1
        self._wake.set()
        return True

    @property
    def waiting(self) -> int:
        """Operations queued and not yet written."""
        return len(self._pending)

    async def flush(self) -> None:
        """Write everything queued so far; raises :class:`StoreError` if the database
        refuses (the operations stay queued for the next try)."""
        await self._write_pending()

    async def close(self) -> None:
        """Stop the background writer, write everything still queued, close the
        connections. Raises :class:`StoreError` when the last write fails: what was
        queued is then lost, and the error says how much."""
        if self._closed:
            return
        self._closed = True
        self._closing.set()
        self._wake.set()
        await self._flusher
        try:
            await self._write_pending()
        except StoreError as error:
            raise StoreError(self.url, f"{error.problem}; {self.waiting} queued writes lost"
                             ) from error
        finally:
            self._log_dropped()  # whatever the last minute dropped, before the end
            await self._engine.dispose()

    async def _flush_in_background(self) -> None:
        delay = self._flush_interval
        while not self._closing.is_set():
            await self._wake.wait()
            # Let the writes of the next ``delay`` join this batch (or stop for close,
            # which writes what is waiting itself).
            try:
                await asyncio.wait_for(self._closing.wait(), delay)
                return
            except TimeoutError:
                pass
            self._report_dropped()
            try:
                await self._write_pending()
            except StoreError as error:
                delay = min(delay * 2, _MAX_RETRY_DELAY)
                if self._log is not None:
                    self._log.warning("store.write_failed", error=str(error),
                                      waiting=self.waiting, retry_in=delay)
            else:
                delay = self._flush_interval

    async def _write_pending(self) -> None:
        async with self._writing:
            self._wake.clear()
            batch = self._pending.take()
            if not batch:
                return
            started = time.perf_counter()
            try:
                await self._write(batch)
            except _DATABASE_ERRORS as error:
                self.stats.failed_batches += 1
                self._count_dropped(self._pending.put_back(batch))
                self._wake.set()
                raise StoreError(self.url, f"cannot write {len(batch)} operations: "
                                           f"{_describe(error)}") from error
            elapsed = time.perf_counter() - started
            self.stats.batches += 1
            self.stats.written += len(batch)
            self.stats.last_batch_seconds = elapsed
            self.stats.max_batch_seconds = max(self.stats.max_batch_seconds, elapsed)

    async def _write(self, batch: Sequence[Operation]) -> None:
        removed: list[dict[str, Any]] = []
        saved: list[dict[str, Any]] = []
        calls: list[dict[str, Any]] = []
        for operation in batch:
            match operation:
                case Delete():
                    removed.append({"old_aor": operation.aor, "old_contact": operation.contact})
                case Registration():
                    saved.append(_row(operation))
                case CallHistory():
                    calls.append(asdict(operation))  # the columns are named as its fields
                case _:
                    assert_never(operation)
        async with self._engine.begin() as connection:
            if removed:
                await connection.execute(_DELETE_REGISTRATION, removed)
            if saved:
                await connection.execute(self._upsert, saved)
            if calls:
                await connection.execute(self._add_calls, calls)

    def _count_dropped(self, operations: Sequence[Operation]) -> None:
        self.stats.dropped += len(operations)
        self.stats.calls_dropped += sum(isinstance(op, CallHistory) for op in operations)
        self._dropped_unreported += len(operations)

    def _report_dropped(self) -> None:
        """Log the drops when they start, then at most once a minute while they go on."""
        if time.monotonic() - self._drops_reported_at >= _DROPS_REPORT_SECONDS:
            self._log_dropped()

    def _log_dropped(self) -> None:
        if not self._dropped_unreported:
            return
        if self._log is not None:
            self._log.warning("store.queue_full", dropped=self._dropped_unreported,
                              dropped_total=self.stats.dropped,
                              calls_dropped_total=self.stats.calls_dropped,
                              limit=self._pending.limit)
        self._dropped_unreported = 0
        self._drops_reported_at = time.monotonic()


_DELETE_REGISTRATION = delete(registrations).where(and_(
    registrations.c.aor == bindparam("old_aor"),
    registrations.c.contact == bindparam("old_contact")))


def _insert(dialect: str, table: Table) -> Any:
    """The database's own INSERT into ``table``, the one that knows ON CONFLICT
    (PostgreSQL and SQLite spell it alike)."""
    # Imported here: a SQLite proxy does not pay for loading the PostgreSQL dialect.
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table)


def _upsert_registrations(dialect: str) -> Insert:
    """INSERT ... ON CONFLICT (aor, contact) DO UPDATE, in the database's dialect:
    atomic when two proxies write the same binding (a delete-then-insert is not)."""
    inserting = _insert(dialect, registrations)
    upsert: Insert = inserting.on_conflict_do_update(
        index_elements=[registrations.c.aor, registrations.c.contact],
        set_=_replaced_by(inserting.excluded))
    return upsert


def _replaced_by(excluded: Any) -> dict[str, Any]:
    """Every column but the key, from the row that was to be inserted."""
    return {column.name: excluded[column.name]
            for column in registrations.columns if not column.primary_key}


def _row(registration: Registration) -> dict[str, Any]:
    return {
        "aor": registration.aor,
        "contact": registration.contact,
        "expires_at": registration.expires_at,
        "call_id": registration.call_id,
        "cseq": registration.cseq,
        "q": registration.q,
        "instance_id": registration.instance_id,
        "reg_id": registration.reg_id,
        "path": list(registration.path),
        "received_transport": registration.received.transport,
        "received_host": registration.received.host,
        "received_port": registration.received.port,
        "user_agent": registration.user_agent,
        "updated_at": registration.updated_at,
    }


def _registration(row: Any) -> Registration:
    return Registration(
        aor=row["aor"],
        contact=row["contact"],
        expires_at=float(row["expires_at"]),
        call_id=row["call_id"],
        cseq=int(row["cseq"]),
        received=Received(row["received_transport"], row["received_host"],
                          int(row["received_port"])),
        updated_at=float(row["updated_at"]),
        q=None if row["q"] is None else float(row["q"]),
        instance_id=row["instance_id"],
        reg_id=None if row["reg_id"] is None else int(row["reg_id"]),
        path=tuple(row["path"]),
        user_agent=row["user_agent"],
    )


def _describe(error: BaseException) -> str:
    """What went wrong, in the database's own words where it has some."""
    original = getattr(error, "orig", None)  # the driver's error inside SQLAlchemy's
    if original is not None:
        error = original
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


# Oldest first; the key's other columns make the order of one instant stable.
_HISTORY_ORDER = (call_history.c.started, call_history.c.call_id, call_history.c.line)


def _history_filters(lines: Collection[str] | None, delegators: Collection[str] | None,
                     since: float | None) -> list[ColumnElement[bool]]:
    """Only calls on ``lines``, on the lines of ``delegators``, started at ``since``
    or later, as far as each is given."""
    columns = call_history.c
    filters: list[ColumnElement[bool]] = []
    if lines is not None:
        filters.append(columns.line.in_(list(lines)))
    if delegators is not None:
        filters.append(columns.delegator.in_(list(delegators)))
    if since is not None:
        filters.append(columns.started >= since)
    return filters
