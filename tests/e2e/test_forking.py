"""The forking proxy core end to end: the real vipproxy between SIPp peers.

Every test starts its own proxy and SIPp callees on fresh 127.x.y.z
addresses, runs one caller through the proxy, and asserts on what each peer
really sent and received (the SIPp message traces).  Stage timeouts are short
so the whole module runs in well under a minute.
"""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import StartProxy
from .loopback import LoopbackAllocator, Transport, wait_until
from .proxy_process import ProxyProcess
from .sip_trace import TracedMessage, only, via_sent_by
from .sipp import SippLauncher, SippResult, assert_all_passed
from .udp_probe import UdpProbe, request_text

pytestmark = pytest.mark.e2e

TRANSPORTS: list[Transport] = ["udp", "tcp"]
NUMBER = "2000"


def stage(*targets: str, timeout: str = "20s") -> dict[str, Any]:
    """One stage of a route: targets rung in parallel for ``timeout``."""
    return {"targets": list(targets), "timeout": timeout}


def route(*stages: dict[str, Any]) -> dict[str, Any]:
    """A ``routes:`` entry for NUMBER."""
    return {NUMBER: {"stages": list(stages)}}


def reject(status: int, reason: str) -> dict[str, str]:
    """The fill for the uas_reject.xml template."""
    return {"status": str(status), "reason": reason}


def assert_through_proxy(message: TracedMessage, proxy: ProxyProcess, hops: int = 2) -> None:
    """The request came from the proxy: its top Via is the proxy's, above the caller's."""
    vias = message.vias()
    assert len(vias) == hops, f"{message.start_line}: expected {hops} Via, got {vias}"
    assert via_sent_by(vias[0]) == str(proxy.endpoint), (
        f"{message.start_line}: top Via {vias[0]!r} is not the proxy at {proxy.endpoint}"
    )


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_parallel_fork_answer_cancels_the_other_branch(
    vipproxy: StartProxy, sipp: SippLauncher, transport: Transport
) -> None:
    # The answering callee rings for a while first, so the other one is ringing
    # (has sent 180) when the 200 arrives and can be cancelled (RFC 3261 §9.1).
    answering = sipp.uas("answering", "uas_answer.xml", transport=transport, pause_ms=500)
    ringing = sipp.uas("ringing", "uas_ring_until_cancel.xml", transport=transport)
    proxy = vipproxy(route(stage(answering.uri("a"), ringing.uri("b"))))

    caller = sipp.uac(
        "caller", "uac_call.xml", remote=proxy.endpoint, service=NUMBER, transport=transport
    )
    results = sipp.finish(caller, answering, ringing)

    assert_all_passed(*results)
    caller_result, _, ringing_result = results
    assert caller_result.final_status() == 200
    assert [m.status for m in caller_result.final_responses()] == [200]
    cancel = only(ringing_result.received("CANCEL"), "CANCEL at the losing callee")
    assert_through_proxy(cancel, proxy, hops=1)
    # RFC 3326: the loser is told the call was answered elsewhere.
    assert "cause=200" in cancel.header("Reason"), f"Reason: {cancel.header('Reason')!r}"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_serial_fork_busy_first_then_second_answers(
    vipproxy: StartProxy, sipp: SippLauncher, transport: Transport
) -> None:
    busy = sipp.uas("busy", "uas_reject.xml", transport=transport, fill=reject(486, "Busy Here"))
    answering = sipp.uas("answering", "uas_answer.xml", transport=transport)
    proxy = vipproxy(route(stage(busy.uri("a")), stage(answering.uri("b"))))

    caller = sipp.uac(
        "caller", "uac_call.xml", remote=proxy.endpoint, service=NUMBER, transport=transport
    )
    caller_result, busy_result, answering_result = sipp.finish(caller, busy, answering)

    assert_all_passed(caller_result, busy_result, answering_result)
    assert caller_result.final_status() == 200
    assert all(m.status != 486 for m in caller_result.received()), "the 486 reached the caller"
    # The ACK for the 486 is the proxy's own, hop by hop (RFC 3261 §17.1.1.3).
    assert_through_proxy(only(busy_result.received("ACK"), "ACK at the busy callee"), proxy, hops=1)


