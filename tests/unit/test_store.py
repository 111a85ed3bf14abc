"""The store against real databases: every test runs on a SQLite file and on the
PostgreSQL server named by ``VIPPROXY_TEST_POSTGRES_URL`` (``tools/test`` starts one;
the database is wiped before each test). Without the variable the PostgreSQL runs
are skipped on a developer's machine and fail under CI."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from postgres_server import postgres_url, wipe_postgres
from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from proxy.config.loader import parse_config
from proxy.store import (
    CallHistory,
    HistoryOrder,
    Received,
    Registration,
    Store,
    StoreError,
    open_store,
)
from proxy.store.database import parse_url
from proxy.store.pending import Delete, PendingWrites
from proxy.store.schema import metadata

NOW = 1_700_000_000.0
# Long enough that nothing is written in the background during a test that wants
# to see what flush() and close() do.
NEVER = 3600.0
# The newest migration: a restart finds the schema there and migrates nothing.
HEAD = "0004"


@pytest.fixture(params=["sqlite", "postgresql"])
async def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each kind."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'state' / 'vipproxy.db'}"
    postgres = postgres_url("the store's tests")
    await wipe_postgres(postgres)
    return postgres


@pytest.fixture
async def store(url: str) -> AsyncIterator[Store]:
    """An open store that writes only when told (flush, close)."""
    opened = await open_store(url, flush_interval=NEVER)
    yield opened
    await opened.close()


def registration(contact: str = "sip:alice@192.0.2.10:5060", *, aor: str = "sip:alice@example.com",
                 expires_at: float = NOW + 3600, cseq: int = 1, **fields: Any) -> Registration:
    return Registration(aor=aor, contact=contact, expires_at=expires_at, call_id="reg-1",
                        cseq=cseq, received=Received("UDP", "192.0.2.10", 5060),
                        updated_at=NOW, **fields)


async def _schema(url: str) -> tuple[set[str], list[str]]:
    """The tables of the database at ``url`` and the rows of alembic_version."""
    engine = create_async_engine(parse_url(url))
    try:
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
            versions = list((await connection.execute(
                text("SELECT version_num FROM alembic_version"))).scalars())
    finally:
        await engine.dispose()
    return tables, versions


# -- migrations ------------------------------------------------------------------------


async def test_migrations_create_the_schema_and_are_idempotent(url: str) -> None:
    first = await open_store(url)
    await first.close()
    tables, versions = await _schema(url)
    assert {"secrets", "registrations", "call_history", "alembic_version"} <= tables
    assert versions == [HEAD]

    again = await open_store(url)  # a restart: nothing to migrate, nothing lost
    await again.close()
    assert await _schema(url) == (tables, versions)


async def test_migrations_make_what_the_queries_expect(url: str) -> None:
    """schema.py (what the store queries) and the migrations (what the database
    has) describe the same tables: a change to one without the other fails here."""
    await (await open_store(url)).close()
    engine = create_async_engine(parse_url(url))

    def differences(connection: Connection) -> list[Any]:
        return list(compare_metadata(MigrationContext.configure(connection), metadata))

    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(differences) == []
    finally:
        await engine.dispose()


async def test_a_sqlite_store_is_made_with_its_directory(tmp_path: Path) -> None:
    path = tmp_path / "new" / "deeper" / "vipproxy.db"
    store = await open_store(f"sqlite:///{path}")  # a plain scheme means aiosqlite
    await store.close()
    assert path.is_file()


# -- the secret --------------------------------------------------------------------------


async def test_a_secret_is_made_once_and_kept_across_a_restart(url: str) -> None:
    made: list[bytes] = []

    def make() -> bytes:
        made.append(os.urandom(32))
        return made[-1]

    first = await open_store(url)
    secret = await first.secret("route-token", make)
    assert await first.secret("route-token", make) == secret
    await first.close()
    second = await open_store(url)
    assert await second.secret("route-token", make) == secret
    assert await second.secret("another", make) != secret
    await second.close()
    assert len(made) == 2


async def test_proxies_starting_at_once_get_the_same_secret(url: str) -> None:
    """The switch to WAL, the migrations and the secret's get-or-create race on an
    empty database; every proxy starts, and all end with one schema and one secret."""

    async def start(value: bytes) -> tuple[Store, bytes]:
        store = await open_store(url)
        return store, await store.secret("route-token", lambda: value)

    started = await asyncio.gather(*(start(bytes([n]) * 32) for n in range(6)))
    secrets = {secret for _, secret in started}
    for store, _ in started:
        await store.close()
    assert len(secrets) == 1
    assert (await _schema(url))[1] == [HEAD]


# -- registrations -------------------------------------------------------------------------


async def test_registrations_survive_a_restart_with_every_field(url: str) -> None:
    full = registration(q=0.7, instance_id="<urn:uuid:00000000-0000-1000-8000-000a95a0e128>",
                        reg_id=1, path=("<sip:edge1.example.com;lr>", "<sip:edge2;lr>"),
                        user_agent="Phone/1.0")
    bare = registration("sip:alice@[2001:db8::1]:5070")
    store = await open_store(url, flush_interval=NEVER)
    assert store.save_registration(full) and store.save_registration(bare)
    await store.close()

    reopened = await open_store(url)
    loaded = await reopened.load_registrations(NOW)
    await reopened.close()
    assert sorted(loaded, key=lambda r: r.contact) == sorted([full, bare], key=lambda r: r.contact)


async def test_saves_are_written_behind_and_visible_after_flush(store: Store) -> None:
    assert store.save_registration(registration(cseq=1))
    assert await store.load_registrations(NOW) == []  # only queued: write-behind
    assert store.waiting == 1
    await store.flush()
    assert await store.load_registrations(NOW) == [registration(cseq=1)]

    store.save_registration(registration(cseq=2))  # a refresh replaces the binding
    store.save_registration(registration("sip:alice@192.0.2.11"))
    await store.flush()
    assert await store.load_registrations(NOW) == [registration(cseq=2),
                                                   registration("sip:alice@192.0.2.11")]

    assert store.delete_registration("sip:alice@example.com", "sip:alice@192.0.2.10:5060")
    await store.flush()
    assert await store.load_registrations(NOW) == [registration("sip:alice@192.0.2.11")]
    assert (store.stats.queued, store.stats.written, store.stats.dropped) == (4, 4, 0)


async def test_the_last_operation_on_a_binding_wins_within_a_batch(store: Store) -> None:
    store.save_registration(registration(cseq=1))
    store.delete_registration("sip:alice@example.com", "sip:alice@192.0.2.10:5060")
    store.save_registration(registration("sip:alice@192.0.2.11"))
    store.delete_registration("sip:alice@example.com", "sip:alice@192.0.2.11")
    store.save_registration(registration("sip:alice@192.0.2.11", cseq=9))
    assert store.waiting == 2
    await store.flush()
    assert await store.load_registrations(NOW) == [registration("sip:alice@192.0.2.11", cseq=9)]


async def test_close_writes_what_is_queued(url: str) -> None:
    store = await open_store(url, flush_interval=NEVER)
    store.save_registration(registration())
    await store.close()
    assert not store.save_registration(registration("sip:late@192.0.2.12"))  # closed: dropped

    reopened = await open_store(url)
    assert await reopened.load_registrations(NOW) == [registration()]
    await reopened.close()


async def test_the_background_writer_writes_without_being_asked(url: str) -> None:
    store = await open_store(url, flush_interval=0.02)
    try:
        store.save_registration(registration())
        for _ in range(250):  # bounded: 5 s at most on a loaded machine
            if store.stats.written:
                break
            await asyncio.sleep(0.02)
        assert store.stats.written == 1 and store.stats.batches == 1
        assert await store.load_registrations(NOW) == [registration()]
    finally:
        await store.close()


async def test_a_full_queue_drops_new_bindings_and_counts_them(url: str) -> None:
    store = await open_store(url, flush_interval=NEVER, queue_limit=2)
    try:
        assert store.save_registration(registration("sip:a@192.0.2.1"))
        assert store.save_registration(registration("sip:b@192.0.2.2"))
        assert not store.save_registration(registration("sip:c@192.0.2.3"))
        assert not store.delete_registration("sip:alice@example.com", "sip:d@192.0.2.4")
        # A binding already waiting is replaced in place: no room needed.
        assert store.save_registration(registration("sip:a@192.0.2.1", cseq=2))
        assert (store.stats.dropped, store.waiting) == (2, 2)
        await store.flush()
        assert store.save_registration(registration("sip:c@192.0.2.3"))  # room again
        await store.flush()
        loaded = await store.load_registrations(NOW)
        assert [r.contact for r in loaded] == ["sip:a@192.0.2.1", "sip:b@192.0.2.2",
                                               "sip:c@192.0.2.3"]
        assert loaded[0].cseq == 2
    finally:
        await store.close()


async def test_expired_registrations_are_not_loaded(store: Store) -> None:
    store.save_registration(registration("sip:old@192.0.2.1", expires_at=NOW - 1))
    store.save_registration(registration("sip:now@192.0.2.2", expires_at=NOW))
    store.save_registration(registration("sip:live@192.0.2.3", expires_at=NOW + 1))
    await store.flush()
    assert [r.contact for r in await store.load_registrations(NOW)] == ["sip:live@192.0.2.3"]


# -- the call history ------------------------------------------------------------------------


def call(call_id: str = "call-1", *, line: str = "+14155550100", delegator: str = "alice",
         started: float = NOW, **fields: Any) -> CallHistory:
    """A call bob answered on alice's line, talked for 30 s, hung up by the caller."""
    values: dict[str, Any] = {
        "direction": "incoming", "caller": "+14155550123", "caller_source": "from",
        "callee": line, "vip": None, "policy": "ring_me_then_delegates",
        "stages": "alice (20s) > bob (20s)", "reason": "other caller", "rung": "alice, bob",
        "answered_by": "bob", "answered_phone": "sip:bob@192.0.2.20:5060", "made_by": None,
        "outcome": "answered", "status": 200, "answered": started + 25.0,
        "ended": started + 55.0, "duration": 30.0, "hung_up_by": "+14155550123",
        "end_reason": "bye", **fields}
    return CallHistory(call_id=call_id, line=line, delegator=delegator, started=started,
                       **values)


