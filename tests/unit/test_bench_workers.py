"""The load bench with vipproxy's workers (tools/bench/run.py --workers N): the
config it writes, the caller's socket per call, the workers' proxy.stopped lines
added up into the proxy's, and the option's checks. Files and sockets only: no
process is started."""

from __future__ import annotations

import importlib.util
import json
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "tools" / "bench"
# Each after the bench modules it imports by bare name.
_MODULES = ("arguments", "invariants", "processes", "sipp", "report", "checking", "proxies",
            "run")


def _load_bench() -> dict[str, ModuleType]:
    # tools/bench is a directory of scripts importing one another by bare name, and
    # its sipp.py would shadow the end-to-end helpers' sipp module: the bare names
    # point at these modules only while they load.
    saved = {name: sys.modules.get(name) for name in _MODULES}
    loaded: dict[str, ModuleType] = {}
    try:
        for name in _MODULES:
            spec = importlib.util.spec_from_file_location(f"bench_workers_{name}",
                                                          BENCH / f"{name}.py")
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module  # dataclasses look their module up by name
            sys.modules[name] = module
            spec.loader.exec_module(module)
            loaded[name] = module
    finally:
        for name, before in saved.items():
            if before is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = before
    return loaded


bench = _load_bench()
report, checking, proxies, processes, sipp, run = (
    bench[name] for name in ("report", "checking", "proxies", "processes", "sipp", "run"))
HOST = "127.0.0.41"


def stopped(worker: int | None, **fields: Any) -> str:
    """A proxy.stopped JSON log line as vipproxy writes it (structlog, JSON)."""
    line: dict[str, Any] = {"event": "proxy.stopped", "level": "warning"}
    if worker is not None:
        line["worker"] = worker
    return json.dumps({**line, **fields})


def write_log(path: Path, *lines: str) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


# --- the workers' proxy.stopped lines ---------------------------------------------


def test_the_workers_lines_are_summed_and_their_maxima_are_the_largest(tmp_path: Path) -> None:
    log = write_log(
        tmp_path / "vipproxy.log",
        json.dumps({"event": "proxy.listening", "level": "info"}),
        stopped(1, left_server_transactions=2, left_client_transactions=1, left_dialogs=0,
                shed=40, shed_periods=1, notify_sent=0, notify_delay_p50_ms=None,
                notify_delay_p99_ms=None, notify_delay_max_ms=None, gc_full_passes=3,
                gc_full_longest_ms=12, handed_to_first_worker=7, timestamp="t1"),
        json.dumps({"event": "overload.shedding_stopped", "level": "warning"}),
        stopped(0, left_server_transactions=1, left_client_transactions=50, left_dialogs=3,
                shed=2, shed_periods=0, notify_sent=900, notify_delay_p50_ms=40.0,
                notify_delay_p99_ms=95.5, notify_delay_max_ms=130.0, gc_full_passes=5,
                gc_full_longest_ms=9, timestamp="t0"),
    )
    combined = report.read_stopped(log)
    assert combined == {
        # The first worker's (which writes last) for what is not a number.
        "event": "proxy.stopped", "level": "warning", "timestamp": "t0",
        # Counts: summed over the workers.
        "left_server_transactions": 3, "left_client_transactions": 51, "left_dialogs": 3,
        "shed": 42, "shed_periods": 1, "notify_sent": 900, "gc_full_passes": 8,
        "handed_to_first_worker": 7,
        # Maxima and percentiles: the largest worker's; a worker without any counts not.
        "notify_delay_p50_ms": 40.0, "notify_delay_p99_ms": 95.5,
        "notify_delay_max_ms": 130.0, "gc_full_longest_ms": 12,
    }


def test_only_the_last_runs_workers_are_added(tmp_path: Path) -> None:
    earlier = (stopped(None, left_dialogs=100), stopped(1, left_dialogs=10),
               stopped(0, left_dialogs=20))
    log = write_log(tmp_path / "vipproxy.log", *earlier,
                    stopped(2, left_dialogs=1), stopped(1, left_dialogs=2),
                    stopped(0, left_dialogs=4))
    assert report.read_stopped(log)["left_dialogs"] == 7
    # A single process's line before the workers' ends their run too.
    log = write_log(tmp_path / "other.log", stopped(None, left_dialogs=100),
                    stopped(1, left_dialogs=2), stopped(0, left_dialogs=4))
    assert report.read_stopped(log)["left_dialogs"] == 6