@pytest.mark.parametrize(
    ("first", "second", "expected", "transport"),
    [
        pytest.param((486, "Busy Here"), (404, "Not Found"), 486, "udp", id="busy-beats-not-found"),
        pytest.param(
            (486, "Busy Here"), (404, "Not Found"), 486, "tcp", id="busy-beats-not-found-tcp"
        ),
        pytest.param(
            (503, "Service Unavailable"), (486, "Busy Here"), 486, "udp", id="lowest-class-wins"
        ),
        pytest.param((486, "Busy Here"), (603, "Decline"), 603, "udp", id="6xx-wins"),
        pytest.param(
            (503, "Service Unavailable"), (503, "Service Unavailable"), 500, "udp",
            id="503-becomes-500",
        ),
    ],
)
def test_every_callee_fails_caller_gets_the_best_response(
    vipproxy: StartProxy,
    sipp: SippLauncher,
    first: tuple[int, str],
    second: tuple[int, str],
    expected: int,
    transport: Transport,
) -> None:
    callee_a = sipp.uas("callee-a", "uas_reject.xml", fill=reject(*first), transport=transport)
    # The second answer comes a little later so both orders are not a race.
    callee_b = sipp.uas(
        "callee-b", "uas_reject.xml", fill=reject(*second), pause_ms=200, transport=transport
    )
    proxy = vipproxy(route(stage(callee_a.uri("a"), callee_b.uri("b"))))

    caller = sipp.uac(
        "caller", "uac_expect_failure.xml", remote=proxy.endpoint, service=NUMBER,
        transport=transport,
    )
    results = sipp.finish(caller, callee_a, callee_b)

    assert_all_passed(*results)
    # RFC 3261 §16.7 step 6: a 6xx wins, else the lowest class; 503 is sent as 500.
    # Among 4xx any may be chosen; a callee that is busy tells the caller more
    # than a target that does not exist, so 486 is expected over 404.
    assert results[0].final_status() == expected, results[0].flow()
    for callee in results[1:]:
        # Each callee's failure is ACKed by the proxy itself; the caller's ACK stops there.
        assert_through_proxy(only(callee.received("ACK"), f"ACK at {callee.name}"), proxy, hops=1)


def _caller_cancels_a_fork(vipproxy: StartProxy, sipp: SippLauncher, transport: Transport,
                           second_callee: str) -> tuple[ProxyProcess, tuple[SippResult, ...]]:
    """A caller that CANCELs while two callees ring: one rings until cancelled, the
    other runs ``second_callee``. The results: caller, ringing, second."""
    ringing = sipp.uas("ringing", "uas_ring_until_cancel.xml", transport=transport)
    second = sipp.uas("second", second_callee, transport=transport)
    proxy = vipproxy(route(stage(ringing.uri("a"), second.uri("b"))))
    caller = sipp.uac("caller", "uac_cancel.xml", remote=proxy.endpoint, service=NUMBER,
                      transport=transport, pause_ms=300)
    results = sipp.finish(caller, ringing, second)
    assert_all_passed(*results)
    return proxy, results


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_caller_cancels_while_callees_ring(
    vipproxy: StartProxy, sipp: SippLauncher, transport: Transport
) -> None:
    proxy, results = _caller_cancels_a_fork(vipproxy, sipp, transport,
                                            "uas_ring_until_cancel.xml")

    assert results[0].final_status() == 487
    for callee in results[1:]:
        cancel = only(callee.received("CANCEL"), f"CANCEL at {callee.name}")
        assert_through_proxy(cancel, proxy, hops=1)
        # Nobody answered: this is a missed call, not one completed elsewhere.
        assert "cause=200" not in cancel.header("Reason")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_200_that_crossed_the_callers_cancel_is_the_callers_answer(
    vipproxy: StartProxy, sipp: SippLauncher, transport: Transport
) -> None:
    # RFC 3261 §16.10: the caller's final response waits for the branches' answers,
    # so the 200 is not sent after a 487 that the caller's transaction would keep
    # (§17.1.1.2), leaving the callee without an ACK.
    proxy, (caller, ringing, answering) = _caller_cancels_a_fork(
        vipproxy, sipp, transport, "uas_answer_across_cancel.xml")

    assert [final.status for final in caller.final_responses("INVITE")] == [200]
    # The ACK of a 2xx and the BYE come end to end, along the Record-Route.
    assert_through_proxy(only(answering.received("ACK"), "ACK at the answering callee"), proxy)
    only(answering.received("BYE"), "BYE at the answering callee")
    only(ringing.received("CANCEL"), "CANCEL at the ringing callee")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_stage_timeout_moves_on_to_the_next_stage(
    vipproxy: StartProxy, sipp: SippLauncher, transport: Transport
) -> None:
    ringing = sipp.uas("ringing", "uas_ring_until_cancel.xml", transport=transport)
    answering = sipp.uas("answering", "uas_answer.xml", transport=transport)
    proxy = vipproxy(route(stage(ringing.uri("a"), timeout="1s"), stage(answering.uri("b"))))

    caller = sipp.uac(
        "caller", "uac_call.xml", remote=proxy.endpoint, service=NUMBER, transport=transport
    )
    results = sipp.finish(caller, ringing, answering)

    assert_all_passed(*results)
    assert results[0].final_status() == 200
    cancel = only(results[1].received("CANCEL"), "CANCEL at the first stage's callee")
    assert "cause=200" not in cancel.header("Reason"), "cancelled by timeout, not elsewhere"
    assert all(m.status != 408 for m in results[0].received()), "the caller saw the timeout"