class RecordingLog:
    """Stands in for the structlog logger: keeps each warning as (event, fields)."""

    def __init__(self) -> None:
        self.warnings: list[tuple[str, dict[str, Any]]] = []

    def warning(self, event: str, **fields: Any) -> None:
        self.warnings.append((event, fields))


async def test_calls_survive_a_restart_with_every_field(url: str) -> None:
    full = call(vip="Carol Ng (Acme) <carol@acme.example>", caller_source="p-asserted-identity")
    missed = call("call-2", started=NOW + 60, caller=None, callee=None, policy=None,
                  stages=None, reason=None, rung=None, answered_by=None, answered_phone=None,
                  outcome="missed", status=408, answered=None, duration=0.0, hung_up_by=None,
                  end_reason="rejected")
    placed = call("call-3", line="1001", delegator="bob", started=NOW + 120,
                  direction="outgoing", made_by="bob", answered_by=None)
    store = await open_store(url, flush_interval=NEVER)
    assert all(store.add_call(record) for record in (placed, full, missed))
    assert await store.call_history() == []  # only queued: write-behind
    await store.close()

    reopened = await open_store(url)
    assert await reopened.call_history() == [full, missed, placed]  # oldest first
    await reopened.close()


async def test_call_history_by_line_by_delegator_and_since(store: Store) -> None:
    on_alice = [call("a1", started=NOW), call("a2", line="1000", started=NOW + 10)]
    on_bob = [call("b1", line="1001", delegator="bob", started=NOW + 5)]
    for record in (*on_alice, *on_bob):
        store.add_call(record)
    await store.flush()

    assert await store.call_history(lines=["1000"]) == [on_alice[1]]
    assert await store.call_history(delegators=["alice"]) == on_alice
    assert await store.call_history(delegators=["alice", "bob"]) == [on_alice[0], on_bob[0],
                                                                     on_alice[1]]
    assert await store.call_history(since=NOW + 5) == [on_bob[0], on_alice[1]]
    assert await store.call_history(lines=["1001"], delegators=["alice"]) == []
    assert await store.call_history(delegators=[]) == []


