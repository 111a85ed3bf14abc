#!/usr/bin/env python3
"""The proxy core alone over the bench's call flow: CPU per call without sockets.

Drives the real ``ProxyCore`` of a checkout (this one unless a path is given)
over the fake clock of its tests/unit/fakelink.py, through the call that
tools/bench/run.py places: a trusted caller INVITEs the service number, the
proxy forks to callees A and B; B is busy (486 at once, variant ``busy``) or
rings and is CANCELled when A answers (``cancel``); A rings and answers; the
caller ACKs and BYEs along the Record-Route and A answers the BYE. Every call
has its own Call-ID, tags and branches, and the clock moves --step seconds
after each call (0.2 s: every transaction's timers run out within a run of a
few hundred calls, so their cost is counted too).

The callees' and the caller's messages are made from the proxy's bytes with
plain string work that does not touch the checkout's code, so every checkout
pays the same for them.

Prints, per checkout and variant, the core's wall-clock microseconds per call
(noisy on a shared machine), or with --callgrind its instructions per call,
which do not depend on what else runs: every message goes into
``ProxyCore.receive`` (and every clock step into the fake loop, which runs the
core's timers) through ``itertools.starmap``, and valgrind's callgrind counts
only inside that C function (--toggle-collect=starmap_next), so neither the
start-up nor the message making is counted. --by-message splits the count by
the message handed in (INVITE, 180, ..., and "timers").

Usage (from the repository root; checkouts default to this one):

  python3 tools/bench_core.py                            # wall clock, busy and cancel
  python3 tools/bench_core.py --callgrind . ../base      # instructions, two checkouts
  python3 tools/bench_core.py --callgrind --by-message --variants busy . ../base
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import starmap
from pathlib import Path
from typing import Any

SERVICE = "2000"
CALLER = ("127.0.0.44", 5080)
CALLEE_A = ("127.0.0.42", 5070)
CALLEE_B = ("127.0.0.43", 5070)
CONFIG = f"""
listen: [{{transport: udp, host: 127.0.0.1, port: 5060}}]
timers: {{t1: 500ms, t2: 4s, t4: 5s, timer_c: 181s}}
trusted_peers: ["{CALLER[0]}/32"]
routes:
  "{SERVICE}":
    stages:
      - {{targets: ["sip:a@{CALLEE_A[0]}:{CALLEE_A[1]}", "sip:b@{CALLEE_B[0]}:{CALLEE_B[1]}"],
         timeout: 20s}}
