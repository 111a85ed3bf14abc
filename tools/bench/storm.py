#!/usr/bin/env python3
"""A registration storm: many users register with digest while calls go on.

One run starts the proxy of this checkout with a generated config: the
bench's parallel-fork call (tools/bench/run.py, whose modules this script
uses; by default its callees are the registered phones of user `bench`, see
--callees) plus --users users u0001, u0002, ... each with a line (30001, ...),
`endpoints: [registered]` and a digest password. Then:

  1. the two callees register (with --callees registered) and start;
  2. a SIPp caller places calls at --rate calls/s for --lead-seconds alone,
     through --register-seconds of storm and --tail-seconds after it;
  3. after --lead-seconds, one SIPp registrant registers every user once, from
     its own address, users / --register-seconds new users a second
     (scenarios/register.xml with an injection file of the users and their
     passwords: REGISTER, 401, REGISTER with MD5 credentials, 200).

A row is printed every second: users registered so far, calls completed and
failed so far, the proxy's CPU (100 = one core) and the whole machine's
(100 = every core busy). At the end:

  users registered     users whose second REGISTER was answered 200 (target:
                       all); over how many seconds the registrant sent the
                       users' first REGISTERs (target: --register-seconds at
                       most), and when the last 200 arrived, in seconds after
                       the first REGISTER
  REGISTER times       p50/p90/p99 ms from the first REGISTER to the 401, and
                       to the 200 (both round trips); SIPp's clock moves in
                       steps of the kernel tick
  calls                attempted, completed, failed (target: none failed),
                       503s, and calls the callees saw begin but not end
  proxy CPU            % of one core with calls alone (after the first second)
                       and during the storm, CPU seconds of the whole run, and
                       an estimate of CPU ms per registration: the storm's CPU
                       less what the calls alone used in as long, per user
  UDP drops            datagrams the kernel dropped on the proxy's socket

All traffic stays on 127.0.0.61-65. The run stops by itself: the registrant
is cut off --register-seconds x 1.5 + 2 x --recv-timeout-ms + 10 s after it
started, the caller when its last call is overdue (as in run.py). Every
process started is stopped by pid (and process group) at the end, also on
Ctrl-C, SIGTERM or an error.

Usage (from the repository root):

  python tools/bench/storm.py                          # 2000 users in 10 s, 100 calls/s
  python tools/bench/storm.py --users 5000 --register-seconds 10 --rate 200
  python tools/bench/storm.py --callees static --workdir /tmp/storm   # keep the files

Exit code: 0 when every user registered and every call completed, 1 when not,
2 when a process could not start or the proxy exited, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from arguments import add_call_shape_arguments, positive_int
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
from proxies import (
    DOMAIN,
    Fork,
    known_proxies,
    registering_user,
    registrar_sections,
    vipproxy_config,
    vipproxy_process,
)
from report import summarise
from run import CALLEES, PHONES, REGISTER_EXPIRES, start_callees
from sipp import (
    VARIANTS,
    Credentials,
    Endpoint,
    caller_command,
    error_lines,
    read_call_counts,
    read_measurements,
    read_outcomes,
    read_registered,
    register_command,
    write_users_file,
)

PROXY = known_proxies("127.0.0.61")["vipproxy"]
CALLEE_A = Endpoint("127.0.0.62", 5070, 28862)
CALLEE_B = Endpoint("127.0.0.63", 5070, 28863)
CALLER = Endpoint("127.0.0.64", 5080, 28864)
REGISTRANT = Endpoint("127.0.0.65", 5090, 28865)
REGISTRANT_NAME = "registrant"
FIRST_LINE = 30001
STOP_GRACE_SECONDS = 5.0
CALLEE_LINGER_SECONDS = 3.0
# Calls alone are measured from this long after the first call (SIPp ramping up).
WARM_UP_SECONDS = 1.0
ROW_SECONDS = 1.0
ROW_SLACK_SECONDS = 0.005
REGISTRANT_DEADLINE_FACTOR = 1.5
DEADLINE_MARGIN_SECONDS = 10.0
ERROR_LINES_SHOWN = 5
PERCENTILES = "p50/p90/p99"
TABLE_HEADER = (f"{'elapsed s':>9}  {'registered':>10}  {'calls ok':>8}  {'failed':>6}  "
                f"{'proxy CPU %':>11}  {'machine busy %':>14}")


@dataclass(frozen=True)
class Settings:
    """The command line, checked."""

    users: int
    register_seconds: int
    rate: int
    lead_seconds: int
    tail_seconds: int
    callees: str
    variant: str
    hold_ms: int
    answer_delay_ms: int
    recv_timeout_ms: int
    service: str
    workdir: Path | None

    @property
    def register_rate(self) -> int:
        """New users a second: all of them within --register-seconds."""
        return math.ceil(self.users / self.register_seconds)

    @property
    def calls(self) -> int:
        """Calls placed: at --rate before, during and after the storm."""
        return self.rate * (self.lead_seconds + self.register_seconds + self.tail_seconds)


@dataclass(frozen=True)
class StormResult:
    """What one run measured."""

    users: int
    registered: int
    register_wall: float  # registrant start to exit, seconds
    # Seconds since the registrant sent the first user's first REGISTER: when it
    # sent the last user's, and when the last 200 arrived; None when no user was
    # answered.
    last_sent: float | None
    last_ok: float | None
    challenge_ms: tuple[float | None, ...]
    register_ms: tuple[float | None, ...]
    attempted: int
    completed: int
    shed: int
    callee_failed: int
    calls_alone_cpu_percent: float
    storm_cpu_percent: float
    storm_cpu_seconds: float
    run_cpu_seconds: float
    udp_drops: int

    @property
    def failed(self) -> int:
        """Calls that did not complete."""
        return self.attempted - self.completed

    def sent_in_time(self, seconds: int) -> bool:
        """Whether the registrant sent every user's first REGISTER within `seconds` of
        the first (it falls behind only when the machine cannot run it on time)."""
        return self.last_sent is not None and self.last_sent <= seconds

    @property
    def cpu_ms_per_registration(self) -> float | None:
        """The storm's CPU less the calls' share at their own rate, per user registered."""
        if not self.registered:
            return None
        calls_share = self.calls_alone_cpu_percent / 100 * self.register_wall
        return 1000 * (self.storm_cpu_seconds - calls_share) / self.registered


def parse_settings(argv: Sequence[str] | None) -> Settings:
    """Read the command line."""
    parser = argparse.ArgumentParser(
        prog="python tools/bench/storm.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--users", type=positive_int, default=2000,
                        help="users that register, once each (default: 2000)")
    parser.add_argument("--register-seconds", type=positive_int, default=10,
                        help="seconds in which the registrant starts every user's "
                             "registration (default: 10)")
    parser.add_argument("--rate", type=positive_int, default=100,
                        help="calls per second throughout (default: 100)")
    parser.add_argument("--lead-seconds", type=positive_int, default=5,
                        help="seconds of calls alone before the storm (default: 5)")
    parser.add_argument("--tail-seconds", type=positive_int, default=3,
                        help="seconds of calls after the storm's planned end (default: 3)")
    parser.add_argument("--callees", choices=CALLEES, default="registered",
                        help="how the calls' two callees are reached: registered phones "
                             "of user bench, or a static route (default: registered)")
    parser.add_argument("--variant", choices=list(VARIANTS), default="cancel",
                        help="what callee B does: busy (486) or cancel (rings, is "
                             "CANCELled) (default: cancel)")
    add_call_shape_arguments(parser)
    parser.add_argument("--workdir", type=Path,
                        help="keep the config, logs and SIPp files in a new directory "
                             "under this one (default: a temporary directory, removed "
                             "unless the run failed)")
    args = parser.parse_args(argv)
    return Settings(
        users=args.users, register_seconds=args.register_seconds, rate=args.rate,
        lead_seconds=args.lead_seconds, tail_seconds=args.tail_seconds,
        callees=args.callees, variant=args.variant, hold_ms=args.hold_ms,
        answer_delay_ms=args.answer_delay_ms, recv_timeout_ms=args.recv_timeout_ms,
        service=args.service, workdir=args.workdir,
    )


def storm_users(count: int) -> list[Credentials]:
    """u0001, u0002, ... (wider past 9999), each with a password of its own."""
    width = max(4, len(str(count)))
    return [Credentials(f"u{n:0{width}d}", f"storm-{n:0{width}d}-secret")
            for n in range(1, count + 1)]


def storm_config(fork: Fork, users: Sequence[Credentials]) -> dict[str, Any]:
    """The bench's config for `fork` plus `users`, each with a line and registered phones."""
    config = vipproxy_config(PROXY, fork)
    entries = {user.user: registering_user(user, [str(FIRST_LINE + n)])
               for n, user in enumerate(users)}
    return {**config, **registrar_sections({**config.get("users", {}), **entries})}


