#!/usr/bin/env python3
"""Soak vipproxy with many calls and print its resident memory (RSS) as they complete.

The call is the bench's parallel fork (tools/bench/run.py, whose modules this
script uses): a SIPp caller INVITEs the service number through the proxy, which
rings two SIPp callees at once; callee A answers after --answer-delay-ms,
callee B is CANCELled when A answers (variant `cancel`) or answers 486 at once
(variant `busy`); the caller ACKs, holds for --hold-ms and sends BYE.

One run starts the proxy of this checkout (`python -m proxy run --config FILE`
with a generated config: the bench's, plus `trusted_peers: [127.0.0.0/8]` and
any --config-extra), the two callees and one caller placing --calls calls at
--rate calls/s. Each time the caller writes its statistics line (once a
second) the proxy's VmRSS is read from /proc/PID/status, so every RSS value
is paired with the calls completed at that moment; a table row is printed
every --sample-seconds:

  elapsed s       seconds since the caller started
  completed       calls the caller completed so far (SIPp's SuccessfulCall)
  failed          calls the caller counted as failed so far
  RSS MB          the proxy's VmRSS (MB of 1024 x 1024 bytes, like /proc's kB)
  proxy CPU %     the proxy's CPU use since the previous row (100 = one core)
  machine busy %  all CPUs' use since the previous row (100 = every core busy):
                  other work on the machine shows here; a proxy short of CPU
                  drops datagrams and its calls fail, and then RSS also counts
                  the state of calls left hanging

At the end it prints RSS after --baseline-calls calls (interpolated between
the two one-second readings around that count), RSS when the caller finished
its last call, the difference and that difference per call, the peak RSS,
failed calls, and whether the target holds: RSS after --calls calls within
--max-growth-mb of RSS after --baseline-calls (the stated target is 100,000
calls within 20 MB of 10,000). RSS climbs for the first 32 s of any run, as
finished transactions linger for Timer J (64 x T1, T1 = 500 ms here) before
they go; at 300 calls/s the 10,000th call comes at 33 s, just after that
plateau is reached, and at lower rates later.

On a machine whose cores are busy with other work the proxy gets too little
CPU for 300 calls/s: it drops datagrams, calls fail, and RSS then also holds
the calls left hanging. The machine busy column shows it; a lower --rate
measures the same per-call memory with less CPU.

All traffic stays on 127.0.0.51-54. The run stops by itself: when the caller
has not finished --calls / --rate x 1.1 + hold + 2 x --recv-timeout-ms + 10 s
after it started, the run is cut short and counts as failed. Every process
started is stopped by pid (and process group) at the end, also on Ctrl-C,
SIGTERM or an error.

Usage (from the repository root):

  python tools/soak.py                                  # 100,000 calls at 300/s, ~6 min
  python tools/soak.py --calls 20000 --rate 300         # a quick look at the slope
  python tools/soak.py --config-extra 'untrusted_calls: refuse' --workdir /tmp/soak

Exit code: 0 when the target holds, 1 when it does not (or more than 1% of the
calls failed, or the caller did not finish in time, so RSS was not measured
over the calls asked for), 2 when a process could not start or the proxy
exited, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

# The bench's modules import one another by bare name: put tools/bench on the path.
sys.path.insert(0, str(Path(__file__).resolve().parent / "bench"))

from arguments import add_call_shape_arguments, positive_float, positive_int
from processes import (
    CpuMeter,
    ManagedProcess,
    ProcessFailed,
    ProcessSet,
    check_udp_port_free,
    finish_run,
    fresh_run_directory,
    start_listening,
    udp_socket_drops,
)
from proxies import Fork, known_proxies, vipproxy_config, vipproxy_process
from sipp import VARIANTS, Endpoint, callee_command, caller_command, error_lines, read_call_counts

PROXY = known_proxies("127.0.0.51")["vipproxy"]
CALLEE_A = Endpoint("127.0.0.52", 5070, 28852)
CALLEE_B = Endpoint("127.0.0.53", 5070, 28853)
CALLER = Endpoint("127.0.0.54", 5080, 28854)
STOP_GRACE_SECONDS = 5.0
CALLEE_LINGER_SECONDS = 3.0
POLL_SECONDS = 0.1
# A printed row is due when a statistics line comes within this much of --sample-seconds.
SAMPLE_SLACK_SECONDS = 0.5
DEADLINE_FACTOR = 1.1
DEADLINE_MARGIN_SECONDS = 10.0
MAX_FAILED_FRACTION = 0.01
ERROR_LINES_SHOWN = 5
KIB_PER_MB = 1024
TABLE_HEADER = (f"{'elapsed s':>9}  {'completed':>9}  {'failed':>6}  {'RSS MB':>8}  "
                f"{'proxy CPU %':>11}  {'machine busy %':>14}")


@dataclass(frozen=True)
class Settings:
    """The command line, checked."""

    calls: int
    rate: int
    sample_seconds: float
    baseline_calls: int
    max_growth_mb: float
    variant: str
    hold_ms: int
    answer_delay_ms: int
    recv_timeout_ms: int
    service: str
    config_extra: dict[str, Any]
    workdir: Path | None


@dataclass(frozen=True)
class Sample:
    """The proxy's RSS at the moment the caller reported its call counts."""

    elapsed: float
    completed: int
    failed: int
    rss_kib: int


