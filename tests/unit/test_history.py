"""The shared call history outside the store: the record a finished call leaves
becomes the store's row with the very fields of its ``call.ended`` log line, and
``vipproxy history`` shows the rows a user may see, as a table or JSON lines."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import pytest

from proxy.cli import main
from proxy.dialog import CallDirection, CallRecord, Outcome
from proxy.history.recorder import history_writer, keep_history_trimmed, stored
from proxy.history.view import history_table, json_lines, since_time
from proxy.store import open_store

STARTED = datetime(2025, 5, 1, 9, 30, 5, tzinfo=UTC).timestamp()


def record(**changes: object) -> CallRecord:
    """Bob answered a VIP's call on alice's line, talked 75 s, the caller hung up."""
    values: dict[str, object] = {
        "call_id": "call-1", "line": "+14155550100", "delegator": "alice",
        "direction": CallDirection.INCOMING, "caller": "+14155550199",
        "caller_source": "from", "callee": "+14155550100", "vip": "Carol Ng",
        "policy": "ring_me_then_delegates", "stages": "sip:alice@192.0.2.10/1s > "
        "sip:bob@192.0.2.11/1s", "reason": "vip_callers policy for a VIP contact",
        "rung": ("alice", "bob"), "answered_by": "bob",
        "answered_phone": "sip:bob@192.0.2.11:5060", "made_by": None,
        "outcome": Outcome.ANSWERED, "status": 200, "started": STARTED,
        "answered": STARTED + 2.0, "ended": STARTED + 77.0, "hung_up_by": "+14155550199",
        "end_reason": "bye", **changes}
    return CallRecord(**values)  # type: ignore[arg-type]


ANSWERED = record()
CANCELLED = record(call_id="call-2", started=STARTED + 3600, vip=None, policy="ring_all",
                   rung=("alice", "bob"), answered_by=None, answered_phone=None,
                   outcome=Outcome.CANCELLED, status=487, answered=None,
                   ended=STARTED + 3605, hung_up_by=None, end_reason="cancelled")
PLACED = record(call_id="call-3", line="1001", delegator="bob", started=STARTED + 7200,
                direction=CallDirection.OUTGOING, caller="1001", callee="+14155550123",
                vip=None, policy=None, stages=None, reason=None, rung=("sip:+14155550123@pbx",),
                answered_by=None, answered_phone=None, made_by="bob", outcome=Outcome.FAILED,
                status=503, answered=None, ended=STARTED + 7201, hung_up_by=None,
                end_reason="rejected")


def test_the_stored_row_has_the_fields_of_the_call_ended_log_line() -> None:
    for finished in (ANSWERED, CANCELLED, PLACED):
        assert asdict(stored(finished)) == finished.fields()
    assert stored(ANSWERED).rung == "alice, bob" and stored(ANSWERED).duration == 75.0


def cells(table: str) -> list[list[str]]:
    """The table's lines cut where the header's columns start: a cell out of line
    with its title would be cut apart."""
    lines = table.splitlines()
    starts = [match.start() for match in re.finditer(r"(?:^|(?<=  ))\S", lines[0])]
    return [[line[start:end].strip() for start, end in itertools.pairwise([*starts, None])]
            for line in lines]


def test_the_table_shows_who_took_each_call_and_why_it_rang_whom() -> None:
    rows = [stored(finished) for finished in (ANSWERED, CANCELLED, PLACED)]
    assert cells(history_table(rows, UTC)) == [
        ["STARTED", "LINE", "DIRECTION", "CALLER", "CALLEE", "OUTCOME", "ANSWERED BY",
         "MADE BY", "TALKED", "HUNG UP BY", "VIP", "POLICY", "RUNG"],
        ["2025-05-01 09:30:05", "+14155550100", "incoming", "+14155550199", "+14155550100",
         "answered", "bob", "-", "1:15", "+14155550199", "Carol Ng", "ring_me_then_delegates",
         "alice, bob"],
        ["2025-05-01 10:30:05", "+14155550100", "incoming", "+14155550199", "+14155550100",
         "cancelled", "-", "-", "-", "-", "-", "ring_all", "alice, bob"],
        ["2025-05-01 11:30:05", "1001", "outgoing", "1001", "+14155550123", "failed 503", "-",
         "bob", "-", "-", "-", "-", "sip:+14155550123@pbx"],
    ]
    assert history_table([], UTC) == "no calls"


def test_json_lines_are_the_rows_fields() -> None:
    rows = [stored(finished) for finished in (ANSWERED, PLACED)]
    assert [json.loads(line) for line in json_lines(rows).splitlines()] == [
        ANSWERED.fields(), PLACED.fields()]


@pytest.mark.parametrize(("text", "expected"), [
    ("2h", 1_000_000.0 - 7200), ("7d", 1_000_000.0 - 7 * 86400), ("30m", 1_000_000.0 - 1800),
    ("2025-05-01T09:30:05Z", STARTED), ("2025-05-01 11:30:05+02:00", STARTED),
    ("2025-05-01", datetime(2025, 5, 1).timestamp()),  # naive: local time
])
def test_since_is_an_iso_time_or_a_time_ago(text: str, expected: float) -> None:
    assert since_time(text, now=1_000_000.0) == expected


def test_since_that_is_no_time_says_what_is_allowed() -> None:
    with pytest.raises(ValueError, match="'yesterday' is not a time; allowed: an ISO date"):
        since_time("yesterday", now=1_000_000.0)


class RecordingLog:
    """Stands in for the structlog logger: keeps each line as (event, fields)."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, dict[str, object]]] = []

    def info(self, event: str, **fields: object) -> None:
        self.lines.append((event, fields))

    warning = info


