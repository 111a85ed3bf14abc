#!/usr/bin/env python3
"""Busy lamps in process: the CPU a NOTIFY and its 200 cost, without sockets.

Wires the real ``ProxyCore``, dialog tracker, ``Notifier`` and ``Lamps`` of this
checkout as ``proxy.app`` does, on the fake loop of tests/unit/fakelink.py, and
places the calls of tools/bench/run.py's busy variant (B answers 486, A rings
--answer-delay-ms and answers, the caller holds --hold-ms and hangs up), --rate
per second of the fake clock and overlapping as there, on a user's line watched
by --watchers subscriptions. The fake clock moves in 1 ms steps and every NOTIFY
the proxy sends is answered 200 at the end of its step (the 200 made with a few
byte operations, timed apart and left out; callgrind counts them, a small part).

Each run is two processes, the same calls without watchers and with them, and
prints the CPU (process time) per call of each, the NOTIFYs per call, and the
difference per NOTIFY: what a NOTIFY and its 200 cost the proxy. --callgrind
counts instructions instead (valgrind, as tools/bench_core.py: only inside the
calls, steady on a busy machine). --profile prints the cProfile of the watched
run instead (top functions by own time).

Usage (from the repository root):

  python3 tools/bench_lamps.py                      # 50 watchers, 500 calls
  python3 tools/bench_lamps.py --watchers 10 --rate 20
  python3 tools/bench_lamps.py --callgrind --calls 100
  python3 tools/bench_lamps.py --profile | head -60
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import heapq
import logging
import os
import pstats
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import starmap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests" / "unit"), str(ROOT), str(ROOT / "tools")]

from bench_core import (  # noqa: E402
    _COLLECTED,
    CALLEE_A,
    CALLEE_B,
    CALLER,
    Call,
    response_to,
)

SERVICE = "2000"
WATCHER = ("127.0.0.45", 5090)
CONFIG = f"""
listen: [{{transport: udp, host: 127.0.0.1, port: 5060}}]
timers: {{t1: 500ms, t2: 4s, t4: 5s, timer_c: 181s}}
trusted_peers: ["{CALLER[0]}/32"]
domain: bench.test
users:
  boss:
    name: Boss
    lines: ["{SERVICE}"]
    endpoints: ["sip:a@{CALLEE_A[0]}:{CALLEE_A[1]}", "sip:b@{CALLEE_B[0]}:{CALLEE_B[1]}"]