"""
Sent = list[tuple[bytes, Any]]


def _headers(message: bytes) -> list[str]:
    return message.split(b"\r\n\r\n", 1)[0].decode().split("\r\n")


def _values(lines: list[str], name: str) -> list[str]:
    prefix = name + ":"
    return [line[len(prefix):].strip() for line in lines if line.startswith(prefix)]


def response_to(request: bytes, status: str, *, to_tag: str | None = None,
                contact: str | None = None) -> bytes:
    """A UA's response to a request the proxy sent it (§8.2.6): Vias, Record-Routes,
    From, Call-ID and CSeq copied, To tagged."""
    lines = _headers(request)
    out = [f"SIP/2.0 {status}"]
    out += [f"Via: {value}" for value in _values(lines, "Via")]
    out += [f"Record-Route: {value}" for value in _values(lines, "Record-Route")]
    to = _values(lines, "To")[0]
    if to_tag is not None and ";tag=" not in to:
        to += f";tag={to_tag}"
    out += [f"From: {_values(lines, 'From')[0]}", f"To: {to}",
            f"Call-ID: {_values(lines, 'Call-ID')[0]}", f"CSeq: {_values(lines, 'CSeq')[0]}"]
    if contact is not None:
        out.append(f"Contact: <{contact}>")
    out.append("Content-Length: 0")
    return ("\r\n".join(out) + "\r\n\r\n").encode()


class Call:
    """One call's caller-side messages."""

    def __init__(self, number: int) -> None:
        self.number = number
        self.call_id = f"{number}-bench@{CALLER[0]}"
        self.from_value = f'"bench" <sip:bench@{CALLER[0]}:{CALLER[1]}>;tag=bench{number}'

    def invite(self) -> bytes:
        body = "v=0\r\no=bench 1 1 IN IP4 127.0.0.44\r\ns=-\r\nc=IN IP4 127.0.0.44\r\n" \
               "t=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
        return (
            f"INVITE sip:{SERVICE}@127.0.0.1:5060 SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {CALLER[0]}:{CALLER[1]};branch=z9hG4bK-inv-{self.number}\r\n"
            f"From: {self.from_value}\r\n"
            f"To: <sip:{SERVICE}@127.0.0.1:5060>\r\n"
            f"Call-ID: {self.call_id}\r\nCSeq: 1 INVITE\r\n"
            f"Contact: <sip:bench@{CALLER[0]}:{CALLER[1]}>\r\nMax-Forwards: 70\r\n"
            "Subject: vipproxy bench\r\nContent-Type: application/sdp\r\n"
            f"Content-Length: {len(body)}\r\n\r\n{body}"
        ).encode()

    def in_dialog(self, method: str, cseq: int, answer: bytes) -> bytes:
        """§12.2.1.1: the request along the route set of the 2xx ``answer``."""
        lines = _headers(answer)
        target = _values(lines, "Contact")[0].strip("<>")
        routes = list(reversed(_values(lines, "Record-Route")))  # §12.1.2
        route = "".join(f"Route: {value}\r\n" for value in routes)
        return (
            f"{method} {target} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {CALLER[0]}:{CALLER[1]};branch=z9hG4bK-{method}-{self.number}\r\n"
            f"{route}From: {self.from_value}\r\nTo: {_values(lines, 'To')[0]}\r\n"
            f"Call-ID: {self.call_id}\r\nCSeq: {cseq} {method}\r\n"
            f"Contact: <sip:bench@{CALLER[0]}:{CALLER[1]}>\r\nMax-Forwards: 70\r\n"
            "Content-Length: 0\r\n\r\n"
        ).encode()


def _to(sent: Sent, address: tuple[str, int], start: str) -> bytes:
    """The one message the proxy sent to ``address`` that starts with ``start``."""
    found = [data for data, hop in sent
             if (hop.host, hop.port) == address and data.startswith(start.encode())]
    if len(found) != 1:
        raise AssertionError(f"expected one {start!r} to {address}, got "
                             f"{[d.split(b' ', 2)[:2] for d, _ in sent]}")
    return found[0]


def run_call(call: Call, variant: str, deliver: Callable[[bytes, tuple[str, int]], Sent]) -> None:
    """One call of the bench flow; ``deliver`` hands a message to the proxy from an
    address and returns what the proxy sent."""
    a_contact = f"sip:a@{CALLEE_A[0]}:{CALLEE_A[1]}"
    a_tag, b_tag = f"a{call.number}", f"b{call.number}"  # SIPp's tags differ per call too
    sent = deliver(call.invite(), CALLER)
    _to(sent, CALLER, "SIP/2.0 100")
    invite_a, invite_b = _to(sent, CALLEE_A, "INVITE"), _to(sent, CALLEE_B, "INVITE")
    if variant == "busy":
        _to(deliver(response_to(invite_b, "486 Busy Here", to_tag=b_tag), CALLEE_B),
            CALLEE_B, "ACK")
    else:
        deliver(response_to(invite_b, "180 Ringing", to_tag=b_tag), CALLEE_B)
    _to(deliver(response_to(invite_a, "180 Ringing", to_tag=a_tag, contact=a_contact), CALLEE_A),
        CALLER, "SIP/2.0 180")
    sent = deliver(response_to(invite_a, "200 OK", to_tag=a_tag, contact=a_contact), CALLEE_A)
    answer = _to(sent, CALLER, "SIP/2.0 200")
    if variant == "cancel":
        cancel = _to(sent, CALLEE_B, "CANCEL")
        deliver(response_to(cancel, "200 OK", to_tag=b_tag), CALLEE_B)
        _to(deliver(response_to(invite_b, "487 Request Terminated", to_tag=b_tag), CALLEE_B),
            CALLEE_B, "ACK")
    _to(deliver(call.in_dialog("ACK", 1, answer), CALLER), CALLEE_A, "ACK")
    bye = _to(deliver(call.in_dialog("BYE", 2, answer), CALLER), CALLEE_A, "BYE")
    _to(deliver(response_to(bye, "200 OK"), CALLEE_A), CALLER, "SIP/2.0 200")