@dataclass(frozen=True)
class SoakResult:
    """What one run measured."""

    samples: tuple[Sample, ...]
    finished: bool  # the caller ended by itself before the deadline
    callee_failed: int
    udp_drops: int
    peak_rss_kib: int


def _yaml_mapping(text: str) -> dict[str, Any]:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise argparse.ArgumentTypeError(f"not valid YAML: {error}") from None
    if not isinstance(document, dict):
        raise argparse.ArgumentTypeError(
            f"expected a YAML mapping such as 'untrusted_calls: refuse': {text!r}")
    return document


def parse_settings(argv: Sequence[str] | None) -> Settings:
    """Read the command line."""
    parser = argparse.ArgumentParser(
        prog="python tools/soak.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--calls", type=positive_int, default=100_000,
                        help="calls to place (default: 100000)")
    parser.add_argument("--rate", type=positive_int, default=300,
                        help="calls per second (default: 300)")
    parser.add_argument("--sample-seconds", type=positive_float, default=5.0,
                        help="print a row about this often; RSS is read every second "
                             "regardless (default: 5)")
    parser.add_argument("--baseline-calls", type=positive_int, default=10_000,
                        help="growth is measured from RSS after this many calls "
                             "(default: 10000)")
    parser.add_argument("--max-growth-mb", type=positive_float, default=20.0,
                        help="the target: RSS after --calls within this many MB of RSS "
                             "after --baseline-calls (default: 20)")
    parser.add_argument("--variant", choices=list(VARIANTS), default="cancel",
                        help="what callee B does: busy (486) or cancel (rings, is "
                             "CANCELled) (default: cancel)")
    add_call_shape_arguments(parser)
    parser.add_argument("--config-extra", type=_yaml_mapping, action="append", default=[],
                        metavar="YAML",
                        help="a YAML mapping whose top-level keys are added to (or replace "
                             "those of) the generated proxy config; may be repeated")
    parser.add_argument("--workdir", type=Path,
                        help="keep the config, logs and samples.csv in a new directory under "
                             "this one (default: a temporary directory, removed unless the "
                             "run failed)")
    args = parser.parse_args(argv)
    if args.baseline_calls >= args.calls:
        parser.error(f"--baseline-calls ({args.baseline_calls}) must be below --calls "
                     f"({args.calls})")
    extra: dict[str, Any] = {}
    for mapping in args.config_extra:
        extra.update(mapping)
    return Settings(
        calls=args.calls, rate=args.rate, sample_seconds=args.sample_seconds,
        baseline_calls=args.baseline_calls, max_growth_mb=args.max_growth_mb,
        variant=args.variant, hold_ms=args.hold_ms, answer_delay_ms=args.answer_delay_ms,
        recv_timeout_ms=args.recv_timeout_ms, service=args.service, config_extra=extra,
        workdir=args.workdir,
    )


