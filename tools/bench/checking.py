"""A step's invariants (invariants.py) read from its files: the SIPp short traces
and the proxy's exit dump, the ``left_*`` fields of vipproxy's ``proxy.stopped``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from invariants import (
    Trace,
    Violation,
    by_invariant,
    check_calls,
    check_left_in_proxy,
    check_not_rung,
    leftovers,
    read_trace,
    total,
)
from report import read_stopped
from sipp import short_trace_path


def _trace(step_dir: Path, name: str) -> Trace:
    try:
        with short_trace_path(step_dir, name).open(errors="replace") as lines:
            return read_trace(lines)
    except FileNotFoundError:
        return {}


def read_leftovers(log_path: Path, exit_code: int | None) -> dict[str, int] | Violation:
    """What vipproxy held when it stopped, from its log and exit code
    (`invariants.leftovers`)."""
    return leftovers(read_stopped(log_path), exit_code)


def check_step(step_dir: Path, callees: Sequence[str], not_rung: str | None,
               left: dict[str, int] | Violation | None,
               expected_left: Mapping[str, int]) -> list[Violation]:
    """Every invariant of the step in `step_dir`: the per-call ones over the traces of
    the caller and `callees`; with `not_rung`, that this callee got no INVITE; with
    `left`, the proxy's leftovers beyond `expected_left`."""
    callee_traces = {name: _trace(step_dir, name) for name in callees}
    violations = check_calls(_trace(step_dir, "caller"), callee_traces)
    if not_rung is not None:
        violations += check_not_rung(not_rung, callee_traces[not_rung])
    if isinstance(left, Violation):
        violations.append(left)
    elif left is not None:
        violations += check_left_in_proxy(left, expected_left)
    return violations


def breakdown(violations: Sequence[Violation], shown: int) -> list[str]:
    """Lines for a person: the count per invariant, then the first `shown` violations."""
    counts = by_invariant(violations)
    lines = [f"{total(violations)} violations: "
             + ", ".join(f"{name} {count}" for name, count in sorted(counts.items()))]
    lines += [f"  {violation}" for violation in violations[:shown]]
    return lines
