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
(the message making excluded; noisy on a shared machine), or with --callgrind
its instructions per call, which do not depend on what else runs: valgrind's
callgrind counts the whole process at two call counts, the difference over the
difference in calls is one call, and the same difference for the message
making alone (one recorded call replayed, no proxy) is taken off.

Usage (from the repository root; checkouts default to this one):

  python3 tools/bench_core.py                            # wall clock, busy and cancel
  python3 tools/bench_core.py --callgrind . ../base      # instructions, two checkouts
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
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
    sent = deliver(call.invite(), CALLER)
    _to(sent, CALLER, "SIP/2.0 100")
    invite_a, invite_b = _to(sent, CALLEE_A, "INVITE"), _to(sent, CALLEE_B, "INVITE")
    if variant == "busy":
        _to(deliver(response_to(invite_b, "486 Busy Here", to_tag="b"), CALLEE_B),
            CALLEE_B, "ACK")
    else:
        deliver(response_to(invite_b, "180 Ringing", to_tag="b"), CALLEE_B)
    _to(deliver(response_to(invite_a, "180 Ringing", to_tag="a", contact=a_contact), CALLEE_A),
        CALLER, "SIP/2.0 180")
    sent = deliver(response_to(invite_a, "200 OK", to_tag="a", contact=a_contact), CALLEE_A)
    answer = _to(sent, CALLER, "SIP/2.0 200")
    if variant == "cancel":
        cancel = _to(sent, CALLEE_B, "CANCEL")
        deliver(response_to(cancel, "200 OK", to_tag="b"), CALLEE_B)
        _to(deliver(response_to(invite_b, "487 Request Terminated", to_tag="b"), CALLEE_B),
            CALLEE_B, "ACK")
    _to(deliver(call.in_dialog("ACK", 1, answer), CALLER), CALLEE_A, "ACK")
    bye = _to(deliver(call.in_dialog("BYE", 2, answer), CALLER), CALLEE_A, "BYE")
    _to(deliver(response_to(bye, "200 OK"), CALLEE_A), CALLER, "SIP/2.0 200")


def _core(checkout: Path) -> tuple[Callable[[bytes, tuple[str, int]], Sent], Any]:
    """The checkout's core on a fake loop, and ``deliver`` for it."""
    sys.path[:0] = [str(checkout / "tests" / "unit"), str(checkout)]
    import structlog

    # As the bench runs it (logging.level: warning): debug and info cost a lookup.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
                        cache_logger_on_first_use=True)
    import fakelink

    from proxy.sip.hop import Hop

    core, loop, _ = fakelink.make_core(CONFIG)
    sent: Sent = []
    core._send_bytes = lambda data, hop, fallback=None: sent.append((data, hop))
    hops = {address: Hop("UDP", *address) for address in (CALLER, CALLEE_A, CALLEE_B)}

    def deliver(data: bytes, source: tuple[str, int]) -> Sent:
        sent.clear()
        core.receive(data, hops[source])
        return list(sent)

    return deliver, loop


def run_calls(checkout: Path, variant: str, calls: int, step: float) -> float:
    """Place ``calls`` calls through the checkout's core; the core's seconds per call."""
    os.chdir(checkout)
    deliver, loop = _core(checkout)
    spent = 0.0

    def timed(data: bytes, source: tuple[str, int]) -> Sent:
        nonlocal spent
        started = time.perf_counter()
        result = deliver(data, source)
        spent += time.perf_counter() - started
        return result

    for number in range(calls):
        run_call(Call(number), variant, timed)
        loop.advance(step)
    return spent / calls


def replay_messages(checkout: Path, variant: str, calls: int) -> None:
    """Make the messages of ``calls`` calls from one call's recorded traffic, without a
    proxy: what the harness itself costs."""
    os.chdir(checkout)
    deliver, _ = _core(checkout)
    recorded: dict[bytes, Sent] = {}

    def record(data: bytes, source: tuple[str, int]) -> Sent:
        recorded[data] = result = deliver(data, source)
        return result

    run_call(Call(0), variant, record)
    for _ in range(calls):
        run_call(Call(0), variant, lambda data, _: recorded[data])