def proc_status_kib(pid: int, field: str) -> int | None:
    """A kB field of /proc/PID/status (VmRSS, VmHWM), or None once the process is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    for line in text.splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return None


class StatFollower:
    """The lines SIPp appends to its -trace_stat CSV, read as they come, whole lines only.

    SIPp writes a line every -fd seconds (1 for the bench's instances); a line
    still being written is kept until its newline arrives.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._offset = 0
        self._partial = b""
        self._header: list[str] | None = None

    def new_rows(self) -> list[dict[str, str]]:
        """The rows completed since the last call, as column -> text."""
        try:
            with self._path.open("rb") as handle:
                handle.seek(self._offset)
                data = handle.read()
        except FileNotFoundError:
            return []
        self._offset += len(data)
        *lines, self._partial = (self._partial + data).split(b"\n")
        rows: list[dict[str, str]] = []
        for line in lines:
            fields = line.decode(errors="replace").rstrip("\r").split(";")
            if self._header is None:
                self._header = fields
            else:
                rows.append(dict(zip(self._header, fields, strict=False)))
        return rows


def _print_row(sample: Sample, meter: CpuMeter | None) -> None:
    """A table row; without a meter (the row before the first call) no CPU columns."""
    cpu = ""
    if meter is not None:
        proxy_cpu, machine_busy = meter.since_last()
        cpu = f"  {proxy_cpu:>11.0f}  {machine_busy:>14.0f}"
    print(f"{sample.elapsed:>9.0f}  {sample.completed:>9,}  {sample.failed:>6,}  "
          f"{sample.rss_kib / KIB_PER_MB:>8.1f}{cpu}", flush=True)


def _config(settings: Settings, fork: Fork) -> dict[str, Any]:
    return {**vipproxy_config(PROXY, fork), **settings.config_extra}


def run_soak(settings: Settings, workdir: Path) -> SoakResult:
    """Start the proxy, callees and caller; follow RSS until the caller ends; stop all."""
    fork = Fork(settings.service, (f"sip:a@{CALLEE_A.host}:{CALLEE_A.port}",
                                   f"sip:b@{CALLEE_B.host}:{CALLEE_B.port}"), CALLER.host)
    timeout = settings.recv_timeout_ms
    samples: list[Sample] = []
    with ProcessSet(STOP_GRACE_SECONDS) as running:
        proxy = start_listening(running, vipproxy_process(PROXY, _config(settings, fork), workdir),
                                PROXY.host, PROXY.port)
        callees = [
            start_listening(running, ManagedProcess(name, callee_command(
                name, behaviour, endpoint, settings.calls, settings.answer_delay_ms, workdir,
                timeout, trace_messages=False), workdir, workdir / f"{name}.out"),
                endpoint.host, endpoint.port)
            for name, behaviour, endpoint in (("callee-a", "answer", CALLEE_A),
                                              ("callee-b", VARIANTS[settings.variant], CALLEE_B))
        ]
        check_udp_port_free(CALLER.host, CALLER.port)
        caller = ManagedProcess("caller", caller_command(
            CALLER, (PROXY.host, PROXY.port), settings.service, settings.rate, settings.calls,
            settings.hold_ms, workdir, timeout, trace_messages=False),
            workdir, workdir / "caller.out")

        drops_before = udp_socket_drops(PROXY.host, PROXY.port) or 0
        samples.append(Sample(0.0, 0, 0, _rss_kib(proxy)))
        _print_row(samples[-1], None)
        meter = CpuMeter(proxy.pid)
        printed_at = 0.0
        started = time.monotonic()
        running.start(caller)
        deadline = started + (settings.calls / settings.rate * DEADLINE_FACTOR
                              + (settings.hold_ms + 2 * timeout) / 1000
                              + DEADLINE_MARGIN_SECONDS)
        follower = StatFollower(workdir / "caller.stat.csv")
        while True:
            # Asked before reading: once it has exited, its last line is in the file.
            caller_exited = caller.exit_code() is not None
            for row in follower.new_rows():
                samples.append(Sample(time.monotonic() - started, int(row["SuccessfulCall(C)"]),
                                      int(row["FailedCall(C)"]), _rss_kib(proxy)))
                if samples[-1].elapsed - printed_at >= settings.sample_seconds \
                        - SAMPLE_SLACK_SECONDS:
                    _print_row(samples[-1], meter)
                    printed_at = samples[-1].elapsed
            if caller_exited or time.monotonic() > deadline:
                break
            time.sleep(POLL_SECONDS)
        if printed_at != samples[-1].elapsed:
            _print_row(samples[-1], meter)
        peak = proc_status_kib(proxy.pid, "VmHWM") or 0
        drops = (udp_socket_drops(PROXY.host, PROXY.port) or 0) - drops_before
        # The callees end their last calls shortly after; what is still open then failed.
        linger_until = time.monotonic() + CALLEE_LINGER_SECONDS
        for callee in callees:
            callee.wait(max(0.0, linger_until - time.monotonic()))
        _check_alive(proxy)
    callee_failed = sum(read_call_counts(workdir / f"{callee.name}.stat.csv").unfinished
                        for callee in callees)
    return SoakResult(tuple(samples), caller_exited, callee_failed, drops, peak)


def _check_alive(proxy: ManagedProcess) -> None:
    if proxy.exit_code() is not None:
        raise ProcessFailed(f"vipproxy exited with {proxy.exit_code()} during the run:\n"
                            f"{proxy.log_tail()}")


def _rss_kib(proxy: ManagedProcess) -> int:
    rss = proc_status_kib(proxy.pid, "VmRSS")
    if rss is None or proxy.exit_code() is not None:
        _check_alive(proxy)
        raise ProcessFailed("vipproxy's /proc/PID/status has no VmRSS")
    return rss


def rss_at_calls(samples: Sequence[Sample], calls: int) -> float | None:
    """RSS in KiB when `calls` calls had completed: linear between the readings around it."""
    for before, after in itertools.pairwise(samples):
        if before.completed <= calls <= after.completed:
            if after.completed == before.completed:
                return float(before.rss_kib)
            share = (calls - before.completed) / (after.completed - before.completed)
            return before.rss_kib + share * (after.rss_kib - before.rss_kib)
    return None


def report(settings: Settings, result: SoakResult) -> bool:
    """Print the summary; whether the target holds."""
    last = result.samples[-1]
    baseline = rss_at_calls(result.samples, settings.baseline_calls)
    mb = KIB_PER_MB
    print()
    print(f"RSS before the first call        {result.samples[0].rss_kib / mb:9.1f} MB")
    if baseline is None:
        print(f"RSS after {settings.baseline_calls:,} calls: not reached")
    else:
        print(f"RSS after {settings.baseline_calls:>7,} calls        {baseline / mb:9.1f} MB")
    print(f"RSS after {last.completed:>7,} calls        {last.rss_kib / mb:9.1f} MB"
          f"   (when the caller {'finished' if result.finished else 'was cut short'})")
    holds = False
    if baseline is not None:
        growth = last.rss_kib - baseline
        per_call = growth * 1024 / max(1, last.completed - settings.baseline_calls)
        print(f"difference                       {growth / mb:+9.1f} MB"
              f"   ({per_call:,.0f} bytes per call)")
        holds = growth / mb <= settings.max_growth_mb
    print(f"peak RSS (VmHWM)                 {result.peak_rss_kib / mb:9.1f} MB")
    print(f"failed calls                     {last.failed:9,}   (caller; callees: "
          f"{result.callee_failed:,} not ended as their scenario says)")
    print(f"UDP drops on the proxy's socket  {result.udp_drops:9,}")
    valid = (result.finished and last.failed <= MAX_FAILED_FRACTION * settings.calls
             and baseline is not None)
    target = (f"RSS after {settings.calls:,} calls within {settings.max_growth_mb:g} MB "
              f"of RSS after {settings.baseline_calls:,}")
    if not valid:
        print(f"target: {target}: not measured (the caller did not complete its calls: "
              f"{last.completed:,} of {settings.calls:,} completed)")
        return False
    print(f"target: {target}: {'holds' if holds else 'does not hold'}")
    return holds


def _write_samples(samples: Sequence[Sample], path: Path) -> None:
    lines = ["elapsed_s;completed;failed;rss_kib"]
    lines += [f"{s.elapsed:.2f};{s.completed};{s.failed};{s.rss_kib}" for s in samples]
    path.write_text("\n".join(lines) + "\n")


def _show_errors(workdir: Path) -> None:
    for name in ("caller", "callee-a", "callee-b"):
        for line in error_lines(workdir, name, ERROR_LINES_SHOWN):
            print(f"    {name}: {line}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the soak; the exit code says whether the memory target holds."""
    settings = parse_settings(argv)
    workdir = fresh_run_directory("vipproxy-soak-", settings.workdir)
    print(f"files: {workdir}\n{settings.calls:,} calls at {settings.rate}/s "
          f"(variant {settings.variant})\n{TABLE_HEADER}", flush=True)
    def soak() -> int:
        result = run_soak(settings, workdir)
        _write_samples(result.samples, workdir / "samples.csv")
        holds = report(settings, result)
        if result.samples[-1].failed or result.callee_failed:
            _show_errors(workdir)
        return 0 if holds else 1

    return finish_run(soak, workdir, keep=settings.workdir is not None)

if __name__ == "__main__":
    sys.exit(main())
