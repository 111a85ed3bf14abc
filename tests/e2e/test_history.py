"""The shared call history end to end: the real vipproxy between SIPp peers, and
``vipproxy history`` reading what it wrote.

Alice (line 1000) rings first, then Bob, her accepted assistant, then the shared
mailbox (``ring_me_then_delegates``, one second a stage). Four calls end four ways:
Alice answers, Bob answers, nobody does and the mailbox takes it, the caller hangs
up while it rings. Each leaves a row with the fields of its ``call.ended`` log line,
the rows survive a restart (SQLite, and PostgreSQL when ``VIPPROXY_TEST_POSTGRES_URL``
is set, as ``tools/test`` sets it), the restart purges a row past the retention, and
a call hung up during the SIGTERM drain is in the history after the exit.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from postgres_server import postgres_url, wipe_postgres

from proxy.store import CallHistory, open_store

from .conftest import StartProxy
from .delegation_support import LINE, office, vipproxy_cli
from .loopback import Endpoint, LoopbackAllocator, wait_until
from .proxy_process import ProxyProcess
from .sipp import SippLauncher, SippProcess, assert_all_passed
from .test_delegation import OTHER_CALLER, VIP_CALLER

pytestmark = pytest.mark.e2e

# The structlog fields of every line that are not the call's.
_LOG_ONLY = ("event", "level", "timestamp")
RETENTION_DAYS = 1


def database(kind: str, tmp_path: Path) -> tuple[dict[str, Any], str]:
    """The config keys that put the store of every proxy of the test in one place,
    and that store's URL."""
    if kind == "sqlite":
        state = tmp_path / "state"
        return {"state_dir": str(state)}, f"sqlite+aiosqlite:///{state / 'vipproxy.db'}"
    url = postgres_url("the call history's end-to-end test")
    asyncio.run(wipe_postgres(url))
    return {"store": {"url": url}}, url


def history(proxy: ProxyProcess, *options: str) -> list[dict[str, Any]]:
    """What ``vipproxy history --json`` prints for the proxy's configuration."""
    printed = vipproxy_cli("history", "--config", str(proxy.config_path), "--json", *options)
    assert printed.returncode == 0, printed.stderr
    return [json.loads(line) for line in printed.stdout.splitlines()]


def logged_calls(proxy: ProxyProcess) -> list[dict[str, Any]]:
    """The fields of every ``call.ended`` line the proxy logged, oldest first."""
    return [{key: value for key, value in event.items() if key not in _LOG_ONLY}
            for event in proxy.events("call.ended")]


class Office:
    """Alice's, Bob's and the mailbox's phones: fixed addresses in the directory, a
    SIPp callee started there for each call as the call needs it."""

    def __init__(self, sipp: SippLauncher, loopback: LoopbackAllocator) -> None:
        self.sipp = sipp
        self.endpoints: dict[str, Endpoint] = {name: loopback.endpoint()
                                               for name in ("alice", "bob", "vm")}

    def directory(self, store: Mapping[str, Any]) -> dict[str, Any]:
        return {
            **office({user: self.endpoints[user].sip_uri(user) for user in ("alice", "bob")},
                     vip_callers="ring_me_then_delegates",
                     other_callers="ring_me_then_delegates",
                     voicemail=self.endpoints["vm"].sip_uri("vm-alice")),
            "history": {"retention": f"{RETENTION_DAYS}d"},
            **store,
        }

    def phones(self, scenarios: Mapping[str, str]) -> list[SippProcess]:
        """A callee per name, playing its scenario at its fixed address."""
        return [self.sipp.uas(f"{name}-{len(self.sipp.processes)}", scenario,
                              local=self.endpoints[name])
                for name, scenario in scenarios.items()]

    def call(self, proxy: ProxyProcess, scenarios: Mapping[str, str], caller: str,
             scenario: str = "uac_call.xml", pause_ms: int = 0) -> None:
        """One call to Alice's line, answered or not as ``scenarios`` say; every SIPp
        process must play its part."""
        phones = self.phones(scenarios)
        dialing = self.sipp.uac(f"caller-{len(self.sipp.processes)}", scenario,
                                remote=proxy.endpoint, service=LINE, keys={"caller": caller},
                                pause_ms=pause_ms)
        assert_all_passed(*self.sipp.finish(dialing, *phones))


def an_old_call(started: float) -> CallHistory:
    return CallHistory(
        call_id="old-call", line=LINE, delegator="alice", direction="incoming",
        caller="+14155550123", caller_source="from", callee=LINE, vip=None, policy=None,
        stages=None, reason=None, rung="alice", answered_by=None, answered_phone=None,
        made_by=None, outcome="missed", status=408, started=started, answered=None,
        ended=started + 1, duration=0.0, hung_up_by=None, end_reason="rejected")