"""


# The fake clock's step, and how long it runs on after the last call.
TICK = 0.001
# RFC 3261 §18.1.1: a request over 1,300 bytes (path MTU unknown) is not for UDP.
UDP_SIZE_LIMIT = 1300
LINGER = 6.0


@dataclass(frozen=True)
class Shape:
    """How the calls are placed (per second, ring time and hold, in seconds) and
    how the lamps pace their NOTIFYs."""

    rate: float
    answer_delay: float
    hold: float
    interval: float | None  # between two NOTIFYs of a subscription; None: the proxy's


class Office:
    """The core, the line and the lamps on the fake loop; every NOTIFY answered."""

    def __init__(self, watchers: int, interval: float | None) -> None:
        import structlog

        # As the bench runs a watched step (info): debug costs a lookup.
        structlog.configure(
            wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
            logger_factory=structlog.ReturnLoggerFactory(), cache_logger_on_first_use=True)
        import fakelink

        from proxy.config.loader import parse_config
        from proxy.dialog import DialogTracker
        from proxy.lamps import Lamps
        from proxy.lines import Lines
        from proxy.policy.trust import Source, SourceKind
        from proxy.presence import Notifier, PresenceSettings
        from proxy.sip.hop import Hop

        config = parse_config(CONFIG)
        self.core, self.loop, _ = fakelink.make_core(CONFIG)
        self.sent: list[tuple[bytes, Hop]] = []
        self.core._send_bytes = lambda data, hop, fallback=None: self.sent.append((data, hop))
        self.hops = {address: Hop("UDP", *address)
                     for address in (CALLER, CALLEE_A, CALLEE_B, WATCHER)}
        log = structlog.get_logger("bench")
        lines = Lines(DialogTracker(config.directory), self.loop, log)  # type: ignore[arg-type]
        self.core.events.subscribe(lines.observe)
        tags = iter(range(1, 1 << 30))
        settings = (None if interval is None
                    else PresenceSettings(notify_min_interval=interval))
        self.lamps = Lamps(Notifier(config.directory, lines.tracker, self.core._local,
                                    lambda: f"lamp{next(tags)}", settings),
                           self.core.originate, self.loop, log, clock=self.loop.time)
        lines.on_line_change(self.lamps.on_line_change)
        source = Source(self.hops[WATCHER], SourceKind.PHONE, "boss", authenticated=True)
        from proxy.sip.message import parse_message

        for number in range(watchers):
            self.lamps.handle(parse_message(_subscribe(number)), source,  # type: ignore[arg-type]
                              self.loop.time())
        self.notifies = 0
        self.notify_sizes: list[int] = []  # bytes of each NOTIFY sent
        self.outside = 0.0  # process time spent making the watchers' 200s
        self.advance(0)
        self.notifies = 0
        gc.freeze()
        gc.set_threshold(5_000, 10, 1_000)  # as proxy/app.py serves

    def deliver(self, data: bytes, source: tuple[str, int]) -> list[tuple[bytes, object]]:
        """A message in; what the proxy sent to anyone but the watchers."""
        self.sent.clear()
        self.core.receive(data, self.hops[source])
        return self._answer_watchers()

    def advance(self, seconds: float) -> None:
        self.sent.clear()
        self.loop.advance(seconds)
        self._answer_watchers()

    def _answer_watchers(self) -> list[tuple[bytes, object]]:
        """Answer every NOTIFY sent (the 200s may make more); the rest, in order."""
        others = []
        while self.sent:
            sent, self.sent = self.sent, []
            for data, hop in sent:
                if (hop.host, hop.port) != WATCHER:
                    others.append((data, hop))
                elif data.startswith(b"NOTIFY"):
                    self.notifies += 1
                    started = time.process_time()
                    self.notify_sizes.append(len(data))
                    ok = _ok_to_notify(data)
                    self.outside += time.process_time() - started
                    self.core.receive(ok, self.hops[WATCHER])
        return others


# The lines a UA copies from a NOTIFY into its 200 (RFC 3261 §8.2.6.2); the
# NOTIFY's To has the watcher's tag already (a request inside the dialog).
_COPIED = (b"Via:", b"From:", b"To:", b"Call-ID:", b"CSeq:")


def _ok_to_notify(notify: bytes) -> bytes:
    """The watcher's 200 to a NOTIFY: cheap, so that callgrind, which cannot leave
    it out, counts the proxy's work and little of the watcher's."""
    head = notify.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    copied = [line for line in head if line.startswith(_COPIED)]
    return b"SIP/2.0 200 OK\r\n" + b"\r\n".join(copied) + b"\r\nContent-Length: 0\r\n\r\n"


def _subscribe(number: int) -> bytes:
    return (
        f"SUBSCRIBE sip:{SERVICE}@bench.test SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {WATCHER[0]}:{WATCHER[1]};branch=z9hG4bK-sub-{number};rport\r\n"
        f"From: <sip:boss@bench.test>;tag=watcher{number}\r\n"
        f"To: <sip:{SERVICE}@bench.test>\r\n"
        f"Call-ID: watch-{number}@{WATCHER[0]}\r\nCSeq: 1 SUBSCRIBE\r\n"
        f"Contact: <sip:boss@{WATCHER[0]}:{WATCHER[1]};transport=udp>\r\n"
        "Event: dialog\r\nAccept: application/dialog-info+xml\r\nExpires: 3600\r\n"
        "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    ).encode()


def call_flow(office: Office, number: int, answer_delay: float,
              hold: float) -> Iterator[float]:
    """One busy call of tools/bench/run.py: B answers 486 at once, A rings, answers
    after ``answer_delay``, the caller holds for ``hold`` and hangs up. Yields the
    seconds to wait before its next message."""
    from bench_core import _to

    call = Call(number)
    a_contact = f"sip:a@{CALLEE_A[0]}:{CALLEE_A[1]}"
    sent = office.deliver(call.invite(), CALLER)
    invite_a, invite_b = _to(sent, CALLEE_A, "INVITE"), _to(sent, CALLEE_B, "INVITE")
    office.deliver(response_to(invite_b, "486 Busy Here", to_tag=f"b{number}"), CALLEE_B)
    office.deliver(response_to(invite_a, "180 Ringing", to_tag=f"a{number}",
                               contact=a_contact), CALLEE_A)
    yield answer_delay
    sent = office.deliver(response_to(invite_a, "200 OK", to_tag=f"a{number}",
                                      contact=a_contact), CALLEE_A)
    answer = _to(sent, CALLER, "SIP/2.0 200")
    office.deliver(call.in_dialog("ACK", 1, answer), CALLER)
    yield hold
    bye = _to(office.deliver(call.in_dialog("BYE", 2, answer), CALLER), CALLEE_A, "BYE")
    office.deliver(response_to(bye, "200 OK"), CALLEE_A)


def run_calls(office: Office, numbers: range, shape: Shape) -> None:
    """Calls ``numbers`` at ``shape.rate`` per second, overlapping as the bench's do;
    the fake clock moves in steps of ``TICK``, the watchers answering each NOTIFY
    at the end of the step it left in (a round trip of at most one step)."""
    started = office.loop.time()
    due: list[tuple[float, int, Iterator[float]]] = []
    for index, number in enumerate(numbers):
        flow = call_flow(office, number, shape.answer_delay, shape.hold)
        heapq.heappush(due, (started + index / shape.rate, number, flow))
    while due:
        while due and due[0][0] <= office.loop.time():
            _, number, flow = heapq.heappop(due)
            wait = next(flow, None)
            if wait is not None:
                heapq.heappush(due, (office.loop.time() + wait, number, flow))
        office.advance(TICK)
    office.advance(LINGER)  # the last NOTIFYs, and the transactions' timers


def child(watchers: int, calls: int, shape: Shape, profile: bool) -> None:
    office = Office(watchers, shape.interval)
    warm_up = max(1, calls // 10)
    run_calls(office, range(warm_up), shape)  # fill the caches as a running proxy has them
    office.notifies, office.outside, office.notify_sizes = 0, 0.0, []
    profiler = cProfile.Profile() if profile else None
    started = time.process_time()
    if profiler is not None:
        profiler.enable()
    # Through starmap: what callgrind counts (--toggle-collect=starmap_next).
    list(starmap(run_calls, ((office, range(warm_up, warm_up + calls), shape),)))
    if profiler is not None:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(40)
        return
    summary = office.lamps.summary()
    sizes = office.notify_sizes or [0]
    print(time.process_time() - started - office.outside, office.notifies,
          summary["notify_delay_p50_ms"], summary["notify_delay_p99_ms"],
          round(statistics.fmean(sizes)), max(sizes),
          sum(size > UDP_SIZE_LIMIT for size in sizes))


@dataclass(frozen=True)
class Measured:
    spent: float  # CPU seconds, or instructions
    notifies: int
    delay_ms: tuple[str, str]  # change to NOTIFY, p50 and p99, on the fake clock
    sizes: tuple[int, int, int]  # NOTIFY bytes: mean, largest, how many over UDP_SIZE_LIMIT


def _measure(watchers: int, calls: int, shape: Shape, callgrind: bool) -> Measured:
    """CPU seconds (or with ``callgrind`` instructions) of the calls, NOTIFYs, delays."""
    command = [sys.executable, __file__, "--child", "--watchers", str(watchers),
               "--calls", str(calls), "--rate", str(shape.rate),
               "--answer-delay-ms", str(shape.answer_delay * 1000),
               "--hold-ms", str(shape.hold * 1000),
               *(() if shape.interval is None else ("--interval-ms", str(shape.interval * 1000)))]
    if callgrind:
        command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                   "--toggle-collect=starmap_next", *command]
    result = subprocess.run(command, capture_output=True, text=True, check=True,
                            env={**os.environ, "PYTHONHASHSEED": "0"})
    spent, notifies, p50, p99, *sizes = result.stdout.split()
    if callgrind:
        found = _COLLECTED.search(result.stderr)
        if found is None:
            raise SystemExit(f"no instruction count from callgrind:\n{result.stderr[-2000:]}")
        spent = found[1]
    mean, largest, over = map(int, sizes)
    return Measured(float(spent), int(notifies), (p50, p99), (mean, largest, over))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--watchers", type=int, default=50)
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--rate", type=float, default=100,
                        help="calls per second of the fake clock (default: 100)")
    parser.add_argument("--answer-delay-ms", type=float, default=20,
                        help="callee A's ring time (default: 20, as tools/bench)")
    parser.add_argument("--hold-ms", type=float, default=500,
                        help="the caller's hold before its BYE (default: 500, as tools/bench)")
    parser.add_argument("--interval-ms", type=float,
                        help="the least time between two NOTIFYs of a subscription "
                             "(default: the proxy's, LAMP_NOTIFY_MIN_INTERVAL)")
    parser.add_argument("--callgrind", action="store_true",
                        help="count instructions with valgrind instead of timing (steady "
                             "on a busy machine; try --calls 100)")
    parser.add_argument("--profile", action="store_true",
                        help="cProfile the watched run (top 40 by own time)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    settings = parser.parse_args()
    interval = None if settings.interval_ms is None else settings.interval_ms / 1000
    shape = Shape(settings.rate, settings.answer_delay_ms / 1000, settings.hold_ms / 1000,
                  interval)
    if settings.child or settings.profile:
        child(settings.watchers, settings.calls, shape, settings.profile)
        return
    with ThreadPoolExecutor(2) as pool:
        without, with_watchers = pool.map(
            lambda watchers: _measure(watchers, settings.calls, shape, settings.callgrind),
            (0, settings.watchers))
    alone, watched, notifies = without.spent, with_watchers.spent, with_watchers.notifies
    calls = settings.calls
    scale, unit = (1e-3, "k instructions") if settings.callgrind else (1e6, "us")
    print(f"{calls} calls at {shape.rate:g}/s, {settings.watchers} watchers")
    print(f"  per call without watchers      {alone / calls * scale:9.1f} {unit}")
    print(f"  per call with watchers         {watched / calls * scale:9.1f} {unit} "
          f"({(watched / alone - 1) * 100:+.0f}%)")
    print(f"  NOTIFYs per call               {notifies / calls:9.2f}")
    if notifies:
        print(f"  per NOTIFY and its 200         {(watched - alone) / notifies * scale:9.1f} "
              f"{unit}")
        p50, p99 = with_watchers.delay_ms
        print(f"  change->NOTIFY p50/p99 ms      {p50}/{p99} (fake clock: the pacing alone)")
        mean, largest, over = with_watchers.sizes
        print(f"  NOTIFY bytes mean/max          {mean}/{largest}, {over} of {notifies} over "
              f"{UDP_SIZE_LIMIT} (RFC 3261 §18.1.1)")


if __name__ == "__main__":
    main()