def message_kind(data: bytes) -> str:
    """``INVITE``, ``ACK``, ... for a request; ``180``, ``200``, ... for a response."""
    first, second = data.split(b" ", 2)[:2]
    return (second if first == b"SIP/2.0" else first).decode()


@dataclass
class Core:
    """The checkout's core on a fake loop. ``counted`` says which deliveries go
    through ``starmap`` (what callgrind counts): a message kind, ``timers``, or
    ``all``."""

    checkout: Path
    counted: str = "all"

    def __post_init__(self) -> None:
        sys.path[:0] = [str(self.checkout / "tests" / "unit"), str(self.checkout)]
        import structlog

        # As the bench runs it (logging.level: warning): debug and info cost a lookup.
        structlog.configure(
            wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
            cache_logger_on_first_use=True)
        import fakelink

        from proxy.sip.hop import Hop

        self.core, self.loop, _ = fakelink.make_core(CONFIG)
        self.sent: Sent = []
        self.core._send_bytes = lambda data, hop, fallback=None: self.sent.append((data, hop))
        self.hops = {address: Hop("UDP", *address) for address in (CALLER, CALLEE_A, CALLEE_B)}
        # The same collector for every checkout: allocation-count thresholds, as
        # proxy/app.py set them before proxy/collector.py paced it by the clock
        # (this fake clock moves 0.2 s a call, so pacing would collect every call).
        gc.freeze()
        gc.set_threshold(5_000, 10, 1_000)

    def deliver(self, data: bytes, source: tuple[str, int]) -> Sent:
        self.sent.clear()
        arguments = (data, self.hops[source])
        if self.counted in ("all", message_kind(data)):
            list(starmap(self.core.receive, (arguments,)))
        else:
            self.core.receive(*arguments)
        return list(self.sent)

    def advance(self, seconds: float) -> None:
        if self.counted in ("all", "timers"):
            list(starmap(self.loop.advance, ((seconds,),)))
        else:
            self.loop.advance(seconds)


def run_calls(checkout: Path, variant: str, calls: int, step: float,
              counted: str = "all") -> float:
    """Place ``calls`` calls through the checkout's core; the core's seconds per call."""
    os.chdir(checkout)
    core = Core(checkout, counted)
    spent = 0.0

    def timed(data: bytes, source: tuple[str, int]) -> Sent:
        nonlocal spent
        started = time.perf_counter()
        result = core.deliver(data, source)
        spent += time.perf_counter() - started
        return result

    for number in range(calls):
        run_call(Call(number), variant, timed)
        started = time.perf_counter()
        core.advance(step)
        spent += time.perf_counter() - started
    return spent / calls


# --- the driver: one process per measurement -------------------------------------------

CALLGRIND_CALLS = 200
KINDS = {"busy": ("INVITE", "486", "180", "200", "ACK", "BYE", "timers"),
         "cancel": ("INVITE", "180", "200", "487", "ACK", "BYE", "timers")}
_COLLECTED = re.compile(r"Collected : (\d+)")


def _child(checkout: Path, variant: str, calls: int, step: float,
           counted: str = "all") -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--child", "--variant", variant,
            "--calls", str(calls), "--step", str(step), "--counted", counted, str(checkout)]


