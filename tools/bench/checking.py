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
    read_trace,
    total,
)
from report import read_stopped
from sipp import short_trace_path

LEFT_FIELDS = ("left_server_transactions", "left_client_transactions", "left_dialogs",
               "left_subscriptions")
# The exit codes of a vipproxy that reached its proxy.stopped line (1: the store
# did not close cleanly).
_STOPPED_BY_ITSELF = (0, 1)


def _trace(step_dir: Path, name: str) -> Trace:
    try:
        with short_trace_path(step_dir, name).open(errors="replace") as lines:
            return read_trace(lines)
    except FileNotFoundError:
        return {}


def read_leftovers(log_path: Path, exit_code: int | None) -> dict[str, int] | Violation:
    """What vipproxy held when it stopped. It logs ``proxy.stopped`` at warning when
    anything was left, else at info: a proxy that logs only warnings (the bench's)
    wrote no line when nothing was left, which its exit code confirms. A proxy
    that was killed or crashed tells nothing: one violation."""
    stopped = read_stopped(log_path)
    if stopped is not None:
        return {field: int(stopped.get(field, 0)) for field in LEFT_FIELDS}
    if exit_code in _STOPPED_BY_ITSELF:
        return dict.fromkeys(LEFT_FIELDS, 0)
    return Violation("left in proxy", "-", f"the proxy did not stop by itself (exit code "
                     f"{exit_code}): what it held is unknown")


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
