"""The bench's numbers: one result per (proxy, variant, rate) step, and the tables."""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sipp import percentile

PERCENTS = (50, 90, 99)


# The variant column's mark of each kind of callees but the static route's.
_MARKS = {"endpoints": "line", "registered": "reg", "watched": "watched"}
# The variant column: as wide as its longest label (cancel/watched), and with
# workers (--workers N) as wide as that with the workers' mark (/wN) too.
VARIANT_WIDTH = 14


@dataclass(frozen=True)
class PhaseResult:
    """One rate of a step that changes its rate (--then-rate): the calls SIPp placed
    while that rate was set, by call number."""

    rate: int
    seconds: int
    offered: int
    completed: int
    shed: int
    setup_ms: tuple[float | None, ...]
    # Seconds after the phase began until the last call that failed was placed
    # (None when none failed); for the phase after an overload, the recovery time.
    failures_until: float | None

    @property
    def other_failed(self) -> int:
        """Calls that neither completed nor got a 503 (timeouts, aborted calls)."""
        return self.offered - self.completed - self.shed

    @property
    def goodput(self) -> float:
        """Completed calls per second of the phase."""
        return self.completed / self.seconds


@dataclass(frozen=True)
class LampSummary:
    """What the proxy said of its busy lamps when it stopped (``proxy.stopped``)."""

    notifies: int
    delay_p50_ms: float | None
    delay_p99_ms: float | None


# With workers, each vipproxy process writes its own proxy.stopped line, marked with
# its index in this field, into the same log; the first (0) writes last.
WORKER_FIELD = "worker"
# The fields of several workers' lines that are not sums: maxima (the longest
# change-to-NOTIFY delay, each kind of collection's longest pause) and percentiles
# (change-to-NOTIFY p50 and p99).
_MAXIMUM = re.compile(r"_(max|longest)_ms$")
_PERCENTILE = re.compile(r"_p\d+_ms$")


def _combined(field: str, values: Sequence[Any]) -> Any:
    """One field of the proxy's exit dump from its workers' `values`, the last line
    written (the first worker's, which writes last) first. Per field:

      maxima (*_max_ms, *_longest_ms)  the largest: the proxy's longest is its
                                       longest worker's
      percentiles (*_pNN_ms)           the largest: a percentile of all the
                                       workers' delays lies between theirs, so
                                       this is an upper bound, exact when one
                                       worker has any (busy lamps live in the
                                       first); None when no worker has a value
      other numbers                    the sum: counters (shed, notify_sent, gc
                                       passes, ...) and what was left (left_*)
                                       count per worker, each its own
      anything else (event, level,     the last line's: the first worker's
      timestamp, ...)
    """
    numbers = [value for value in values
               if isinstance(value, int | float) and not isinstance(value, bool)]
    if _MAXIMUM.search(field) or _PERCENTILE.search(field):
        return max(numbers, default=None)
    if numbers and len(numbers) == len([value for value in values if value is not None]):
        return sum(numbers)
    return values[0]