def _cpu_percent(before: tuple[float, float, int, int],
                 after: tuple[float, float, int, int]) -> float:
    return 100 * (after[1] - before[1]) / max(after[0] - before[0], 1e-6)


def _print_row(elapsed: float, storm_dir: Path, workdir: Path, meter: CpuMeter) -> None:
    registered = len(read_registered(storm_dir, REGISTRANT_NAME))
    counts = read_call_counts(workdir / "caller.stat.csv")
    proxy_cpu, machine_busy = meter.since_last()
    # SIPp's "successful" covers every call that ended; open calls are not failed yet.
    print(f"{elapsed:>9.0f}  {registered:>10,}  {counts.successful:>8,}  "
          f"{counts.failed:>6,}  {proxy_cpu:>11.0f}  {machine_busy:>14.0f}",
          flush=True)


def _wait_printing(process: ManagedProcess, until: float, started: float, storm_dir: Path,
                   workdir: Path, meter: CpuMeter) -> None:
    """Wait for `process` to exit or the monotonic time `until`, printing a row at
    every whole second since `started` (the phases before the storm end on one)."""
    while process.exit_code() is None and time.monotonic() < until:
        now = time.monotonic()
        next_row = started + (math.floor((now - started) / ROW_SECONDS) + 1) * ROW_SECONDS
        # Returns as soon as the process exits: the registrant's time is not rounded
        # up to the next row.
        process.wait(max(0.0, min(next_row, until) - now))
        if time.monotonic() >= next_row - ROW_SLACK_SECONDS:
            _print_row(time.monotonic() - started, storm_dir, workdir, meter)