@pytest.mark.parametrize(
    ("caller_transport", "callee_transport"),
    [("udp", "udp"), ("tcp", "tcp"), ("udp", "tcp"), ("tcp", "udp")],
)
def test_ack_reinvite_and_bye_travel_through_the_record_route(
    vipproxy: StartProxy,
    sipp: SippLauncher,
    caller_transport: Transport,
    callee_transport: Transport,
) -> None:
    callee = sipp.uas("callee", "uas_answer.xml", transport=callee_transport)
    proxy = vipproxy(route(stage(callee.uri("a"))))

    caller = sipp.uac(
        "caller",
        "uac_call.xml",
        remote=proxy.endpoint,
        service=NUMBER,
        transport=caller_transport,
        variables={"reinvite": "yes"},
    )
    caller_result, callee_result = sipp.finish(caller, callee)

    assert_all_passed(caller_result, callee_result)
    answer = caller_result.final_responses()[0]
    assert str(proxy.endpoint) in answer.header("Record-Route"), answer.text
    sent_bye = only(caller_result.sent("BYE"), "BYE sent by the caller")
    assert str(proxy.endpoint) in sent_bye.header("Route"), sent_bye.text
    invites = callee_result.received("INVITE")
    assert len(invites) == 2, "the re-INVITE did not reach the callee"
    in_dialog = [*invites[1:], *callee_result.received("ACK"), *callee_result.received("BYE")]
    assert len(in_dialog) == 4, [m.start_line for m in in_dialog]
    for request in in_dialog:
        assert_through_proxy(request, proxy)


@pytest.mark.parametrize(
    ("headers", "named"),
    [
        pytest.param({"CSeq": "one INVITE"}, "cseq", id="bad-cseq-number"),
        pytest.param({"CSeq": "1 BYE"}, "cseq", id="cseq-method-mismatch"),
        pytest.param({"Max-Forwards": "many"}, "max-forwards", id="bad-max-forwards"),
    ],
)
def test_malformed_request_gets_400_naming_the_problem(
    vipproxy: StartProxy, loopback: LoopbackAllocator, headers: dict[str, str], named: str
) -> None:
    proxy = vipproxy(route(stage(loopback.endpoint().sip_uri("a"))))
    probe = UdpProbe(loopback.endpoint())
    try:
        invite = request_text("INVITE", proxy.endpoint, probe.endpoint, headers=headers)
        probe.send(invite, proxy.endpoint)
        response = probe.final_response(timeout=5.0)
    finally:
        probe.close()

    assert response is not None, "no response to a malformed request"
    assert response.status == 400, response.start_line
    assert named in response.reason.lower(), f"{named!r} not named in: {response.start_line}"


