"""Micro-benchmark of the SIP message layer: parse + serialize of typical messages.

Run: ``python tools/bench_parse.py [iterations]``. Prints microseconds per
operation for an INVITE carrying SDP and for a 200 OK. A script that prints
numbers, never a timed assertion (ARCHITECTURE.md, conventions).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

# Runs from a plain checkout too: put the repository root on the import path.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from proxy.sip.message import parse_message

_SDP = (
    b"v=0\r\n"
    b"o=alice 2890844526 2890844526 IN IP4 192.0.2.10\r\n"
    b"s=-\r\n"
    b"c=IN IP4 192.0.2.10\r\n"
    b"t=0 0\r\n"
    b"m=audio 49170 RTP/AVP 0 8 101\r\n"
    b"a=rtpmap:0 PCMU/8000\r\n"
    b"a=rtpmap:8 PCMA/8000\r\n"
    b"a=rtpmap:101 telephone-event/8000\r\n"
    b"a=sendrecv\r\n"
)

INVITE = (
    b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds;rport\r\n"
    b"Max-Forwards: 70\r\n"
    b'To: "Bob" <sip:bob@biloxi.example.com>\r\n'
    b'From: "Alice" <sip:alice@atlanta.example.com>;tag=1928301774\r\n'
    b"Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"Contact: <sip:alice@pc33.atlanta.example.com:5060>\r\n"
    b"Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY, INFO\r\n"
    b"Supported: replaces, timer\r\n"
    b"User-Agent: bench-phone/1.0\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: " + str(len(_SDP)).encode() + b"\r\n"
    b"\r\n" + _SDP
)

OK_200 = (
    b"SIP/2.0 200 OK\r\n"
    b"Via: SIP/2.0/UDP proxy.example.com:5060;branch=z9hG4bKnashds8\r\n"
    b"Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds"
    b";received=192.0.2.10;rport=5060\r\n"
    b"Record-Route: <sip:proxy.example.com;lr>\r\n"
    b'To: "Bob" <sip:bob@biloxi.example.com>;tag=a6c85cf\r\n'
    b'From: "Alice" <sip:alice@atlanta.example.com>;tag=1928301774\r\n'
    b"Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"Contact: <sip:bob@192.0.2.4>\r\n"
    b"Content-Length: 0\r\n"
    b"\r\n"
)


def _per_call_us(operation: Callable[[], object], iterations: int, repeats: int) -> float:
    """Best of ``repeats`` timings of ``iterations`` calls, in µs per call.

    The best run is the one least disturbed by other processes on the machine.
    """
    operation()  # warm caches (header keys) before timing
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(iterations):
            operation()
        best = min(best, time.perf_counter() - start)
    return best / iterations * 1e6


def main() -> None:
    """Print µs per parse, per serialize and per parse+serialize of each message."""
    iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    repeats = 5
    print(f"best of {repeats} runs of {iterations} iterations each")
    print(f"{'message':<10} {'parse µs':>10} {'serialize µs':>13} {'both µs':>9}")
    for name, data in (("INVITE", INVITE), ("200 OK", OK_200)):
        message = parse_message(data)
        assert message.serialize() == data, f"{name} does not round-trip byte for byte"

        def parse(data: bytes = data) -> object:
            return parse_message(data)

        def both(data: bytes = data) -> object:
            return parse_message(data).serialize()

        timings = [
            _per_call_us(operation, iterations, repeats)
            for operation in (parse, message.serialize, both)
        ]
        print(f"{name:<10} {timings[0]:>10.2f} {timings[1]:>13.2f} {timings[2]:>9.2f}")


if __name__ == "__main__":
    main()