def run_storm(settings: Settings, workdir: Path) -> StormResult:
    """Start the proxy, the callees, the caller, then the registrant; measure; stop all."""
    fork = Fork(settings.service, (f"sip:a@{CALLEE_A.host}:{CALLEE_A.port}",
                                   f"sip:b@{CALLEE_B.host}:{CALLEE_B.port}"), CALLER.host)
    if settings.callees == "registered":
        fork = replace(fork, phones=PHONES)
    users = storm_users(settings.users)
    # The registrant's SIPp files apart from the callees' own registrations.
    storm_dir = workdir / "storm"
    storm_dir.mkdir()
    users_file = write_users_file(storm_dir / "users.csv", users)
    timeout = settings.recv_timeout_ms
    with ProcessSet(STOP_GRACE_SECONDS) as running:
        proxy = start_listening(running, vipproxy_process(PROXY, storm_config(fork, users),
                                                          workdir), PROXY.host, PROXY.port)
        callees = start_callees(running, PROXY, fork, settings.variant, (CALLEE_A, CALLEE_B),
                                settings.calls, settings.answer_delay_ms, workdir, timeout,
                                trace_messages=False, short_trace=False)
        for endpoint in (CALLER, REGISTRANT):
            check_udp_port_free(endpoint.host, endpoint.port)
        caller = ManagedProcess("caller", caller_command(
            CALLER, (PROXY.host, PROXY.port), settings.service, settings.rate, settings.calls,
            settings.hold_ms, workdir, timeout, trace_messages=False),
            workdir, workdir / "caller.out")
        registrant = ManagedProcess(REGISTRANT_NAME, register_command(
            REGISTRANT_NAME, REGISTRANT, (PROXY.host, PROXY.port), users_file,
            users=settings.users, rate=settings.register_rate, domain=DOMAIN,
            expires=REGISTER_EXPIRES, workdir=storm_dir, recv_timeout_ms=timeout,
            trace_messages=False), storm_dir, storm_dir / f"{REGISTRANT_NAME}.out")

        drops_before = udp_socket_drops(PROXY.host, PROXY.port) or 0
        meter = CpuMeter(proxy.pid)
        run_start = meter.read()
        started = run_start[0]
        running.start(caller)
        _wait_printing(caller, started + WARM_UP_SECONDS, started, storm_dir, workdir, meter)
        calls_alone_start = meter.read()
        _wait_printing(caller, started + settings.lead_seconds, started, storm_dir, workdir,
                       meter)
        storm_start = meter.read()
        running.start(registrant)
        print(f"{storm_start[0] - started:>9.0f}  storm: {settings.users:,} users at "
              f"{settings.register_rate}/s", flush=True)
        _wait_printing(registrant, storm_start[0] + settings.register_seconds
                       * REGISTRANT_DEADLINE_FACTOR + 2 * timeout / 1000
                       + DEADLINE_MARGIN_SECONDS, started, storm_dir, workdir, meter)
        storm_end = meter.read()
        running.stop(registrant)
        caller_deadline = (started + settings.calls / settings.rate
                           + (settings.hold_ms + 2 * timeout) / 1000 + 5)
        _wait_printing(caller, caller_deadline, started, storm_dir, workdir, meter)
        run_end = meter.read()
        running.stop(caller)
        linger_until = time.monotonic() + CALLEE_LINGER_SECONDS
        for callee in callees:
            callee.wait(max(0.0, linger_until - time.monotonic()))
        drops = (udp_socket_drops(PROXY.host, PROXY.port) or 0) - drops_before
        if proxy.exit_code() is not None:
            raise ProcessFailed(f"vipproxy exited with {proxy.exit_code()} during the run:\n"
                                f"{proxy.log_tail()}")

    measured = read_measurements(storm_dir, scenario="register")
    # Every answered user has a challenge time; its start is when the user was sent.
    sent = [m.started_ms / 1000 for m in measured.get("challenge", [])]
    first = min(sent, default=0.0)
    answered = [m.ended_ms / 1000 - first for m in measured.get("register", [])]
    outcomes = read_outcomes(workdir)
    return StormResult(
        users=settings.users, registered=len(read_registered(storm_dir, REGISTRANT_NAME)),
        register_wall=storm_end[0] - storm_start[0],
        last_sent=max(sent) - first if sent else None,
        last_ok=max(answered, default=None),
        challenge_ms=summarise([m.took_ms for m in measured.get("challenge", [])]),
        register_ms=summarise([m.took_ms for m in measured.get("register", [])]),
        attempted=read_call_counts(workdir / "caller.stat.csv").created,
        completed=len(outcomes.completed), shed=len(outcomes.shed),
        callee_failed=sum(read_call_counts(workdir / f"{callee.name}.stat.csv").unfinished
                          for callee in callees),
        calls_alone_cpu_percent=_cpu_percent(calls_alone_start, storm_start),
        storm_cpu_percent=_cpu_percent(storm_start, storm_end),
        storm_cpu_seconds=storm_end[1] - storm_start[1],
        run_cpu_seconds=run_end[1] - run_start[1], udp_drops=drops,
    )


