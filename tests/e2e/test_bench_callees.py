"""The load bench's answering callee (tools/bench/scenarios/callee_answer.xml) as a
real SIPp process: a phone, not a script that a proxy's correct retransmission
breaks.

Under load the proxy may retransmit an INVITE (Timer A, RFC 3261 §17.1.1.2) while
the callee's 180 and 200 still wait in the proxy's receive queue. A phone's UAS
core answers the retransmission with its 2xx again (§13.3.1.4); SIPp on its own
aborts the call, which the bench would count as a failed call the proxy served.
"""

from __future__ import annotations

from pathlib import Path

from .conftest import OpenProbe
from .loopback import Endpoint
from .sip_trace import TracedMessage
from .sipp import SippLauncher
from .udp_probe import request_text

BENCH_SCENARIOS = Path(__file__).resolve().parents[2] / "tools" / "bench" / "scenarios"


def _invite(callee: Endpoint, proxy: Endpoint) -> str:
    return request_text("INVITE", callee, proxy, user="a", branch="z9hG4bK-bench-retransmitted")


def _in_dialog(method: str, invite_ok: TracedMessage, callee: Endpoint, proxy: Endpoint) -> str:
    """The ACK or BYE of the call: its Call-ID, and the callee's To tag from its 200."""
    number = 1 if method == "ACK" else 2
    return request_text(method, callee, proxy, user="a", branch=f"z9hG4bK-bench-{method}",
                        headers={"To": invite_ok.header("To"), "CSeq": f"{number} {method}",
                                 "Call-ID": invite_ok.header("Call-ID")})


def test_a_retransmitted_invite_after_the_200_gets_the_200_again(
    sipp: SippLauncher, udp_probe: OpenProbe
) -> None:
    callee = sipp.uas("callee-a", str(BENCH_SCENARIOS / "callee_answer.xml"), pause_ms=20)
    proxy = udp_probe()
    invite = _invite(callee.endpoint, proxy.endpoint)
    proxy.send(invite, callee.endpoint)
    first = proxy.final_response(timeout=3.0)
    assert first is not None and first.status == 200, "the callee did not answer"

    proxy.send(invite, callee.endpoint)  # Timer A fired before the 200 was read
    again = proxy.final_response(timeout=3.0)
    assert again is not None and again.status == 200, "the retransmission got no 200"
    assert callee.running(), f"SIPp gave the call up:\n{callee.report()}"

    proxy.send(_in_dialog("ACK", first, callee.endpoint, proxy.endpoint), callee.endpoint)
    proxy.send(_in_dialog("BYE", first, callee.endpoint, proxy.endpoint), callee.endpoint)
    bye_ok = proxy.first(
        lambda message: not message.is_request and message.header("CSeq").endswith("BYE"),
        timeout=3.0)
    assert bye_ok is not None and bye_ok.status == 200, "the BYE was not answered"
    result = callee.wait()
    assert result.passed and not result.unexpected, result.output + result.unexpected