def test_max_forwards_zero_gets_483_and_is_not_forwarded(
    vipproxy: StartProxy, loopback: LoopbackAllocator
) -> None:
    callee = UdpProbe(loopback.endpoint())
    caller = UdpProbe(loopback.endpoint())
    try:
        proxy = vipproxy(route(stage(callee.endpoint.sip_uri("a"))))
        branch = "z9hG4bK-e2e-mf0"
        invite = request_text(
            "INVITE", proxy.endpoint, caller.endpoint, branch=branch, headers={"Max-Forwards": "0"}
        )
        caller.send(invite, proxy.endpoint)
        response = caller.final_response(timeout=5.0)
        assert response is not None, "no response to an INVITE with Max-Forwards: 0"
        ack = request_text(
            "ACK",
            proxy.endpoint,
            caller.endpoint,
            branch=branch,
            headers={"To": response.header("To"), "CSeq": "1 ACK", "Max-Forwards": "70"},
        )
        caller.send(ack, proxy.endpoint)
        forwarded = callee.receive(timeout=0.5)
    finally:
        caller.close()
        callee.close()

    assert response.status == 483, response.start_line  # RFC 3261 §16.3 step 3
    assert forwarded is None, f"forwarded anyway: {forwarded.start_line}"


def test_sigterm_exits_zero(vipproxy: StartProxy, loopback: LoopbackAllocator) -> None:
    proxy = vipproxy(route(stage(loopback.endpoint().sip_uri("a"))))

    assert proxy.stop() == 0, proxy.stderr()


def test_sigterm_lets_a_ringing_call_be_answered_and_refuses_new_invites(
    vipproxy: StartProxy, sipp: SippLauncher, loopback: LoopbackAllocator
) -> None:
    callee = sipp.uas("callee", "uas_answer.xml", pause_ms=1000)
    proxy = vipproxy(route(stage(callee.uri("a"))))
    # Short timeout: after the 200, the proxy may be gone before the BYE.
    caller = sipp.uac("caller", "uac_call.xml", remote=proxy.endpoint, service=NUMBER, timeout=5)
    assert wait_until(lambda: bool(callee.received_so_far("INVITE")), 5.0), "call never rang"

    proxy.terminate()
    # The signal is handled on the proxy's loop; a datagram sent before that is a new call.
    assert wait_until(lambda: "proxy.draining" in proxy.stderr(), 5.0), "never started draining"
    late = UdpProbe(loopback.endpoint())
    try:
        late.send(request_text("INVITE", proxy.endpoint, late.endpoint), proxy.endpoint)
        refusal = late.final_response(timeout=2.0)
    finally:
        late.close()
    caller_result = sipp.finish(caller, callee)[0]
    exit_code = proxy.wait_exit()

    assert refusal is not None, "no answer to an INVITE while draining"
    assert refusal.status == 503, refusal.start_line
    assert caller_result.final_status() == 200, caller_result.report()
    assert exit_code == 0, proxy.stderr()


def test_sigterm_ends_calls_still_ringing_at_the_end_of_the_grace(
    vipproxy: StartProxy, sipp: SippLauncher
) -> None:
    numbers = ["2001", "2002", "2003"]
    callees = [sipp.uas(f"ringing-{n}", "uas_ring_until_cancel.xml") for n in numbers]
    proxy = vipproxy({
        number: {"stages": [stage(callee.uri("a"))]}
        for number, callee in zip(numbers, callees, strict=True)
    })
    callers = [
        sipp.uac(f"caller-{n}", "uac_expect_failure.xml", remote=proxy.endpoint, service=n)
        for n in numbers
    ]
    assert wait_until(lambda: all(c.received_so_far("INVITE") for c in callees), 10.0), (
        "not every call rang"
    )

    proxy.terminate()
    # Only the end of the grace is timed, and it is timed from the proxy's own start of draining.
    assert wait_until(lambda: bool(proxy.events("proxy.draining")), 5.0), "never started draining"
    exit_code = proxy.wait_exit()
    caller_results = [caller.wait() for caller in callers]
    # The proxy is gone, so nobody ACKs the callees' 487s: only their CANCELs are checked.
    cancelled = wait_until(lambda: all(c.received_so_far("CANCEL") for c in callees), 5.0)

    assert exit_code == 0, proxy.stderr()
    assert proxy.events("proxy.draining")[0]["in_progress"] == len(numbers)
    for result in caller_results:
        result.assert_passed()
        final = only(result.final_responses(), f"final response at {result.name}")
        assert (final.status, final.reason) == (
            503, "Service Unavailable (proxy shutting down)"), final.start_line
        assert final.has_header("Retry-After"), final.text
    assert cancelled, [c.name for c in callees if not c.received_so_far("CANCEL")]
    for callee in callees:
        assert_through_proxy(only(callee.received_so_far("CANCEL"), "CANCEL"), proxy, hops=1)
