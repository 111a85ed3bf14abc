#!/usr/bin/env python3
"""SIPp load through vipproxy (and Kamailio, for scale) in the parallel-fork call.

Each call: a SIPp caller INVITEs the service number through the proxy, which
forks to two SIPp callees at once. Callee A rings (180), answers (200) after
--answer-delay-ms; callee B either answers 486 at once (variant `busy`) or
rings until the proxy CANCELs it when A answers (variant `cancel`: 180,
CANCEL/200, 487/ACK). The caller ACKs the 200, holds for --hold-ms, sends BYE
through the Record-Route and waits for its 200. In the `vip` variant (vipproxy
only) the number called is an executive's line whose VIP callers ring the
executive alone (ring_me_only): the caller's From is a VIP contact's number,
callee A the executive's phone, callee B the assistant's, which must not ring
(were it rung, it would ring until cancelled: the call would still complete).

For every proxy, variant and call rate, one step starts a fresh proxy and a
fresh pair of callees, places `rate x --duration` calls (SIPp -r RATE -m N),
stops them all and prints one table row:

  attempted, completed, failed  calls counted by the SIPp caller; failed is
                                 every call that did not complete
  callee failed                  calls the callees saw begin but not end as
                                 their scenario says (SIPp's failed calls, for
                                 example no CANCEL or ACK came, plus calls still
                                 open 3 s after the caller finished)
  UDP drops                      datagrams the kernel dropped on the proxy's
                                 socket during the step (receive buffer full);
                                 with --workers, on all of its workers' sockets
  CPU s per 1000 calls           user+system CPU of the proxy (all its processes:
                                 Kamailio's workers too) during the step, from
                                 /proc/PID/stat, per 1000 attempted calls; the
                                 same number is the CPU milliseconds per call
  INVITE->180, BYE->200          p50/p90/p99 response times at the caller in ms,
                                 from SIPp's -trace_rtt; SIPp's clock moves in
                                 steps of the kernel tick (4 ms where this was
                                 written), so small values read 0 or 4
  503, other failed              failed calls split into those the proxy refused
                                 with 503 (load shedding) and all others
                                 (timeouts, aborted calls)
  goodput                        completed calls per second of placing calls
  INVITE->200                    p50/p90/p99 call setup time of answered calls
  violations                     of the invariants below; zero is the only pass
                                 (- with --skip-invariants)

Invariants (tools/bench/invariants.py), checked for every call from the SIPp
short traces (-trace_shortmsg: one line per message sent or received, matched
across the caller and the callees by Call-ID, which the proxy keeps through the
fork):

  answer          exactly one outcome reaches the caller: a 2xx that one callee
                  sent (retransmissions relayed are the same answer), or a final
                  refusal such as a 503 when the proxy sheds load; never both,
                  never none (a call that timed out is one), never two answers
  branch ended    every callee that got the INVITE got a CANCEL or sent a final
  call-id kept    every INVITE a callee got belongs to a call the caller placed
  not rung        (vip steps) callee B, the assistant's phone, got no INVITE
  left in proxy   (vipproxy) nothing is left in the proxy at exit: after the last
                  call and every transaction's linger (64*T1 = 32 s), the bench
                  stops the proxy with SIGTERM and reads the left_* counts of its
                  proxy.stopped line (with --workers, every worker's, summed);
                  each transaction, call or subscription left is one violation
                  (in watched steps, the shutdown's own final NOTIFYs are
                  expected: one client transaction per watcher)

A step with violations prints on stderr the count per invariant and the first
few, each with its Call-ID. The linger wait comes after the CPU is measured and
adds about 30 s to each vipproxy step. The short traces cost SIPp CPU (SIPp
writes and flushes a line per message: about 30% more SIPp CPU, some 5% of a
core at 300 calls/s for the three SIPps), never the proxy's; --skip-invariants
leaves them out, and the wait, for the cheapest load.

Overload and recovery (--then-rate R2,R3,... --then-duration S2,S3,...): each
step places calls at its rate for --duration seconds and then, on the same proxy
and the same caller (its rate changed through SIPp's control socket), at R2 for
S2 seconds, then R3 for S3 seconds, and so on. Under the row, one line per phase
gives offered, completed, goodput, 503s, other failures and setup times of the
calls placed in it (by call number), and when the last failed call of the phase
was placed: for the phase after an overload, how long after the rate dropped
failures went on. For example, twice the highest rate without failures, then
that rate:

  python tools/bench/run.py --proxies vipproxy --variants busy --rates 1600 \
      --duration 20 --then-rate 800 --then-duration 20

A proxy that has run for minutes costs more per call than a fresh one (see the
README, Speed): to overload a proxy in its steady state, warm it up at the rate
first, then overload it, then go back:

  python tools/bench/run.py --proxies vipproxy --variants busy --rates 320 \
      --duration 180 --then-rate 640,320 --then-duration 20,40

On a machine with few cores the SIPp processes compete with the proxy for CPU,
and an overloaded caller takes more of it than one at the capacity rate, so the
proxy's capacity would move with the offered rate. --pin runs the proxy under
test on the last CPU and every SIPp on the others (CPU affinity, inherited by
Kamailio's workers): use it for overload runs.

With Kamailio installed both proxies run by default, one after the other on the
same load, and a last table gives vipproxy's CPU per call over Kamailio's.

Workers (--workers N, 1 to 16): vipproxy (and vipproxy@base) runs N processes
sharing its UDP port, with `workers: {count: N, first_port: P}` (P 15100, for
vipproxy@base 15116: blocks clear of every other port of the bench). The kernel
gives each datagram to a worker by its sender's address and port, so the caller
places each call from a socket of its own (SIPp -t un: a port the kernel picks
per call), for every proxy of the run and with --workers 1 too: 1 and 2 workers
get the same load. A step starts once every worker listens; its CPU and UDP
drops are all the workers', its left_* counts the sum of their proxy.stopped
lines (report.py says how each field adds up), and its variant reads busy/w2.
With --pin the proxy gets the last N CPUs (N + 1 needed). Kamailio runs as
without the option. For example, one worker, then two, on the same load:

  python tools/bench/run.py --proxies vipproxy --variants busy --rates 600 --workers 1
  python tools/bench/run.py --proxies vipproxy --variants busy --rates 600 --workers 2

A user's line (--callees endpoints): the service number is the line of one user
whose static endpoints are the two callees, so the step costs what any user's
line does (dialog state, call history) on top of the static route's fork.

Registered callees (--callees endpoints,registered): in the `registered` steps
the service number is the line of one user with `endpoints: [registered]` and
digest credentials, and before the calls each callee registers as that user
from its own address and port (a SIPp playing scenarios/register.xml: 401,
then 200 with MD5 credentials); the proxy rings every registered contact at
once, sent to the address the REGISTER came from: the same two-branch fork as
the static route. For each variant and rate the steps of each kind run one
after the other, and last tables give the CPU per call of one kind over
another's: endpoints over static (what a user's line costs), registered over
endpoints (what registration costs: both are a user's line) (vipproxy only:
kamailio.cfg has no registrar, so Kamailio runs the static steps alone). For
example:

  python tools/bench/run.py --proxies vipproxy --callees endpoints,registered

Busy lamps (--callees registered,watched): a `watched` step is a registered step
with --watchers busy-lamp subscriptions (RFC 4235) to the service line, made by
a SIPp playing scenarios/watcher.xml as the line's owner before the calls; each
watcher gets a NOTIFY for every change of the line (ringing, answered, ended).
A last table gives the watched steps' CPU per call over the registered ones'
and the proxy's own change-to-NOTIFY delay (p50/p99, from its `proxy.stopped`
line). When watched steps run, the registered and watched steps both log at
info (the proxy reports that delay at info): the same logging in both.

  python tools/bench/run.py --proxies vipproxy --callees registered,watched --watchers 50

On a shared machine two steps a minute apart can differ by a fifth in CPU per
call with nothing changed, more than the comparisons look for. --rounds N runs
the steps of each variant and rate N times, the kinds taking turns (registered,
watched, registered, watched, ...), compares each round with its own, and gives
the median of the rounds' differences. For example:

  python tools/bench/run.py --proxies vipproxy --callees registered,watched --rounds 3

Before and after in one run (--baseline PATH): vipproxy is also started from
the checkout at PATH (for example a `git worktree add ../base COMMIT`), as
"vipproxy@base" on its own port, right after vipproxy on the same steps, and a
last table gives this checkout's CPU per call over the baseline's. For example:

  python tools/bench/run.py --rates 300 --duration 20 --baseline ../base

All traffic stays on 127.0.0.41-44; every process started is stopped at the
end, also on Ctrl-C, SIGTERM or an error. The defaults run for about ten
minutes with both proxies (three with --skip-invariants, without the vip steps);
a step with failed calls takes longer (up to --duration + --hold-ms + 2 x
--recv-timeout-ms + 8 s) as SIPp waits out its timeouts. The vip step runs once
per rate, whatever --callees says.

Usage (from the repository root):

  python tools/bench/run.py                          # both proxies, default steps
  python tools/bench/run.py --proxies kamailio       # only the reference
  python tools/bench/run.py --rates 300 --duration 20 --variants cancel
  python tools/bench/run.py --variants vip --proxies vipproxy       # ring_me_only only
  python tools/bench/run.py --workdir /tmp/bench --trace-messages   # keep SIPp logs
  python tools/bench/run.py --callees static,registered             # registered callees too

Exit code: 0 when every call of every step completed without a violation, 1
when some failed or an invariant was violated, 2 when a process could not
start, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from arguments import add_call_shape_arguments, positive_int, positive_ints
from checking import breakdown, check_step, read_leftovers
from invariants import Violation, total
from processes import (
    CpuSplit,
    ManagedProcess,
    ProcessFailed,
    ProcessSet,
    check_udp_port_free,
    cpu_seconds,
    fresh_run_directory,
    start_listening,
    udp_socket_drops,
    wait_until_listening,
)
from proxies import (
    BASELINE,
    DOMAIN,
    KAMAILIO_AS_RUN,
    MAX_WORKERS,
    TRANSACTION_LINGER_SECONDS,
    VIP_NUMBER,
    Fork,
    ProxyUnderTest,
    kamailio_installed,
    known_proxies,
)
from report import (
    PhaseResult,
    StepResult,
    callees_table,
    phase_lines,
    ratio_table,
    read_lamps,
    step_header,
    step_row,
    summarise,
    variant_width,
)
from sipp import (
    CALLER_USER,
    VARIANTS,
    Credentials,
    Endpoint,
    Outcomes,
    callee_command,
    caller_command,
    error_lines,
    read_answered,
    read_call_counts,
    read_outcomes,
    read_registered,
    read_response_times,
    register_command,
    watcher_command,
    write_users_file,
)

PROXY_HOST = "127.0.0.41"
CALLEE_A = Endpoint("127.0.0.42", 5070, 28842)
CALLEE_B = Endpoint("127.0.0.43", 5070, 28843)
CALLER = Endpoint("127.0.0.44", 5080, 28844)
STOP_GRACE_SECONDS = 5.0
CALLEE_LINGER_SECONDS = 3.0
ERROR_LINES_SHOWN = 5
# How the callees are reached: a static route to their addresses, or as the
# registered phones of one user (who registers them before the calls), who may
# also watch the line with busy lamps.
CALLEES = ("static", "endpoints", "registered", "watched")
PHONES = Credentials("bench", "bench-secret")
# The callees' bindings outlast any step (RFC 3261 §10.3: at most 3600 s here).
REGISTER_EXPIRES = 3600
REGISTER_SECONDS = 10.0
# The watchers subscribe from here, for longer than any step.
WATCHERS = Endpoint("127.0.0.45", 5090, 28845)
WATCH_EXPIRES = 3600
SUBSCRIBE_SECONDS = 10.0
# The ring_me_only step: a VIP contact calls an executive; callee B is the
# assistant's phone. Were it rung by mistake, it rings until cancelled, so the
# call still completes and only the `not rung` invariant tells.
VIP = "vip"
CALLEE_B_DOES = {**VARIANTS, VIP: "cancelled"}
# After the last call, the proxy is stopped once every transaction of it has had
# its full linger, and this much more.
LEFTOVER_MARGIN_SECONDS = 1.0
# How long the workers after the first may take to listen once it does.
WORKERS_START_SECONDS = 15.0
VIOLATIONS_SHOWN = 5


@dataclass(frozen=True)
class Settings:
    """The command line, checked."""

    proxies: tuple[str, ...]
    rates: tuple[int, ...]
    variants: tuple[str, ...]
    duration: int
    hold_ms: int
    answer_delay_ms: int
    recv_timeout_ms: int
    service: str
    workdir: Path | None
    trace_messages: bool
    pin: bool = False  # the proxy on one CPU, SIPp on the others (CpuSplit)
    # The phases after the first: (rate, seconds) each (--then-rate, --then-duration).
    then: tuple[tuple[int, int], ...] = ()
    callees: tuple[str, ...] = ("static",)
    watchers: int = 50
    baseline: Path | None = None  # another checkout, benched as BASELINE
    check_invariants: bool = True  # short traces, the exit dump and invariants.py
    rounds: int = 1  # each step this many times, the kinds of callees taking turns
    # vipproxy's worker processes (--workers); set, the caller uses a socket per call.
    # None: no workers section, one socket, as before the option existed.
    workers: int | None = None


def _workers(text: str) -> int:
    """A worker count vipproxy accepts (`workers.count`)."""
    count = positive_int(text)
    if count > MAX_WORKERS:
        raise argparse.ArgumentTypeError(f"expected 1 to {MAX_WORKERS} workers: {text!r}")
    return count


def _names(allowed: Sequence[str]) -> Callable[[str], tuple[str, ...]]:
    def parse(text: str) -> tuple[str, ...]:
        names = tuple(part.strip() for part in text.split(",") if part.strip())
        unknown = [name for name in names if name not in allowed]
        if unknown or not names:
            raise argparse.ArgumentTypeError(
                f"{text!r}: choose from {', '.join(allowed)} (comma-separated)"
            )
        return names
    return parse


def parse_settings(argv: Sequence[str] | None) -> Settings:
    """Read the command line."""
    default_proxies = "vipproxy,kamailio" if kamailio_installed() else "vipproxy"
    parser = argparse.ArgumentParser(
        prog="python tools/bench/run.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    # argparse runs string defaults through `type` too.
    parser.add_argument("--proxies", type=_names([*known_proxies(PROXY_HOST), BASELINE]),
                        default=default_proxies,
                        help=f"proxies to load, in order (default: {default_proxies})")
    parser.add_argument("--rates", type=positive_ints, default="100,200,300,500",
                        help="call rates in calls/s, one step each (default: 100,200,300,500)")
    parser.add_argument("--variants", type=_names([*VARIANTS, VIP]),
                        default=",".join([*VARIANTS, VIP]),
                        help="what callee B does: busy (486) and/or cancel (rings, is "
                             "CANCELled); vip: a VIP caller whose policy is ring_me_only, "
                             "callee B the assistant's phone that must not ring (vipproxy "
                             "only) (default: busy,cancel,vip)")
    parser.add_argument("--duration", type=positive_int, default=6,
                        help="seconds of calls per step: the step places rate x duration "
                             "calls (default: 6)")
    add_call_shape_arguments(parser)
    parser.add_argument("--callees", type=_names(CALLEES), default="static",
                        help="how the callees are reached: a static route (static), as "
                             "the static endpoints of one user (endpoints), as the "
                             "registered phones of one user (registered), and/or so while "
                             "--watchers lamps watch the line (watched); all but static "
                             "vipproxy only (default: static)")
    parser.add_argument("--watchers", type=positive_int, default=50,
                        help="busy-lamp subscriptions to the line in the watched steps "
                             "(default: 50)")
    parser.add_argument("--workdir", type=Path,
                        help="keep configs and SIPp logs in a new directory under this one "
                             "(default: a temporary directory, removed unless a call failed)")
    parser.add_argument("--then-rate", type=positive_ints,
                        help="after --duration seconds, go on at this rate on the same proxy "
                             "(overload, then recovery; see above); comma-separated for "
                             "one phase after another")
    parser.add_argument("--then-duration", type=positive_ints, default="20",
                        help="seconds of calls at each --then-rate, comma-separated in the "
                             "same order (default: 20)")
    parser.add_argument("--trace-messages", action="store_true",
                        help="make every SIPp log every message (slow; for debugging)")
    parser.add_argument("--skip-invariants", action="store_true",
                        help="no short traces, no wait for the proxy's exit dump: the "
                             "invariants go unchecked (violations column -)")
    parser.add_argument("--pin", action="store_true",
                        help="run the proxy on the last CPU (with --workers N, the last N) "
                             "and SIPp on the others, so that the load's own CPU does not "
                             "change the proxy's capacity (overload runs on a 2-core "
                             "machine)")
    parser.add_argument("--workers", type=_workers, metavar="N",
                        help=f"run vipproxy with N worker processes (1 to {MAX_WORKERS}: "
                             "workers.count) and place each call from its own socket "
                             "(SIPp -t un), also with 1, to compare counts on the same "
                             "load (default: one process, one socket, no workers section)")
    parser.add_argument("--rounds", type=positive_int, default=1,
                        help="run the steps of each variant and rate this many times, the "
                             "kinds of callees taking turns, and give each comparison of "
                             "kinds per round and its median: two steps on a shared host "
                             "differ by more than a comparison looks for (default: 1)")
    parser.add_argument("--baseline", type=_checkout, metavar="PATH",
                        help=f"also bench vipproxy from the checkout at PATH, as {BASELINE}, "
                             "right after vipproxy (before and after in one run)")
    args = parser.parse_args(argv)
    then_rates, then_durations = args.then_rate or (), args.then_duration
    if then_rates and len(then_durations) not in (1, len(then_rates)):
        parser.error(f"--then-duration: one value, or one per --then-rate "
                     f"({len(then_rates)}), not {len(then_durations)}")
    if len(then_durations) == 1:
        then_durations *= len(then_rates)
    if args.pin and args.workers is not None:
        cpus = len(os.sched_getaffinity(0))
        if cpus <= args.workers:
            parser.error(f"--pin with --workers {args.workers} runs the proxy on {args.workers} "
                         f"CPUs and SIPp on the others: it needs {args.workers + 1} CPUs, "
                         f"this process may use {cpus}")
    proxies = args.proxies
    if args.baseline is None and BASELINE in proxies:
        parser.error(f"--proxies {BASELINE} needs --baseline PATH")
    if args.baseline is not None and BASELINE not in proxies:
        after = proxies.index("vipproxy") + 1 if "vipproxy" in proxies else 0
        proxies = (*proxies[:after], BASELINE, *proxies[after:])
    return Settings(
        proxies=proxies, rates=args.rates, variants=args.variants,
        duration=args.duration, hold_ms=args.hold_ms, answer_delay_ms=args.answer_delay_ms,
        recv_timeout_ms=args.recv_timeout_ms, service=args.service, workdir=args.workdir,
        trace_messages=args.trace_messages, pin=args.pin,
        then=tuple(zip(then_rates, then_durations, strict=True)), callees=args.callees,
        watchers=args.watchers,
        baseline=args.baseline, check_invariants=not args.skip_invariants,
        rounds=args.rounds, workers=args.workers,
    )


def _checkout(text: str) -> Path:
    """A directory holding a vipproxy checkout (its proxy/ package)."""
    path = Path(text).resolve()
    if not (path / "proxy" / "__main__.py").is_file():
        raise argparse.ArgumentTypeError(f"{text!r}: no vipproxy checkout (proxy/__main__.py)")
    return path


def register_phone(running: ProcessSet, name: str, endpoint: Endpoint, proxy: ProxyUnderTest,
                   phones: Credentials, workdir: Path, recv_timeout_ms: int,
                   trace_messages: bool) -> None:
    """Register `phones`' contact at `endpoint` (its address and port) through `proxy`
    with digest, and wait until that SIPp has exited (freeing the port for the
    callee that listens there next); fail unless it got its 200."""
    registrant = f"{name}-register"
    check_udp_port_free(endpoint.host, endpoint.port)
    users_file = write_users_file(workdir / f"{registrant}.users.csv", [phones])
    process = running.start(ManagedProcess(registrant, register_command(
        registrant, endpoint, (proxy.host, proxy.port), users_file, users=1, rate=1,
        domain=DOMAIN, expires=REGISTER_EXPIRES, workdir=workdir,
        recv_timeout_ms=recv_timeout_ms, trace_messages=trace_messages),
        workdir, workdir / f"{registrant}.out"))
    process.wait(REGISTER_SECONDS + 2 * recv_timeout_ms / 1000)
    running.stop(process)
    if phones.user not in read_registered(workdir, registrant):
        errors = "\n".join(error_lines(workdir, registrant, ERROR_LINES_SHOWN))
        raise ProcessFailed(f"{registrant}: {phones.user} was not registered from "
                            f"{endpoint.host}:{endpoint.port}:\n{errors}\n"
                            f"{process.log_tail()}")


def start_callees(running: ProcessSet, proxy: ProxyUnderTest, fork: Fork, variant: str,
                  endpoints: tuple[Endpoint, Endpoint], calls: int, answer_delay_ms: int,
                  workdir: Path, recv_timeout_ms: int, trace_messages: bool,
                  short_trace: bool) -> list[ManagedProcess]:
    """Callee A (answers) and callee B (`variant`), each listening at its endpoint and
    handling `calls` calls; with `fork.phones`, each registers there first."""
    callees = []
    for name, behaviour, endpoint in (("callee-a", "answer", endpoints[0]),
                                      ("callee-b", CALLEE_B_DOES[variant], endpoints[1])):
        if fork.phones is not None:
            register_phone(running, name, endpoint, proxy, fork.phones, workdir,
                           recv_timeout_ms, trace_messages)
        callees.append(start_listening(running, ManagedProcess(name, callee_command(
            name, behaviour, endpoint, calls, answer_delay_ms, workdir, recv_timeout_ms,
            trace_messages, short_trace), workdir, workdir / f"{name}.out"),
            endpoint.host, endpoint.port))
    return callees


def start_watchers(running: ProcessSet, proxy: ProxyUnderTest, fork: Fork, watchers: int,
                   workdir: Path) -> None:
    """`watchers` lamp subscriptions to the service line as its owner; returns once
    every one got its 200 (the first NOTIFY follows it at once)."""
    assert fork.phones is not None
    check_udp_port_free(WATCHERS.host, WATCHERS.port)
    users_file = write_users_file(workdir / "watchers.users.csv", [fork.phones])
    process = running.start(ManagedProcess("watchers", watcher_command(
        "watchers", WATCHERS, (proxy.host, proxy.port), users_file, watchers, fork.service,
        DOMAIN, WATCH_EXPIRES, workdir), workdir, workdir / "watchers.out"))
    deadline = time.monotonic() + SUBSCRIBE_SECONDS
    while len(read_answered(workdir, "watchers")) < watchers:
        if time.monotonic() > deadline or process.exit_code() is not None:
            errors = "\n".join(error_lines(workdir, "watchers", ERROR_LINES_SHOWN))
            raise ProcessFailed(f"watchers: {len(read_answered(workdir, 'watchers'))} of "
                                f"{watchers} subscribed:\n{errors}\n{process.log_tail()}")
        time.sleep(0.1)


def run_step(settings: Settings, proxy: ProxyUnderTest, fork: Fork, variant: str, rate: int,
             step_dir: Path, reach: str = "static") -> StepResult:
    """Start a fresh proxy and callees, place rate x duration calls, measure, stop all.

    A fresh proxy per step keeps the steps independent: an overloaded step
    cannot leave retransmissions and half-open transactions to the next one.
    """
    step_dir.mkdir(parents=True)
    checking = settings.check_invariants
    first_calls = rate * settings.duration
    calls = first_calls + sum(then_rate * seconds for then_rate, seconds in settings.then)
    seconds = settings.duration + sum(seconds for _, seconds in settings.then)
    timeout = settings.recv_timeout_ms
    split = CpuSplit.of_this_machine(proxy.workers or 1) if settings.pin else None
    # Where the proxy receives: its port and, with workers, each worker's own port.
    ports = (proxy.port, *proxy.worker_ports)
    with ProcessSet(STOP_GRACE_SECONDS, split) as running:
        for port in proxy.worker_ports:
            check_udp_port_free(proxy.host, port)
        proxy_process = start_listening(
            running, proxy.process(fork, step_dir), proxy.host, proxy.port, proxy=True)
        _wait_for_workers(proxy_process, proxy)
        callees = start_callees(running, proxy, fork, variant, (CALLEE_A, CALLEE_B), calls,
                                settings.answer_delay_ms, step_dir, timeout,
                                settings.trace_messages, checking)
        if reach == "watched":
            start_watchers(running, proxy, fork, settings.watchers, step_dir)
        check_udp_port_free(CALLER.host, CALLER.port)
        caller = ManagedProcess("caller", caller_command(
            CALLER, (proxy.host, proxy.port), settings.service, rate, calls,
            settings.hold_ms, step_dir, timeout, settings.trace_messages, checking,
            fork.vip_caller or CALLER_USER, socket_per_call=settings.workers is not None),
            step_dir, step_dir / "caller.out")

        cpu_before = cpu_seconds(proxy_process.pid)
        drops_before = _udp_drops(proxy.host, ports)
        started = time.monotonic()
        running.start(caller)
        change_at = started + settings.duration
        for then_rate, phase_seconds in settings.then:
            _change_rate_at(change_at, then_rate)
            change_at += phase_seconds
        # Every call is over by then: placed within the phases, then setup, hold
        # and BYE, each bounded by SIPp's receive timeout.
        deadline = started + seconds + (settings.hold_ms + 2 * timeout) / 1000 + 5
        caller.wait(max(0.0, deadline - time.monotonic()))
        calls_over = time.monotonic()
        # The callees end their last calls shortly after (callee A holds each call
        # 2 s after the BYE); whatever is still open then counts as failed.
        deadline = time.monotonic() + CALLEE_LINGER_SECONDS
        for callee in callees:
            callee.wait(max(0.0, deadline - time.monotonic()))
        wall = time.monotonic() - started
        cpu_used = cpu_seconds(proxy_process.pid) - cpu_before
        drops = _udp_drops(proxy.host, ports) - drops_before
        if proxy_process.exit_code() is not None:
            raise ProcessFailed(
                f"{proxy.name} exited with {proxy_process.exit_code()} during the step:\n"
                f"{proxy_process.log_tail()}"
            )
        left = None
        if checking and proxy.reports_leftovers:
            left = _stop_after_linger(running, proxy_process, calls_over)

    violations = None
    if checking:
        # The shutdown's own final NOTIFYs leave a client transaction each (Timer K).
        expected = {"left_client_transactions": settings.watchers} if reach == "watched" else {}
        found = check_step(step_dir, [callee.name for callee in callees],
                           "callee-b" if fork.vip_caller else None, left, expected)
        violations = total(found)
        if found:
            print("\n".join(f"    {proxy.name} {variant}-{rate}: {line}"
                            for line in breakdown(found, VIOLATIONS_SHOWN)),
                  file=sys.stderr, flush=True)
    counts = read_call_counts(step_dir / "caller.stat.csv")
    times = read_response_times(step_dir)
    outcomes = read_outcomes(step_dir)
    phases: list[PhaseResult] = []
    if settings.then:
        first_call, starts_at = 1, 0.0
        for phase_rate, phase_seconds in ((rate, settings.duration), *settings.then):
            phases.append(_phase(outcomes, step_dir, phase_rate, phase_seconds, first_call,
                                 starts_at))
            first_call += phase_rate * phase_seconds
            starts_at += phase_seconds
    return StepResult(
        proxy=proxy.name, variant=variant, rate=rate, attempted=counts.created,
        callees=reach,
        # SIPp counts a call stopped after a 503 as successful: the outcomes say.
        completed=len(outcomes.completed),
        callee_failed=sum(read_call_counts(step_dir / f"{callee.name}.stat.csv").unfinished
                          for callee in callees),
        cpu_seconds=cpu_used, udp_drops=drops,
        ring_ms=summarise(times.get("ring", [])), bye_ms=summarise(times.get("bye", [])),
        wall_seconds=wall, shed=len(outcomes.shed),
        setup_ms=summarise(times.get("setup", [])),
        seconds=seconds, phases=tuple(phases),
        lamps=read_lamps(proxy_process.log_path) if reach == "watched" else None,
        violations=violations, workers=proxy.workers,
    )


def _wait_for_workers(proxy_process: ManagedProcess, proxy: ProxyUnderTest) -> None:
    """With several workers, wait until each has bound the shared port and its own,
    so that the calls are spread over all of them from the first."""
    if proxy.workers is None or proxy.workers == 1:
        return
    wait_until_listening(proxy_process, proxy.host, proxy.port, WORKERS_START_SECONDS,
                         sockets=proxy.workers)
    for port in proxy.worker_ports:
        wait_until_listening(proxy_process, proxy.host, port, WORKERS_START_SECONDS)


def _udp_drops(host: str, ports: Sequence[int]) -> int:
    """Datagrams dropped so far on the sockets bound to `ports` of `host`."""
    return sum(udp_socket_drops(host, port) or 0 for port in ports)


def _stop_after_linger(running: ProcessSet, proxy_process: ManagedProcess,
                       calls_over: float) -> dict[str, int] | Violation:
    """Wait until every transaction of the last call has lingered its full time,
    stop the proxy (SIGTERM: it drains and logs its exit dump) and read what it
    still held. The CPU was measured before: the wait costs wall time only."""
    time.sleep(max(0.0, calls_over + TRANSACTION_LINGER_SECONDS + LEFTOVER_MARGIN_SECONDS
                   - time.monotonic()))
    running.stop(proxy_process)
    return read_leftovers(proxy_process.log_path, proxy_process.exit_code())


def _change_rate_at(when: float, rate: int) -> None:
    """At monotonic time `when`, set the caller's call rate (SIPp's UDP control
    socket takes keyboard commands; "c" starts a command line)."""
    time.sleep(max(0.0, when - time.monotonic()))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as control:
        control.sendto(f"cset rate {rate}".encode(), (CALLER.host, CALLER.control_port))


def _phase(outcomes: Outcomes, step_dir: Path, rate: int, seconds: int, first_call: int,
           starts_at: float) -> PhaseResult:
    """The calls numbered first_call .. first_call + rate x seconds - 1, which SIPp
    placed at `rate` from `starts_at` seconds into the step."""
    numbers = range(first_call, first_call + rate * seconds)
    failed = [n for n in numbers if n not in outcomes.completed]
    # SIPp paces calls evenly: call n of the phase goes out at (n - first) / rate.
    failures_until = (failed[-1] - first_call + 1) / rate if failed else None
    window = (1000 * starts_at, 1000 * (starts_at + seconds))
    setup = read_response_times(step_dir, window).get("setup", [])
    return PhaseResult(
        rate=rate, seconds=seconds, offered=len(numbers),
        completed=sum(1 for n in numbers if n in outcomes.completed),
        shed=sum(1 for n in numbers if n in outcomes.shed),
        setup_ms=summarise(setup), failures_until=failures_until,
    )


def _show_errors(step_dir: Path) -> None:
    for name in ("caller", "callee-a", "callee-b", "callee-a-register", "callee-b-register"):
        for line in error_lines(step_dir, name, ERROR_LINES_SHOWN):
            print(f"    {name}: {line}")


def bench_proxy(settings: Settings, proxy: ProxyUnderTest, fork: Fork,
                workdir: Path) -> list[StepResult]:
    """Run every variant and rate through `proxy`, printing a row per step; with
    registered callees too, the static and the registered step of each variant
    and rate one after the other (a proxy without a registrar runs the static),
    the whole turn --rounds times."""
    results: list[StepResult] = []
    # With lamps in the run both registered kinds log at info (see the docstring).
    level = "info" if "watched" in settings.callees else fork.log_level
    registered = replace(fork, phones=PHONES, log_level=level)
    forks = {"static": fork, "endpoints": replace(fork, static_user=True), "registered": registered,
             "watched": registered}
    callees = [c for c in settings.callees if c == "static" or proxy.registrar]
    if not callees:
        print(f"{proxy.name}: no registrar, and only registered callees asked for: skipped",
              flush=True)
    if VIP in settings.variants and not proxy.delegation:
        print(f"{proxy.name}: no VIP policies: no {VIP} steps", flush=True)
    for variant in settings.variants:
        # The vip step is its own set-up: an executive's line with static phones.
        kinds = callees if variant != VIP else ["static"] if proxy.delegation else []
        for rate in settings.rates:
            for round_number in range(1, settings.rounds + 1):
                for reach in kinds:
                    suffix = "" if reach == "static" else f"-{reach}"
                    if settings.rounds > 1:
                        suffix += f"-{round_number}"
                    step_dir = workdir / proxy.name / f"{variant}-{rate}{suffix}"
                    fork_of_step = (forks[reach] if variant != VIP
                                    else replace(fork, vip_caller=VIP_NUMBER))
                    result = replace(run_step(settings, proxy, fork_of_step, variant, rate,
                                              step_dir, reach), round=round_number)
                    print(step_row(result, variant_width(settings.workers)), flush=True)
                    for line in phase_lines(result):
                        print(line, flush=True)
                    if result.failed or result.callee_failed:
                        _show_errors(step_dir)
                    results.append(result)
    return results


def _workers_lines(settings: Settings, proxies: dict[str, ProxyUnderTest]) -> list[str]:
    """What --workers changed, for the lines above the table (none without it)."""
    if settings.workers is None:
        return []
    lines = [f"{name}: {proxy.workers} worker{'s' if proxy.workers != 1 else ''} "
             f"(workers: count {proxy.workers}, first_port {proxy.first_worker_port}); "
             f"its variants are marked /w{proxy.workers}"
             for name, proxy in proxies.items()
             if name in settings.proxies and proxy.workers is not None]
    return [*lines, "caller: a UDP socket per call (SIPp -t un), for every proxy of the run"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the bench; the exit code says whether every call completed."""
    settings = parse_settings(argv)
    workdir = fresh_run_directory("vipproxy-bench-", settings.workdir)
    fork = Fork(settings.service, (f"sip:a@{CALLEE_A.host}:{CALLEE_A.port}",
                                   f"sip:b@{CALLEE_B.host}:{CALLEE_B.port}"), CALLER.host)
    proxies = known_proxies(PROXY_HOST, settings.baseline, settings.workers)
    if "kamailio" in settings.proxies:
        print(f"kamailio: {KAMAILIO_AS_RUN}, 2 children (tools/bench/kamailio.cfg)")
    for line in _workers_lines(settings, proxies):
        print(line)
    print(f"files: {workdir}\n{step_header(variant_width(settings.workers))}", flush=True)
    results: list[StepResult] = []
    exit_code = 0
    try:
        for name in settings.proxies:
            results += bench_proxy(settings, proxies[name], fork, workdir)
    except ProcessFailed as error:
        print(f"error: {error}", file=sys.stderr)
        exit_code = 2
    except KeyboardInterrupt:
        print("interrupted; every process started was stopped", file=sys.stderr)
        exit_code = 130
    benched = {result.proxy for result in results}
    for numerator, denominator in (("vipproxy", BASELINE), ("vipproxy", "kamailio"),
                                   (BASELINE, "kamailio")):
        if {numerator, denominator} <= benched:
            print("\n" + ratio_table(results, numerator, denominator))
    kinds = {result.callees for result in results}
    for base, other in (("static", "endpoints"), ("endpoints", "registered"),
                        ("registered", "watched")):
        if {base, other} <= kinds:
            print("\n" + callees_table(results, base, other))
    all_completed = all(not r.failed and not r.callee_failed for r in results)
    violated = sum(r.violations or 0 for r in results)
    if violated:
        print(f"\n{violated} violations of the invariants (zero is the only pass); "
              "the first of each step are listed above on stderr")
    if exit_code == 0 and (not all_completed or violated):
        exit_code = 1
    if settings.workdir is None and exit_code == 0:
        shutil.rmtree(workdir)
    else:
        print(f"\nlogs kept in {workdir}")
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
