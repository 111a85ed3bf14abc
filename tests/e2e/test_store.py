"""The store seen from outside: the real proxy keeps its route-token secret in the
SQLite file in ``state_dir``, closes the store after the drain on SIGTERM, and
refuses to start (exit 1, the URL named without its password) on a database it
cannot open. Restarts that keep the secret are in test_security.py."""

from __future__ import annotations

import socket
import sqlite3
from pathlib import Path

import pytest

from .loopback import LoopbackAllocator
from .proxy_process import ProxyProcess, proxy_config

pytestmark = pytest.mark.e2e


def test_the_secret_is_in_the_sqlite_file_and_sigterm_closes_the_store(
    tmp_path: Path, loopback: LoopbackAllocator
) -> None:
    endpoint = loopback.endpoint()
    config = {**proxy_config(endpoint, {}), "state_dir": str(tmp_path / "state")}
    process = ProxyProcess("stored", config, endpoint, tmp_path)
    try:
        process.wait_listening()
    finally:
        assert process.stop() == 0, process.report()
    names = [event["event"] for event in process.events("store.closed")
             + process.events("proxy.draining") + process.events("proxy.stopped")]
    assert sorted(names) == ["proxy.draining", "proxy.stopped", "store.closed"]
    order = process.stderr()
    assert order.index('"proxy.draining"') < order.index('"store.closed"') < order.index(
        '"proxy.stopped"')
    # An idle proxy held nothing when it stopped: its exit dump says so at info.
    [stopped] = process.events("proxy.stopped")
    assert (stopped["level"], stopped["left_server_transactions"],
            stopped["left_client_transactions"], stopped["left_dialogs"],
            stopped["left_subscriptions"]) == ("info", 0, 0, 0, 0), stopped
    with sqlite3.connect(tmp_path / "state" / "vipproxy.db") as database:
        [(length,)] = database.execute(
            "SELECT length(value) FROM secrets WHERE name = 'route-token'").fetchall()
    assert length == 32


def test_a_database_that_cannot_be_opened_is_named_without_its_password(
    tmp_path: Path, loopback: LoopbackAllocator
) -> None:
    endpoint = loopback.endpoint()
    with socket.socket() as closed_port:  # bound, not listening: connections are refused
        closed_port.bind(("127.0.0.1", 0))
        port = closed_port.getsockname()[1]
        url = f"postgresql+asyncpg://vipproxy:s3cret@127.0.0.1:{port}/vipproxy"
        config = {**proxy_config(endpoint, {}), "store": {"url": url}}
        process = ProxyProcess("no-database", config, endpoint, tmp_path)
        assert process.wait_exit() == 1, process.report()
    shown = f"postgresql+asyncpg://vipproxy:***@127.0.0.1:{port}/vipproxy"
    assert f"vipproxy: store {shown}: cannot open: " in process.stderr(), process.report()
    assert "s3cret" not in process.stderr()
    [event] = process.events("store.unusable")
    assert event["url"] == shown
    assert "refused" in event["error"].lower() or "connect call failed" in event["error"].lower()