async def _add_directly(url: str, record: CallHistory) -> None:
    store = await open_store(url)
    store.add_call(record)
    await store.close()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_four_ways_a_call_ends_are_in_the_history_after_a_restart(
    vipproxy: StartProxy, sipp: SippLauncher, loopback: LoopbackAllocator, tmp_path: Path,
    kind: str,
) -> None:
    phones = Office(sipp, loopback)
    store, url = database(kind, tmp_path)
    directory = phones.directory(store)
    proxy = vipproxy({}, directory)

    phones.call(proxy, {"alice": "uas_answer.xml"}, VIP_CALLER)
    phones.call(proxy, {"alice": "uas_ring_until_cancel.xml", "bob": "uas_answer.xml"},
                OTHER_CALLER)
    phones.call(proxy, {"alice": "uas_ring_until_cancel.xml",
                        "bob": "uas_ring_until_cancel.xml", "vm": "uas_answer.xml"},
                OTHER_CALLER)
    # The caller gives up 300 ms after Alice's phone rings, before Bob's stage.
    phones.call(proxy, {"alice": "uas_ring_until_cancel.xml"}, OTHER_CALLER,
                scenario="uac_cancel.xml", pause_ms=300)
    assert wait_until(lambda: len(proxy.events("call.ended")) == 4, 5.0), proxy.events(
        "call.ended")
    assert proxy.stop() == 0, proxy.stderr()
    logged = logged_calls(proxy)

    # A row older than the retention, as if written long ago: the restart purges it.
    old = an_old_call(time.time() - (RETENTION_DAYS + 1) * 86400)
    asyncio.run(_add_directly(url, old))
    restarted = vipproxy({}, directory)
    assert wait_until(lambda: bool(restarted.events("history.purged")), 5.0), (
        restarted.stderr())
    assert restarted.stop() == 0, restarted.stderr()

    rows = history(restarted)
    assert rows == logged, "the history and the call.ended log lines differ"
    alice, bob, mailbox, cancelled = rows
    assert [(row["outcome"], row["answered_by"], row["rung"]) for row in rows] == [
        ("answered", "alice", "alice"),
        ("answered", "bob", "alice, bob"),
        ("voicemail", "voicemail", "alice, bob, voicemail"),
        ("cancelled", None, "alice"),
    ]
    for row in rows:
        assert (row["line"], row["delegator"], row["direction"]) == (LINE, "alice", "incoming")
        assert (row["policy"], row["caller_source"], row["made_by"]) == (
            "ring_me_then_delegates", "from", None)
        assert row["started"] <= row["ended"], row
    assert (alice["vip"], alice["caller"]) == ("Carol Ng", "+14155550199"), alice
    assert bob["vip"] is None and bob["caller"] == "+14155550123", bob
    for answered, phone in ((alice, "alice"), (bob, "bob"), (mailbox, "vm")):
        assert str(phones.endpoints[phone]) in answered["answered_phone"], answered
        assert answered["started"] < answered["answered"] < answered["ended"], answered
        assert answered["duration"] == pytest.approx(answered["ended"] - answered["answered"],
                                                     abs=0.002)
        assert (answered["status"], answered["end_reason"]) == (200, "bye"), answered
        assert answered["hung_up_by"] == answered["caller"], answered  # the caller's BYE
    assert (cancelled["status"], cancelled["end_reason"], cancelled["hung_up_by"],
            cancelled["answered"], cancelled["duration"]) == (487, "cancelled", None, None, 0.0)

    # Shared: Bob, her accepted delegate, sees Alice's calls; the table says the same.
    assert history(restarted, "--user", "bob") == rows
    assert history(restarted, "--user", "alice", "--line", "1001") == []
    table = vipproxy_cli("history", "--config", str(restarted.config_path), "--user", "bob")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert len(lines) == 5 and lines[0].startswith("STARTED"), table.stdout
    assert all("ring_me_then_delegates" in line for line in lines[1:]), table.stdout


def test_a_call_hung_up_during_the_drain_is_in_the_history_after_the_exit(
    vipproxy: StartProxy, sipp: SippLauncher, loopback: LoopbackAllocator, tmp_path: Path,
) -> None:
    phones = Office(sipp, loopback)
    ringing = sipp.uas("ringing", "uas_ring_until_cancel.xml")
    # A call that rings on a static route keeps the drain going for the whole grace, so
    # the BYE that comes a second after SIGTERM still finds the proxy there.
    directory = {**phones.directory(database("sqlite", tmp_path)[0]), "shutdown_grace": "4s"}
    proxy = vipproxy({"2001": {"stages": [{"targets": [ringing.uri("r")]}]}}, directory)
    [alice] = phones.phones({"alice": "uas_answer.xml"})
    talking = sipp.uac("talking", "uac_call.xml", remote=proxy.endpoint, service=LINE,
                       keys={"caller": OTHER_CALLER}, variables={"linger": "yes"})
    waiting = sipp.uac("waiting", "uac_expect_failure.xml", remote=proxy.endpoint,
                       service="2001")
    assert wait_until(lambda: bool(alice.received_so_far("ACK")
                                   and ringing.received_so_far("INVITE")), 5.0), (
        "the call was not answered, or the other did not ring")

    proxy.terminate()
    talked = sipp.finish(talking, alice)
    assert proxy.wait_exit() == 0, proxy.stderr()
    assert_all_passed(*talked, waiting.wait())

    [row] = history(proxy)
    assert (row["outcome"], row["answered_by"], row["end_reason"]) == ("answered", "alice",
                                                                       "bye"), row
    assert row["hung_up_by"] == row["caller"] == "+14155550123", row
    assert [row] == logged_calls(proxy)
    log = proxy.stderr()
    assert log.index('"proxy.draining"') < log.index('"call.ended"') < log.index(
        '"store.closed"'), "the call did not end during the drain"