async def test_a_call_between_two_lines_is_one_row_per_line_and_written_once(
    store: Store,
) -> None:
    received = call()
    placed = replace(received, line="1001", delegator="bob", direction="outgoing",
                     made_by="bob")
    store.add_call(received)
    store.add_call(placed)
    await store.flush()
    # The same record again (a batch whose commit was lost on the way back and is
    # retried) adds nothing: the history keeps each call on each line once.
    store.add_call(received)
    await store.flush()
    assert await store.call_history() == [received, placed]


async def test_the_purge_deletes_the_calls_started_before_the_retention(store: Store) -> None:
    old, kept = call("old", started=NOW - 91 * 86400), call("kept", started=NOW - 89 * 86400)
    store.add_call(old)
    store.add_call(kept)
    await store.flush()
    assert await store.purge_calls(NOW - 90 * 86400) == 1
    assert await store.call_history() == [kept]
    assert await store.purge_calls(NOW - 90 * 86400) == 0


async def test_a_full_queue_drops_call_records_counts_them_and_logs_once_a_minute(
    url: str,
) -> None:
    log = RecordingLog()
    store = await open_store(url, flush_interval=0.02, queue_limit=1, log=cast(Any, log))
    try:
        for n in range(1, 6):  # each round: one record waits, the next finds the queue full
            assert store.add_call(call(f"kept-{n}"))
            assert not store.add_call(call(f"dropped-{n}"))
            for _ in range(250):  # bounded: 5 s at most on a loaded machine
                if store.stats.written == n:
                    break
                await asyncio.sleep(0.02)
            assert store.stats.written == n
    finally:
        await store.close()
    assert (store.stats.dropped, store.stats.calls_dropped) == (5, 5)
    # Logged when it started dropping; the drops of the same minute at the close.
    assert [(event, fields["dropped"], fields["calls_dropped_total"])
            for event, fields in log.warnings] == [("store.queue_full", 1, 1),
                                                    ("store.queue_full", 4, 5)]