# --- the driver: one process per measurement -------------------------------------------

CALLGRIND_CALLS = (50, 250)
_COLLECTED = re.compile(r"Collected : (\d+)")


def _child(checkout: Path, variant: str, calls: int, *extra: str) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--child", "--variant", variant,
            "--calls", str(calls), *extra, str(checkout)]


def _instructions(command: list[str]) -> int:
    """Instructions the whole process ran, counted by callgrind."""
    result = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *command],
        capture_output=True, text=True, check=True,
        env={**os.environ, "PYTHONHASHSEED": "0"})
    found = _COLLECTED.search(result.stderr)
    if found is None:
        raise SystemExit(f"no instruction count from callgrind:\n{result.stderr[-2000:]}")
    return int(found[1])


def _per_call(counts: list[int]) -> float:
    low, high = CALLGRIND_CALLS
    return (counts[1] - counts[0]) / (high - low)


def callgrind_table(checkouts: list[Path], variants: list[str], step: float,
                    jobs: int) -> None:
    """Instructions per call of every checkout's core, the message making taken off."""
    runs: dict[tuple[str, str], list[list[str]]] = {}
    for variant in variants:
        runs[("messages", variant)] = [_child(checkouts[0], variant, calls, "--only-messages")
                                       for calls in CALLGRIND_CALLS]
        for checkout in checkouts:
            runs[(str(checkout), variant)] = [
                _child(checkout, variant, calls, "--step", str(step))
                for calls in CALLGRIND_CALLS]
    with ThreadPoolExecutor(jobs) as pool:
        counts = {key: list(pool.map(_instructions, commands))
                  for key, commands in runs.items()}
    print(f"{'checkout':40} {'variant':8} {'M instructions per call (core)':>32}")
    for variant in variants:
        harness = _per_call(counts[("messages", variant)])
        for checkout in checkouts:
            core = _per_call(counts[(str(checkout), variant)]) - harness
            print(f"{checkout!s:40} {variant:8} {core / 1e6:32.3f}")
    print(f"(calls {CALLGRIND_CALLS[0]} and {CALLGRIND_CALLS[1]}; the message making, "
          + ", ".join(f"{variant} {_per_call(counts[('messages', variant)]) / 1e6:.3f} M"
                      for variant in variants) + ", taken off)")


def wall_clock_table(checkouts: list[Path], variants: list[str], calls: int,
                     step: float) -> None:
    """Microseconds per call of every checkout's core, one process each."""
    print(f"{'checkout':40} {'variant':8} {'us per call (core)':>20}")
    for variant in variants:
        for checkout in checkouts:
            result = subprocess.run(_child(checkout, variant, calls, "--step", str(step)),
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
                        help="count instructions with valgrind instead of timing")
    parser.add_argument("--jobs", type=int, default=2,
                        help="callgrind processes at once (default: 2)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--variant", default="busy", help=argparse.SUPPRESS)
    parser.add_argument("--only-messages", action="store_true", help=argparse.SUPPRESS)
    settings = parser.parse_args()
    checkouts = [checkout.resolve() for checkout in settings.checkouts]
    if settings.child:
        if settings.only_messages:
            replay_messages(checkouts[0], settings.variant, settings.calls)
        else:
            print(run_calls(checkouts[0], settings.variant, settings.calls, settings.step))
        return
    variants = [variant for variant in settings.variants.split(",") if variant]
    unknown = set(variants) - {"busy", "cancel"}
    if unknown or not variants:
        parser.error(f"--variants: busy and/or cancel, not {settings.variants!r}")
    if settings.callgrind:
        callgrind_table(checkouts, variants, settings.step, settings.jobs)
    else:
        wall_clock_table(checkouts, variants, settings.calls, settings.step)


if __name__ == "__main__":
    main()