async def test_finished_calls_are_queued_and_old_ones_purged_at_start(tmp_path: Path) -> None:
    store = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'vipproxy.db'}", flush_interval=3600)
    log = RecordingLog()
    now = time.time()
    old, recent = record(call_id="old", started=now - 31 * 86400), record(started=now - 60)
    try:
        write = history_writer(store)
        write(old)
        write(recent)
        assert store.waiting == 2  # queued, nothing awaited
        await store.flush()
        purging = asyncio.create_task(keep_history_trimmed(store, 30 * 86400, log))
        for _ in range(250):  # bounded: 5 s at most on a loaded machine
            if log.lines:
                break
            await asyncio.sleep(0.02)
        purging.cancel()
        assert await store.call_history() == [stored(recent)]
    finally:
        await store.close()
    assert log.lines == [("history.purged", {"calls": 1, "retention_days": 30.0})]


# --- vipproxy history ---------------------------------------------------------------------


CONFIG = """\
listen: [{host: 127.0.0.1}]
state_dir: STATE
numbering: {default_country_code: "1"}
users:
  alice: {lines: ["+14155550100"], endpoints: ["sip:alice@127.0.0.10"]}
  bob: {lines: ["1001"], endpoints: ["sip:bob@127.0.0.11"]}
  carl: {lines: ["1002"], endpoints: ["sip:carl@127.0.0.12"]}
delegations:
  alice:
    delegates:
      bob: {privileges: [answer_calls], status: accepted}
      carl: {privileges: [answer_calls], status: pending}
    vip_delegation: {enabled: false}
"""


@pytest.fixture
def config(tmp_path: Path) -> str:
    """A configuration whose store holds the three calls."""
    path = tmp_path / "vipproxy.yaml"
    path.write_text(CONFIG.replace("STATE", str(tmp_path / "state")))

    async def write() -> None:
        store = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'state' / 'vipproxy.db'}")
        for finished in (PLACED, ANSWERED, CANCELLED):
            store.add_call(stored(finished))
        await store.close()

    asyncio.run(write())
    return str(path)


def history(capsys: pytest.CaptureFixture[str], config: str, *options: str) -> list[str]:
    """The call ids ``vipproxy history --json`` prints."""
    assert main(["history", "--config", config, "--json", *options]) == 0
    return [json.loads(line)["call_id"] for line in capsys.readouterr().out.splitlines()]


def test_history_by_user_line_and_time(capsys: pytest.CaptureFixture[str], config: str) -> None:
    assert history(capsys, config) == ["call-1", "call-2", "call-3"]
    # Bob is alice's accepted delegate: her calls and his own; carl only his own (none).
    assert history(capsys, config, "--user", "bob") == ["call-1", "call-2", "call-3"]
    assert history(capsys, config, "--user", "alice") == ["call-1", "call-2"]
    assert history(capsys, config, "--user", "carl") == []
    assert history(capsys, config, "--line", "(415) 555-0100") == ["call-1", "call-2"]
    assert history(capsys, config, "--line", "1001", "--user", "alice") == []
    assert history(capsys, config, "--since", "2025-05-01T10:00:00Z") == ["call-2", "call-3"]


def test_history_prints_a_table(capsys: pytest.CaptureFixture[str], config: str) -> None:
    assert main(["history", "--config", config, "--user", "alice"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].startswith("STARTED") and len(table) == 3, table
    assert "ring_me_then_delegates" in table[1] and "cancelled" in table[2], table


def test_history_refuses_an_unknown_user_and_a_time_it_cannot_read(
    capsys: pytest.CaptureFixture[str], config: str,
) -> None:
    assert main(["history", "--config", config, "--user", "zoe"]) == 2
    assert "'zoe' is not a user; users: alice, bob, carl" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        main(["history", "--config", config, "--since", "last week"])
    assert exited.value.code == 2
    assert "argument --since: 'last week' is not a time" in capsys.readouterr().err