# -- errors -----------------------------------------------------------------------------------


async def test_an_unreachable_database_is_an_error_naming_it_without_its_password(
    unused_tcp_port: int,
) -> None:
    url = f"postgresql://vipproxy:s3cret@127.0.0.1:{unused_tcp_port}/vipproxy"
    with pytest.raises(StoreError) as raised:
        await open_store(url)
    message = str(raised.value)
    assert "s3cret" not in message
    assert f"postgresql://vipproxy:***@127.0.0.1:{unused_tcp_port}/vipproxy" in message
    assert "cannot open" in message


@pytest.mark.parametrize(("url", "problem"), [
    ("mysql://root:pw@localhost/db", "unsupported database 'mysql'"),
    ("not a url", "not a database URL"),
    ("sqlite+aiosqlite://", "SQLite needs a file"),
])
async def test_a_url_the_store_cannot_use_is_an_error(url: str, problem: str) -> None:
    with pytest.raises(StoreError, match=problem) as raised:
        await open_store(url)
    assert "pw" not in str(raised.value)


async def test_a_sqlite_file_that_cannot_be_made_is_an_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError, match="cannot make the directory"):
        await open_store(f"sqlite:///{blocker / 'vipproxy.db'}")


async def test_a_database_from_a_newer_vipproxy_is_an_error(url: str) -> None:
    await (await open_store(url)).close()
    engine = create_async_engine(parse_url(url))
    async with engine.begin() as connection:
        await connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    await engine.dispose()
    with pytest.raises(StoreError, match="newer vipproxy"):
        await open_store(url)


# -- the buffer and the config ------------------------------------------------------------