def _ms(values: tuple[float | None, ...]) -> str:
    return "/".join("-" if value is None else f"{value:g}" for value in values)


def report(settings: Settings, result: StormResult) -> bool:
    """Print the summary; whether every user registered and every call completed."""
    per_registration = result.cpu_ms_per_registration
    print()
    print(f"users registered (200)           {result.registered:>7,} of {result.users:,}"
          f"   (asked: within {settings.register_seconds} s, {settings.register_rate}/s)")
    print(f"users' first REGISTERs sent over {_seconds(result.last_sent):>7} s   "
          f"(the first user's to the last user's)")
    print(f"last 200 arrived                 {_seconds(result.last_ok):>7} s   "
          f"after the first REGISTER (the registrant ran {result.register_wall:.2f} s)")
    print(f"REGISTER -> 401 ms {PERCENTILES}    {_ms(result.challenge_ms)}")
    print(f"REGISTER -> 200 ms {PERCENTILES}    {_ms(result.register_ms)}"
          f"   (first REGISTER to the 200: both round trips)")
    print(f"calls attempted                  {result.attempted:>7,}   "
          f"({settings.rate}/s, {settings.callees} callees, variant {settings.variant})")
    print(f"calls completed                  {result.completed:>7,}")
    print(f"calls failed                     {result.failed:>7,}   (503: {result.shed:,}; "
          f"callees: {result.callee_failed:,} not ended as their scenario says)")
    print(f"proxy CPU, calls alone           {result.calls_alone_cpu_percent:>7.0f} % "
          f"of one core")
    print(f"proxy CPU, during the storm      {result.storm_cpu_percent:>7.0f} % of one core"
          f"   ({result.storm_cpu_seconds:.2f} s in {result.register_wall:.1f} s)")
    print(f"proxy CPU, whole run             {result.run_cpu_seconds:>7.2f} s")
    if per_registration is not None:
        print(f"proxy CPU per registration       {per_registration:>7.2f} ms"
              f"   (estimate: the storm's CPU less the calls' share, per user)")
    print(f"UDP drops on the proxy's socket  {result.udp_drops:>7,}")
    in_time = result.sent_in_time(settings.register_seconds)
    if not in_time:
        print(f"the registrant fell behind: not every user was sent within "
              f"{settings.register_seconds} s (is the machine busy?)")
    ok = result.registered == result.users and result.failed == 0 \
        and result.callee_failed == 0 and in_time
    print(f"targets: every user sent in time and registered, no call failed: "
          f"{'met' if ok else 'NOT met'}")
    return ok


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _show_errors(workdir: Path) -> None:
    for directory, name in ((workdir / "storm", REGISTRANT_NAME), (workdir, "caller"),
                            (workdir, "callee-a"), (workdir, "callee-b")):
        for line in error_lines(directory, name, ERROR_LINES_SHOWN):
            print(f"    {name}: {line}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the storm; the exit code says whether the targets were met."""
    settings = parse_settings(argv)
    workdir = fresh_run_directory("vipproxy-storm-", settings.workdir)
    print(f"files: {workdir}\n{settings.users:,} users registering in "
          f"{settings.register_seconds} s from {settings.lead_seconds} s on, calls at "
          f"{settings.rate}/s for {settings.calls // settings.rate} s\n{TABLE_HEADER}",
          flush=True)
    def storm() -> int:
        result = run_storm(settings, workdir)
        met = report(settings, result)
        if not met:
            _show_errors(workdir)
        return 0 if met else 1

    return finish_run(storm, workdir, keep=settings.workdir is not None)

if __name__ == "__main__":
    sys.exit(main())