def test_without_a_worker_field_the_last_line_is_read_as_it_is(tmp_path: Path) -> None:
    last = {"event": "proxy.stopped", "level": "warning", "left_dialogs": 1, "shed": 5,
            "notify_delay_p99_ms": None}
    log = write_log(tmp_path / "vipproxy.log", stopped(None, left_dialogs=9, shed=9),
                    json.dumps(last))
    assert report.read_stopped(log) == last
    assert report.read_stopped(tmp_path / "missing.log") is None


def test_a_proxy_logging_only_warnings_has_lines_only_from_workers_that_left_something(
    tmp_path: Path
) -> None:
    # Worker 0 left nothing: at warning level it wrote no proxy.stopped line.
    log = write_log(tmp_path / "vipproxy.log",
                    stopped(2, left_server_transactions=0, left_client_transactions=1,
                            left_dialogs=0, left_subscriptions=0),
                    stopped(1, left_server_transactions=2, left_client_transactions=0,
                            left_dialogs=0, left_subscriptions=0))
    assert checking.read_leftovers(log, 0) == {
        "left_server_transactions": 2, "left_client_transactions": 1, "left_dialogs": 0,
        "left_subscriptions": 0}


def test_the_lamps_of_several_workers_are_added_up(tmp_path: Path) -> None:
    log = write_log(tmp_path / "vipproxy.log",
                    stopped(2, notify_sent=0, notify_delay_p50_ms=None,
                            notify_delay_p99_ms=None),
                    stopped(1, notify_sent=10, notify_delay_p50_ms=30.0,
                            notify_delay_p99_ms=120.0),
                    stopped(0, notify_sent=5000, notify_delay_p50_ms=40.0,
                            notify_delay_p99_ms=90.0))
    # NOTIFYs summed; each percentile the largest worker's: a bound on the whole's.
    assert report.read_lamps(log) == report.LampSummary(5010, 40.0, 120.0)


# --- the config, the ports and the caller ------------------------------------------


def fork() -> Any:
    return proxies.Fork("2000", ("sip:a@127.0.0.42:5070", "sip:b@127.0.0.43:5070"),
                        "127.0.0.44")


def test_with_workers_the_vipproxy_config_has_a_workers_section() -> None:
    known = proxies.known_proxies(HOST, Path("/base"), workers=2)
    config = proxies.vipproxy_config(known["vipproxy"], fork())
    assert config["workers"] == {"count": 2, "first_port": 15100}
    assert config["listen"] == [{"transport": "udp", "host": HOST, "port": 15060}]
    assert known["vipproxy"].worker_ports == (15100,)  # worker 1's; worker 0 has none
    baseline = proxies.vipproxy_config(known[proxies.BASELINE], fork())
    assert baseline["workers"] == {"count": 2, "first_port": 15116}
    # One worker is a section too: the same config shape as with more.
    one = proxies.known_proxies(HOST, workers=1)["vipproxy"]
    assert proxies.vipproxy_config(one, fork())["workers"] == {"count": 1, "first_port": 15100}


def test_without_workers_the_config_has_no_workers_section() -> None:
    known = proxies.known_proxies(HOST)
    assert "workers" not in proxies.vipproxy_config(known["vipproxy"], fork())
    assert known["vipproxy"].worker_ports == ()


def test_kamailio_runs_its_own_children_whatever_the_workers() -> None:
    kamailio = proxies.known_proxies(HOST, workers=4)["kamailio"]
    assert kamailio.workers is None and kamailio.worker_ports == ()


def test_the_workers_ports_are_apart_from_every_other_port_of_the_bench() -> None:
    known = proxies.known_proxies(HOST, Path("/base"), workers=proxies.MAX_WORKERS)
    blocks = [set(proxy.worker_ports) for proxy in known.values() if proxy.worker_ports]
    assert len(blocks) == 2 and not blocks[0] & blocks[1]
    endpoints = (run.CALLEE_A, run.CALLEE_B, run.CALLER, run.WATCHERS)
    others = ({proxy.port for proxy in known.values()}
              | {endpoint.port for endpoint in endpoints}
              | {endpoint.control_port for endpoint in endpoints})
    worker_ports = blocks[0] | blocks[1]
    assert not worker_ports & others
    # Below Linux's ephemeral ports, which the caller's sockets per call take.
    assert max(worker_ports | others) < 32768


