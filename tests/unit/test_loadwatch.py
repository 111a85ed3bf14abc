"""The load watcher (proxy/core/loadwatch.py) with a fake loop, clock and log."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from proxy.core.loadwatch import LoadWatch, udp_backlog_reader
from proxy.core.overload import LoadGuard, OverloadSettings

# /proc/net/udp as Linux writes it (columns trimmed after `drops`): the proxy on
# 127.0.0.41:15060 (0x3AD4) with 0x20000 bytes queued, another socket with 0x500.
PROC_NET_UDP = (
    "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid"
    "  timeout inode ref pointer drops\n"
    "  100: 2900007F:3AD4 00000000:0000 07 00000000:00020000 00:00000000 00000000     0"
    "        0 1 2 0000000000000000 0\n"
    "  200: 2A00007F:13BE 00000000:0000 07 00000000:00000500 00:00000000 00000000     0"
    "        0 1 2 0000000000000000 0\n"
)


class FakeHandle:
    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeLoop:
    """Just what LoadWatch uses: time() and call_later(); timers fire when told."""

    def __init__(self) -> None:
        self.now = 10.0
        self.pending: list[tuple[float, Callable[[], None], FakeHandle]] = []

    def time(self) -> float:
        return self.now

    def call_later(self, delay: float, callback: Callable[[], None]) -> FakeHandle:
        handle = FakeHandle()
        self.pending.append((self.now + delay, callback, handle))
        return handle

    def fire_next(self, late_by: float = 0.0) -> None:
        due, callback, handle = self.pending.pop(0)
        self.now = due + late_by
        if not handle.cancelled:
            callback()


class FakeLog:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def warning(self, event: str, **fields: Any) -> None:
        self.events.append((event, fields))

    def exception(self, event: str, **fields: Any) -> None:
        self.events.append((event, fields))


def test_backlog_is_read_for_the_proxy_sockets_only(tmp_path: Path) -> None:
    proc = tmp_path / "udp"
    proc.write_text(PROC_NET_UDP)
    assert udp_backlog_reader([("127.0.0.41", 15060)], proc)() == 0x20000
    assert udp_backlog_reader([("127.0.0.41", 15060), ("127.0.0.42", 5054)], proc)() == (
        0x20000 + 0x500)
    assert udp_backlog_reader([("::1", 5060)], proc)() == 0  # IPv6: not measured
    assert udp_backlog_reader([("127.0.0.41", 15060)], tmp_path / "missing")() == 0


def test_shedding_is_logged_once_when_it_starts_and_once_when_it_stops() -> None:
    loop, log = FakeLoop(), FakeLog()
    guard = LoadGuard(OverloadSettings())
    watch = LoadWatch(guard, loop=loop, in_progress=lambda: 0,  # type: ignore[arg-type]
                      receive_backlog=lambda: 0, log=log)
    watch.start()
    for _ in range(20):
        guard.admit_new_call(loop.now)
        loop.fire_next()
    for _ in range(10):  # every timer 200 ms late: the loop is overloaded
        loop.fire_next(late_by=0.2)
    assert [event for event, _ in log.events] == ["overload.shedding_started"]
    assert "event loop 200 ms late" in log.events[0][1]["reason"]
    for _ in range(40):  # two calm seconds, no calls offered
        loop.fire_next()
    assert [event for event, _ in log.events] == ["overload.shedding_started",
                                                  "overload.shedding_stopped"]
    assert watch.shed_periods == 1
    watch.stop()
    assert all(handle.cancelled for _, _, handle in loop.pending)