def _instructions(command: list[str]) -> int:
    """Instructions run inside ``starmap`` by ``command``, counted by callgrind."""
    result = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
         "--toggle-collect=starmap_next", *command],
        capture_output=True, text=True, check=True,
        env={**os.environ, "PYTHONHASHSEED": "0"})
    found = _COLLECTED.search(result.stderr)
    if found is None:
        raise SystemExit(f"no instruction count from callgrind:\n{result.stderr[-2000:]}")
    return int(found[1])


def callgrind_table(checkouts: list[Path], variants: list[str], step: float, jobs: int,
                    by_message: bool) -> None:
    """Instructions per call of every checkout's core (and per message kind)."""
    runs = {(checkout, variant, counted): _child(checkout, variant, CALLGRIND_CALLS, step,
                                                 counted)
            for variant in variants for checkout in checkouts
            for counted in (KINDS[variant] if by_message else ("all",))}
    with ThreadPoolExecutor(jobs) as pool:
        counts = dict(zip(runs, pool.map(_instructions, runs.values()), strict=True))
    print(f"{CALLGRIND_CALLS} calls each; thousands of instructions per call")
    for variant in variants:
        kinds = KINDS[variant] if by_message else ()
        print(f"\n{variant:8} {'checkout':40} {'total':>8}"
              + "".join(f" {kind:>7}" for kind in kinds))
        for checkout in checkouts:
            per_kind = [counts[(checkout, variant, kind)] / CALLGRIND_CALLS / 1e3
                        for kind in kinds]
            total = (sum(per_kind) if by_message
                     else counts[(checkout, variant, "all")] / CALLGRIND_CALLS / 1e3)
            print(f"{'':8} {checkout!s:40} {total:8.0f}"
                  + "".join(f" {value:7.0f}" for value in per_kind))


def wall_clock_table(checkouts: list[Path], variants: list[str], calls: int,
                     step: float) -> None:
    """Microseconds per call of every checkout's core, one process each."""
    print(f"{'checkout':40} {'variant':8} {'us per call (core)':>20}")
    for variant in variants:
        for checkout in checkouts:
            result = subprocess.run(_child(checkout, variant, calls, step),
                                    capture_output=True, text=True, check=True)
            print(f"{checkout!s:40} {variant:8} {float(result.stdout) * 1e6:20.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkouts", nargs="*", type=Path,
                        default=[Path(__file__).resolve().parent.parent])
    parser.add_argument("--variants", default="busy,cancel",
                        help="busy and/or cancel, comma-separated (default: busy,cancel)")
    parser.add_argument("--calls", type=int, default=3000,
                        help="calls per wall-clock measurement (default: 3000)")
    parser.add_argument("--step", type=float, default=0.2,
                        help="seconds the fake clock moves after each call (default: 0.2)")
    parser.add_argument("--callgrind", action="store_true",
                        help=f"count instructions with valgrind over {CALLGRIND_CALLS} calls "
                             "instead of timing")
    parser.add_argument("--by-message", action="store_true",
                        help="with --callgrind: per message kind too (one run per kind)")
    parser.add_argument("--jobs", type=int, default=2,
                        help="callgrind processes at once (default: 2)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--variant", default="busy", help=argparse.SUPPRESS)
    parser.add_argument("--counted", default="all", help=argparse.SUPPRESS)
    settings = parser.parse_args()
    checkouts = [checkout.resolve() for checkout in settings.checkouts]
    if settings.child:
        print(run_calls(checkouts[0], settings.variant, settings.calls, settings.step,
                        settings.counted))
        return
    variants = [variant for variant in settings.variants.split(",") if variant]
    if not variants or set(variants) - set(KINDS):
        parser.error(f"--variants: busy and/or cancel, not {settings.variants!r}")
    if settings.callgrind:
        callgrind_table(checkouts, variants, settings.step, settings.jobs, settings.by_message)
    else:
        wall_clock_table(checkouts, variants, settings.calls, settings.step)


if __name__ == "__main__":
    main()