def combine_stopped(lines: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The proxy's exit dump from its workers' ``proxy.stopped`` lines, the last
    written first (see `_combined` for what each field becomes); without the
    worker field. A field some lines lack counts from those that have it."""
    fields = dict.fromkeys(field for line in lines for field in line if field != WORKER_FIELD)
    return {field: _combined(field, [line[field] for line in lines if field in line])
            for field in fields}


def read_stopped(log_path: Path) -> dict[str, Any] | None:
    """vipproxy's ``proxy.stopped`` JSON log line (its exit dump), if any.

    With workers (lines with a `worker` field), the lines of the last run summed
    (`combine_stopped`): read from the end, each worker's last line, until a worker
    repeats or a line has no worker field (an earlier run). A proxy that logs only
    warnings writes its line only when something was left, so some workers may
    have none: what they held was nothing. An unreadable line ends the run there
    (the last line unreadable: None, as without workers).
    """
    try:
        lines = log_path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return None
    run: dict[Any, dict[str, Any]] = {}  # by worker, the last line written first
    for line in reversed(lines):
        if '"proxy.stopped"' not in line:
            continue
        try:
            stopped: dict[str, Any] = json.loads(line)
        except ValueError:
            break
        worker = stopped.get(WORKER_FIELD)
        if worker is None:
            if not run:
                return stopped  # one process: its line as it is
            break
        if worker in run:
            break
        run[worker] = stopped
    return combine_stopped(list(run.values())) if run else None


def read_lamps(log_path: Path) -> LampSummary | None:
    """The lamp figures of the proxy's ``proxy.stopped`` line, if any."""
    stopped = read_stopped(log_path)
    if stopped is None:
        return None
    return LampSummary(int(stopped.get("notify_sent", 0)),
                       stopped.get("notify_delay_p50_ms"), stopped.get("notify_delay_p99_ms"))


@dataclass(frozen=True)
class StepResult:
    """What one step of load measured."""

    proxy: str
    variant: str
    rate: int
    attempted: int
    completed: int
    callee_failed: int
    cpu_seconds: float
    udp_drops: int
    ring_ms: tuple[float | None, ...]
    bye_ms: tuple[float | None, ...]
    wall_seconds: float
    shed: int = 0  # calls the proxy answered 503
    setup_ms: tuple[float | None, ...] = (None, None, None)  # INVITE -> 200
    seconds: int = 1  # how long calls were placed
    phases: tuple[PhaseResult, ...] = ()  # with --then-rate: each rate on its own
    callees: str = "static"  # or how else they are reached (run.py CALLEES)
    round: int = 1  # with --rounds, the round the step ran in
    # "watched" steps: the proxy's change-to-NOTIFY delay (p50, p99 ms) and NOTIFYs sent.
    lamps: LampSummary | None = None
    violations: int | None = None  # of the invariants (invariants.py); None: not checked
    workers: int | None = None  # with --workers: vipproxy's worker processes

    @property
    def failed(self) -> int:
        """Calls that did not complete: 503s, SIPp's failed calls, any left unfinished."""
        return self.attempted - self.completed

    @property
    def other_failed(self) -> int:
        """Failed calls that did not get a 503: timeouts and the like."""
        return self.failed - self.shed

    @property
    def goodput(self) -> float:
        """Completed calls per second of placing calls."""
        return self.completed / self.seconds

    @property
    def label(self) -> str:
        """The variant column: the variant, marked with the callees when they are not
        the static route's (/reg registered, /line the line's endpoints, /watched a
        line its lamps watch), then with the workers when the proxy had some (/w2:
        2 workers; /w1 one, with the load of a run with workers)."""
        label = self.variant
        if self.callees != "static":
            label += f"/{_MARKS[self.callees]}"
        if self.workers is not None:
            label += f"/w{self.workers}"
        return label

    @property
    def cpu_ms_per_call(self) -> float | None:
        """Proxy CPU milliseconds per attempted call (= CPU seconds per 1000 calls)."""
        return None if self.attempted == 0 else 1000 * self.cpu_seconds / self.attempted


def summarise(times_ms: Sequence[float]) -> tuple[float | None, ...]:
    """p50, p90 and p99 of response times."""
    values = list(times_ms)
    return tuple(percentile(values, percent) for percent in PERCENTS)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def _percentiles(values: tuple[float | None, ...]) -> str:
    return "/".join(_ms(value) for value in values)


def _cpu(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def variant_width(workers: int | None) -> int:
    """The variant column's width for a run with `workers` (None: without)."""
    return VARIANT_WIDTH + (0 if workers is None else len(f"/w{workers}"))


# The columns after `wall` came with load shedding, the last with the invariants
# (invariants.py); the ones before keep their place.
def step_header(width: int = VARIANT_WIDTH) -> str:
    """The step table's two header lines, its variant column `width` wide."""
    return (
        f"{'proxy':<13} {'variant':<{width}} {'rate':>5} {'attempted':>9} {'completed':>9} "
        f"{'failed':>6} {'callee':>6} {'UDP':>5} {'CPU s per':>10} "
        f"{'INVITE->180 ms':>15} {'BYE->200 ms':>12} {'wall':>5} "
        f"{'503':>6} {'other':>6} {'goodput':>7} {'INVITE->200 ms':>16} {'violations':>10}\n"
        f"{'':<13} {'':<{width}} {'cps':>5} {'':>9} {'':>9} "
        f"{'':>6} {'failed':>6} {'drops':>5} {'1000 calls':>10} "
        f"{'p50/p90/p99':>15} {'p50/p90/p99':>12} {'s':>5} "
        f"{'':>6} {'failed':>6} {'cps':>7} {'p50/p90/p99':>16} {'':>10}"
    )


def step_row(result: StepResult, width: int = VARIANT_WIDTH) -> str:
    """One line of the step table, its variant column `width` wide."""
    return (
        f"{result.proxy:<13} {result.label:<{width}} {result.rate:>5} {result.attempted:>9} "
        f"{result.completed:>9} {result.failed:>6} {result.callee_failed:>6} "
        f"{result.udp_drops:>5} {_cpu(result.cpu_ms_per_call):>10} "
        f"{_percentiles(result.ring_ms):>15} {_percentiles(result.bye_ms):>12} "
        f"{result.wall_seconds:>5.1f} {result.shed:>6} {result.other_failed:>6} "
        f"{result.goodput:>7.0f} {_percentiles(result.setup_ms):>16} "
        f"{'-' if result.violations is None else result.violations:>10}"
    )


def phase_lines(result: StepResult) -> list[str]:
    """One line per rate of a step that changed its rate."""
    lines = []
    for number, phase in enumerate(result.phases, 1):
        failures = ("no failures" if phase.failures_until is None else
                    f"last failed call placed {phase.failures_until:.1f} s into the phase")
        lines.append(
            f"    phase {number}: {phase.rate} cps x {phase.seconds} s: offered "
            f"{phase.offered}, completed {phase.completed} (goodput {phase.goodput:.0f} cps), "
            f"503 {phase.shed}, other failed {phase.other_failed}, INVITE->200 ms "
            f"p50/p90/p99 {_percentiles(phase.setup_ms)}; {failures}")
    return lines


def ratio_table(results: Sequence[StepResult], numerator: str, denominator: str) -> str:
    """CPU per call of `numerator` over `denominator` for every step both ran
    (with the same callees: Kamailio's are static)."""
    by_step = {(r.proxy, r.callees, r.variant, r.rate, r.round): r for r in results}
    width = max([VARIANT_WIDTH, *(len(r.label) for r in results if r.proxy == numerator)])
    lines = [
        f"CPU per call, {numerator} / {denominator} (same run, same load):",
        f"{'variant':<{width}} {'rate':>5} {numerator + ' ms/call':>22} "
        f"{denominator + ' ms/call':>22} {'ratio':>6}",
    ]
    for result in results:
        if result.proxy != numerator:
            continue
        other = by_step.get((denominator, result.callees, result.variant, result.rate,
                             result.round))
        if other is None:
            continue
        mine, theirs = result.cpu_ms_per_call, other.cpu_ms_per_call
        ratio = "-" if mine is None or not theirs else f"{mine / theirs:.2f}x"
        lines.append(
            f"{result.label:<{width}} {result.rate:>5} {_cpu(mine):>22} {_cpu(theirs):>22} "
            f"{ratio:>6}"
        )
    return "\n".join(lines)


def callees_table(results: Sequence[StepResult], base: str, other: str) -> str:
    """CPU per call of the `other` steps over the `base` steps (callee kinds: static,
    registered, watched), per proxy, variant and rate both ran; the difference in
    percent (targets: registered within 10% of static, watched within 25% of
    registered), and for watched steps the proxy's change-to-NOTIFY delay."""
    bases = {(r.proxy, r.variant, r.rate, r.round): r for r in results if r.callees == base}
    # Only vipproxy has other callees than static ones: its worker count, if any.
    workers = sorted({r.workers for r in results
                      if r.callees in (base, other) and r.workers is not None})
    with_workers = "".join(f", {count} workers" for count in workers)
    lines = [
        f"CPU per call, {other} callees / {base} callees (same run, same load{with_workers}):",
        f"{'proxy':<9} {'variant':<7} {'rate':>5} {base + ' ms/call':>19} "
        f"{other + ' ms/call':>19} {'ratio':>6} {'difference':>10} {'NOTIFYs':>8} "
        f"{'change->NOTIFY p50/p99 ms':>26}",
    ]
    # Per proxy, variant and rate: the difference of each round, for the median.
    rounds: dict[tuple[str, str, int], list[float]] = {}
    for result in results:
        reference = bases.get((result.proxy, result.variant, result.rate, result.round))
        if result.callees != other or reference is None:
            continue
        mine, theirs = result.cpu_ms_per_call, reference.cpu_ms_per_call
        ratio = difference = "-"
        if mine is not None and theirs:
            percent = 100 * (mine / theirs - 1)
            ratio, difference = f"{mine / theirs:.2f}x", f"{percent:+.1f}%"
            rounds.setdefault((result.proxy, result.variant, result.rate), []).append(percent)
        lamps = result.lamps
        notifies = str(lamps.notifies) if lamps else "-"
        delays = _percentiles((lamps.delay_p50_ms, lamps.delay_p99_ms)) if lamps else "-"
        lines.append(
            f"{result.proxy:<9} {result.variant:<7} {result.rate:>5} {_cpu(theirs):>19} "
            f"{_cpu(mine):>19} {ratio:>6} {difference:>10} {notifies:>8} {delays:>26}"
        )
    for (proxy, variant, rate), differences in rounds.items():
        if len(differences) > 1:
            lines.append(f"{proxy:<9} {variant:<7} {rate:>5} median of {len(differences)} "
                         f"rounds: {statistics.median(differences):+.1f}%")
    return "\n".join(lines)
