"""The bench's numbers: one result per (proxy, variant, rate) step, and the tables."""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sipp import percentile

PERCENTS = (50, 90, 99)


# The variant column's mark of each kind of callees but the static route's.
_MARKS = {"endpoints": "line", "registered": "reg", "watched": "watched"}


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


def read_stopped(log_path: Path) -> dict[str, Any] | None:
    """vipproxy's ``proxy.stopped`` JSON log line (its exit dump), if any."""
    try:
        lines = log_path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return None
    for line in reversed(lines):
        if '"proxy.stopped"' not in line:
            continue
        try:
            stopped: dict[str, Any] = json.loads(line)
        except ValueError:
            return None
        return stopped
    return None


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
        line its lamps watch)."""
        if self.callees == "static":
            return self.variant
        return f"{self.variant}/{_MARKS[self.callees]}"

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


# The columns after `wall` came with load shedding, the last with the invariants
# (invariants.py); the ones before keep their place.
STEP_HEADER = (
    f"{'proxy':<13} {'variant':<14} {'rate':>5} {'attempted':>9} {'completed':>9} "
    f"{'failed':>6} {'callee':>6} {'UDP':>5} {'CPU s per':>10} "
    f"{'INVITE->180 ms':>15} {'BYE->200 ms':>12} {'wall':>5} "
    f"{'503':>6} {'other':>6} {'goodput':>7} {'INVITE->200 ms':>16} {'violations':>10}\n"
    f"{'':<13} {'':<14} {'cps':>5} {'':>9} {'':>9} "
    f"{'':>6} {'failed':>6} {'drops':>5} {'1000 calls':>10} "
    f"{'p50/p90/p99':>15} {'p50/p90/p99':>12} {'s':>5} "
    f"{'':>6} {'failed':>6} {'cps':>7} {'p50/p90/p99':>16} {'':>10}"
)


def step_row(result: StepResult) -> str:
    """One line of the step table."""
    return (
        f"{result.proxy:<13} {result.label:<14} {result.rate:>5} {result.attempted:>9} "
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
    lines = [
        f"CPU per call, {numerator} / {denominator} (same run, same load):",
        f"{'variant':<14} {'rate':>5} {numerator + ' ms/call':>22} "
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
            f"{result.label:<14} {result.rate:>5} {_cpu(mine):>22} {_cpu(theirs):>22} "
            f"{ratio:>6}"
        )
    return "\n".join(lines)


def callees_table(results: Sequence[StepResult], base: str, other: str) -> str:
    """CPU per call of the `other` steps over the `base` steps (callee kinds: static,
    registered, watched), per proxy, variant and rate both ran; the difference in
    percent (targets: registered within 10% of static, watched within 25% of
    registered), and for watched steps the proxy's change-to-NOTIFY delay."""
    bases = {(r.proxy, r.variant, r.rate, r.round): r for r in results if r.callees == base}
    lines = [
        f"CPU per call, {other} callees / {base} callees (same run, same load):",
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
