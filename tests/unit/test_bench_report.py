"""The load bench's tables (tools/bench/report.py) over made-up step results: with
--rounds, each round of a kind of callees is compared with the same round of the
other kind, and the median of the rounds is given."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

BENCH = Path(__file__).resolve().parents[2] / "tools" / "bench"


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def _load_report() -> ModuleType:
    # tools/bench is a directory of scripts whose sipp.py would shadow the end-to-end
    # helpers' sipp module: report.py imports it as `sipp` only while it loads.
    saved = sys.modules.get("sipp")
    sys.modules["sipp"] = _load("bench_sipp", BENCH / "sipp.py")
    try:
        return _load("bench_report", BENCH / "report.py")
    finally:
        if saved is None:
            del sys.modules["sipp"]
        else:
            sys.modules["sipp"] = saved


report = _load_report()


def step(callees: str, cpu_seconds: float, round_number: int) -> Any:
    """1,000 calls of the busy variant at 100 calls/s costing ``cpu_seconds``."""
    return report.StepResult(
        proxy="vipproxy", variant="busy", rate=100, attempted=1000, completed=1000,
        callee_failed=0, cpu_seconds=cpu_seconds, udp_drops=0, ring_ms=(None,) * 3,
        bye_ms=(None,) * 3, wall_seconds=12.0, callees=callees, round=round_number,
        lamps=report.LampSummary(5000, 40.0, 90.0) if callees == "watched" else None)


def test_each_round_is_compared_with_its_own_and_the_median_is_given() -> None:
    results = [step("registered", 2.0, 1), step("watched", 2.2, 1),
               step("registered", 4.0, 2), step("watched", 4.8, 2),
               step("registered", 3.0, 3), step("watched", 3.9, 3)]
    table = report.callees_table(results, "registered", "watched").splitlines()
    rows = [line.split() for line in table[2:]]
    assert [row[6] for row in rows[:3]] == ["+10.0%", "+20.0%", "+30.0%"]
    assert table[-1].split()[3:] == ["median", "of", "3", "rounds:", "+20.0%"]


def test_one_round_gives_no_median() -> None:
    table = report.callees_table([step("registered", 2.0, 1), step("watched", 2.5, 1)],
                                 "registered", "watched").splitlines()
    assert len(table) == 3 and "median" not in table[-1]


def test_a_watched_step_is_marked_as_such() -> None:
    assert step("watched", 1.0, 1).label == "busy/watched"