def test_a_batch_that_failed_goes_back_under_newer_operations() -> None:
    pending = PendingWrites(limit=3)
    pending.add(registration("sip:a@192.0.2.1", cseq=1))
    pending.add(registration("sip:b@192.0.2.2"))
    batch = pending.take()
    pending.add(Delete("sip:alice@example.com", "sip:a@192.0.2.1"))  # newer than the batch
    pending.add(registration("sip:c@192.0.2.3"))
    pending.add(registration("sip:d@192.0.2.4"))
    # Four bindings, room for three: the newest one queued is the one dropped.
    assert pending.put_back(batch) == [registration("sip:d@192.0.2.4")]
    assert pending.take() == [Delete("sip:alice@example.com", "sip:a@192.0.2.1"),
                              registration("sip:b@192.0.2.2"),
                              registration("sip:c@192.0.2.3")]


def test_the_store_url_defaults_to_a_sqlite_file_in_state_dir() -> None:
    listen = "listen: [{host: 127.0.0.1}]\n"
    assert parse_config(listen + "state_dir: /var/lib/vipproxy\n").database_url == (
        "sqlite+aiosqlite:////var/lib/vipproxy/vipproxy.db")
    configured = parse_config(listen + "store: {url: 'postgresql+asyncpg://u:p@db/vipproxy'}\n")
    assert configured.database_url == "postgresql+asyncpg://u:p@db/vipproxy"


# -- delegations -----------------------------------------------------------------------


async def test_a_delegators_settings_are_replaced_whole_and_kept_across_a_restart(
    url: str,
) -> None:
    first = await open_store(url)
    await first.save_delegation_settings("alice", {"delegates": {"bob": {
        "privileges": ["answer_calls"], "status": "pending"}}})
    settings = {"delegates": {"bob": {"privileges": ["answer_calls"], "status": "accepted"}},
                "vip_contacts": [{"first_name": "Carol", "numbers": ["+14155550199"]}]}
    await first.save_delegation_settings("alice", settings)
    await first.close()
    reopened = await open_store(url)
    try:
        assert await reopened.delegation_settings() == {"alice": settings}
    finally:
        await reopened.close()


async def test_a_history_page_is_read_from_the_database_with_the_total(store: Store) -> None:
    for index in range(5):
        store.add_call(call(f"call-{index}", started=NOW + index))
    await store.flush()
    total, rows = await store.call_history_page(offset=1, limit=2)
    assert total == 5
    assert [row.call_id for row in rows] == ["call-1", "call-2"]
    assert await store.call_history_page(lines=["nobody"], limit=2) == (0, [])


async def test_a_history_page_newest_first_pages_back_from_the_last_call(store: Store) -> None:
    for index in range(5):
        store.add_call(call(f"call-{index}", started=NOW + index))
    # Two rows of one call at one instant (a call between two users' lines).
    store.add_call(call("call-5", started=NOW + 5, line="1001", delegator="bob"))
    store.add_call(call("call-5", started=NOW + 5))
    await store.flush()
    total, first = await store.call_history_page(limit=3, order=HistoryOrder.NEWEST_FIRST)
    assert total == 7
    assert [(row.call_id, row.line) for row in first] == [
        ("call-5", "1001"), ("call-5", "+14155550100"), ("call-4", "+14155550100")]
    _, second = await store.call_history_page(offset=3, limit=3,
                                              order=HistoryOrder.NEWEST_FIRST)
    assert [row.call_id for row in second] == ["call-3", "call-2", "call-1"]
    _, oldest = await store.call_history_page(limit=1)  # the default is unchanged
    assert [row.call_id for row in oldest] == ["call-0"]


async def test_a_history_page_keeps_only_the_outcomes_asked_for(store: Store) -> None:
    store.add_call(call("answered"))
    store.add_call(call("missed", started=NOW + 1, outcome="missed", answered_by=None))
    store.add_call(call("busy", started=NOW + 2, outcome="busy", answered_by=None))
    await store.flush()
    total, rows = await store.call_history_page(outcomes=["missed", "busy"], limit=10)
    assert total == 2
    assert [row.call_id for row in rows] == ["missed", "busy"]