def test_the_caller_places_each_call_from_its_own_socket_only_when_asked() -> None:
    def command(**options: Any) -> list[str]:
        argv: list[str] = sipp.caller_command(run.CALLER, (HOST, 15060), "2000", 100, 600,
                                              500, Path("/tmp"), 5000, False, True, **options)
        return argv

    def option(argv: list[str], name: str) -> str:
        return argv[argv.index(name) + 1]

    assert "-t" not in command() and "-max_socket" not in command()
    argv = command(socket_per_call=True)
    assert option(argv, "-t") == "un"
    # One socket for each call open at once (-l), and SIPp's main and control sockets.
    assert int(option(argv, "-max_socket")) >= int(option(argv, "-l")) + 2
    assert argv[-1] == f"{HOST}:15060"  # the options before the remote host
    assert option(argv, "-p") == str(run.CALLER.port)  # its main socket, as before


def test_the_callers_sockets_stay_under_the_open_files_limit() -> None:
    assert sipp.call_sockets(700, 1024) == 700 + sipp.SIPP_OTHER_SOCKETS
    assert sipp.call_sockets(3100, 1024) == 1024 - sipp.SIPP_OWN_FILES


def test_the_bench_waits_for_every_socket_sharing_a_port_and_reads_their_drops(
        tmp_path: Path) -> None:
    def reuse_port() -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        return sock

    with reuse_port() as first, reuse_port() as second:
        first.bind(("127.0.0.1", 0))
        port = first.getsockname()[1]
        second.bind(("127.0.0.1", port))
        # Both bound: waiting for two sockets returns at once (nothing started to fail).
        unstarted = processes.ManagedProcess("proxy", [], tmp_path, tmp_path / "proxy.log")
        processes.wait_until_listening(unstarted, "127.0.0.1", port, 1.0, sockets=2)
        assert processes.udp_socket_drops("127.0.0.1", port) == 0


# --- the command line and the table -------------------------------------------------


@pytest.fixture
def cpus(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Set how many CPUs the bench may use."""
    def use(count: int) -> None:
        monkeypatch.setattr(run.os, "sched_getaffinity", lambda pid: set(range(count)))
        monkeypatch.setattr(processes.os, "sched_getaffinity", lambda pid: set(range(count)))
    yield use


def test_without_the_option_nothing_changes() -> None:
    settings = run.parse_settings(["--proxies", "vipproxy"])
    assert settings.workers is None


def test_workers_are_one_to_sixteen(capsys: pytest.CaptureFixture[str]) -> None:
    assert run.parse_settings(["--proxies", "vipproxy", "--workers", "16"]).workers == 16
    for wrong in ("0", "17"):
        with pytest.raises(SystemExit):
            run.parse_settings(["--proxies", "vipproxy", "--workers", wrong])
    assert "--workers" in capsys.readouterr().err


def test_pinning_workers_needs_a_cpu_each_and_one_for_the_load(
    cpus: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    cpus(2)
    assert run.parse_settings(["--proxies", "vipproxy", "--pin", "--workers", "1"]).pin
    with pytest.raises(SystemExit):
        run.parse_settings(["--proxies", "vipproxy", "--pin", "--workers", "2"])
    assert "needs 3 CPUs" in capsys.readouterr().err
    cpus(4)
    assert run.parse_settings(["--proxies", "vipproxy", "--pin", "--workers", "2"]).workers == 2
    split = processes.CpuSplit.of_this_machine(2)
    assert (split.proxy, split.load) == ({2, 3}, {0, 1})


def step(variant: str = "busy", callees: str = "static", workers: int | None = None) -> Any:
    return report.StepResult(
        proxy="vipproxy", variant=variant, rate=100, attempted=600, completed=600,
        callee_failed=0, cpu_seconds=1.0, udp_drops=0, ring_ms=(None,) * 3,
        bye_ms=(None,) * 3, wall_seconds=8.0, callees=callees, workers=workers)


def test_a_step_with_workers_says_how_many() -> None:
    assert step(workers=2).label == "busy/w2"
    assert step("cancel", "watched", 16).label == "cancel/watched/w16"
    assert step("cancel", "watched").label == "cancel/watched"
    assert step().label == "busy"


def test_the_variant_column_is_wide_enough_for_the_workers_mark() -> None:
    width = report.variant_width(16)
    header = report.step_header(width).splitlines()[0]
    row = report.step_row(step("cancel", "watched", 16), width)
    assert row.index(" 100 ") == header.index(" rate") + 1  # the rate column lines up
    # Without workers, the table as before.
    assert report.variant_width(None) == report.VARIANT_WIDTH == 14
    assert report.step_row(step()).startswith(f"{'vipproxy':<13} {'busy':<14}   100 ")
