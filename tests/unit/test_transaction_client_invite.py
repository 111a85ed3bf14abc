"""The INVITE client transaction (RFC 3261 §17.1.1, RFC 6026 §7.2) driven with a fake clock."""

from __future__ import annotations

from faketimers import FakeTimers
from hypothesis import given, settings
from hypothesis import strategies as st
from sipfactory import request, response
from txproperty import Step, replay, steps

from proxy.transaction.actions import (
    PassUp,
    Send,
    StartTimer,
    StopTimer,
    Terminated,
    TimedOut,
    TransportError,
)
from proxy.transaction.client_invite import InviteClientTransaction, ack_for_final
from proxy.transaction.events import (
    RequestReceived,
    ResponseReceived,
    TimerFired,
    TransportFailed,
)
from proxy.transaction.states import TransactionState
from proxy.transaction.timers import TimerSettings

TIMERS = TimerSettings(t1=0.5, t2=4.0, t4=5.0)
ROUTE = ("Route", "<sip:next.example.com;lr>")
INVITE = request("INVITE", branch="z9hG4bK-branch-1", extra=[ROUTE, ("Subject", "hello")])


def started(*, reliable: bool = False) -> InviteClientTransaction:
    tx = InviteClientTransaction(INVITE, reliable=reliable, timers=TIMERS)
    tx.start(0.0)
    return tx


def received(status: int, *, to_tag: str = "bob-tag") -> ResponseReceived:
    return ResponseReceived(response(INVITE, status, to_tag=to_tag))


def test_start_unreliable_sends_and_starts_a_and_b() -> None:
    tx = InviteClientTransaction(INVITE, reliable=False, timers=TIMERS)
    assert tx.start(0.0) == [
        Send(INVITE),
        StartTimer("A", 0.5, 1),
        StartTimer("B", 32.0, 1),
    ]
    assert tx.state is TransactionState.CALLING
    assert tx.request is INVITE


def test_start_reliable_has_no_timer_a() -> None:
    tx = InviteClientTransaction(INVITE, reliable=True, timers=TIMERS)
    assert tx.start(0.0) == [Send(INVITE), StartTimer("B", 32.0, 1)]


def test_timer_a_doubles_without_cap_until_timer_b() -> None:
    tx = InviteClientTransaction(INVITE, reliable=False, timers=TIMERS)
    clock = FakeTimers()
    clock.note(tx.start(0.0), 0.0)
    log = clock.run(tx.handle, until=100.0)
    sends = [at for at, action in log if action == Send(INVITE)]
    # Intervals 0.5, 1, 2, 4, 8, 16 (§17.1.1.2: no T2 cap for INVITE); B at 64*T1.
    assert sends == [0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    assert [(at, a) for at, a in log if not isinstance(a, Send | StartTimer)] == [
        (32.0, TimedOut()),
        (32.0, Terminated()),
    ]
    assert tx.state is TransactionState.TERMINATED


def test_reliable_timeout_is_timer_b_only() -> None:
    tx = InviteClientTransaction(INVITE, reliable=True, timers=TIMERS)
    clock = FakeTimers()
    clock.note(tx.start(0.0), 0.0)
    assert clock.run(tx.handle, until=100.0) == [(32.0, TimedOut()), (32.0, Terminated())]


def test_provisional_moves_to_proceeding_and_stops_retransmissions() -> None:
    tx = InviteClientTransaction(INVITE, reliable=False, timers=TIMERS)
    clock = FakeTimers()
    clock.note(tx.start(0.0), 0.0)
    ringing = received(180)
    actions = tx.handle(ringing, 0.2)
    assert actions == [StopTimer("A"), PassUp(ringing.response)]
    clock.note(actions, 0.2)
    assert tx.state is TransactionState.PROCEEDING
    # Timer A is taken back; Timer B still fires and does nothing in Proceeding.
    assert set(clock.pending) == {"B"}
    assert clock.run(tx.handle, until=100.0) == []
    assert tx.state is TransactionState.PROCEEDING


def test_stopped_timer_a_that_still_fires_is_stale() -> None:
    tx = InviteClientTransaction(INVITE, reliable=False, timers=TIMERS)
    clock = FakeTimers(cancelling=False)  # a driver too late to take the timer back
    clock.note(tx.start(0.0), 0.0)
    clock.note(tx.handle(received(180), 0.2), 0.2)
    assert clock.run(tx.handle, until=100.0) == []
    assert tx.state is TransactionState.PROCEEDING


def test_more_provisionals_in_proceeding_are_passed_up() -> None:
    tx = started()
    tx.handle(received(100), 0.1)
    session_progress = received(183)
    assert tx.handle(session_progress, 0.2) == [PassUp(session_progress.response)]


def test_timer_b_in_proceeding_is_ignored_core_timer_c_bounds_it() -> None:
    tx = started(reliable=True)
    tx.handle(received(180), 1.0)
    assert tx.handle(TimerFired("B", 1), 32.0) == []
    assert tx.state is TransactionState.PROCEEDING


def test_2xx_moves_to_accepted_with_timer_m() -> None:
    tx = started()
    ok = received(200)
    assert tx.handle(ok, 1.0) == [StopTimer("A"), StopTimer("B"), PassUp(ok.response),
                                  StartTimer("M", 32.0, 1)]
    assert tx.state is TransactionState.ACCEPTED


def test_rfc6026_every_later_2xx_is_passed_up_in_accepted() -> None:
    tx = started()
    tx.handle(received(180), 0.5)
    tx.handle(received(200), 1.0)
    again = received(200)
    other_fork = received(200, to_tag="other-uas")
    assert tx.handle(again, 1.5) == [PassUp(again.response)]
    assert tx.handle(other_fork, 2.0) == [PassUp(other_fork.response)]


def test_accepted_drops_1xx_and_non_2xx_then_timer_m_terminates() -> None:
    tx = started()
    tx.handle(received(200), 1.0)
    assert tx.handle(received(180), 1.1) == []
    assert tx.handle(received(486), 1.2) == []
    assert tx.handle(TimerFired("A", 1), 1.3) == []  # stopped by the 2xx
    assert tx.handle(TimerFired("B", 1), 32.0) == []  # stopped by the 2xx
    assert tx.handle(TimerFired("M", 1), 33.0) == [Terminated()]
    assert tx.state is TransactionState.TERMINATED


def test_final_error_acks_passes_up_and_starts_timer_d() -> None:
    tx = started()
    tx.handle(received(180), 0.3)
    busy = received(486)
    actions = tx.handle(busy, 2.0)
    assert actions == [
        StopTimer("B"),  # A was stopped by the 180 already
        Send(ack_for_final(INVITE, busy.response)),
        PassUp(busy.response),
        StartTimer("D", 32.0, 1),
    ]
    assert tx.state is TransactionState.COMPLETED


def test_ack_is_built_per_17_1_1_3() -> None:
    proxied = request(
        "INVITE",
        branch="z9hG4bK-ours",
        extra=[("Via", "SIP/2.0/UDP 127.0.0.9:5060;branch=z9hG4bK-caller"), ROUTE, ROUTE],
    )
    busy = response(proxied, 486, to_tag="callee")
    ack = ack_for_final(proxied, busy)
    assert ack.method == "ACK"
    assert ack.uri == proxied.uri
    assert ack.header_lines("via") == ["SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-ours"]
    assert ack.header_lines("route") == ["<sip:next.example.com;lr>"] * 2
    assert ack.header("to") == "Bob <sip:bob@127.0.0.1>;tag=callee"
    assert ack.header("from") == proxied.header("from")
    assert ack.call_id == proxied.call_id
    assert ack.cseq == (1, "ACK")
    assert ack.header("max-forwards") == "70"
    assert ack.header("content-length") == "0"
    assert ack.body == b""


def test_final_retransmission_reacks_and_is_not_passed_up() -> None:
    tx = started()
    busy = received(486)
    first_ack = tx.handle(busy, 1.0)[2]  # after the StopTimers of A and B
    assert tx.handle(received(486), 1.6) == [first_ack]
    assert tx.handle(received(180), 1.7) == []
    assert tx.handle(received(200), 1.8) == []
    assert tx.handle(TimerFired("D", 1), 33.0) == [Terminated()]


def test_reliable_final_terminates_at_once() -> None:
    tx = started(reliable=True)
    busy = received(603)
    assert tx.handle(busy, 1.0) == [
        StopTimer("B"),  # no Timer A on a reliable transport
        Send(ack_for_final(INVITE, busy.response)),
        PassUp(busy.response),
        Terminated(),
    ]
    assert tx.handle(received(603), 1.1) == []


def test_stale_timer_a_after_restart_is_ignored() -> None:
    tx = started()
    assert tx.handle(TimerFired("A", 1), 0.5) == [Send(INVITE), StartTimer("A", 1.0, 2)]
    assert tx.handle(TimerFired("A", 1), 0.6) == []  # generation 1 was replaced by 2
    assert tx.handle(TimerFired("A", 2), 1.5) == [Send(INVITE), StartTimer("A", 2.0, 3)]


def test_transport_failure_before_final_reports_and_terminates() -> None:
    tx = started()
    assert tx.handle(TransportFailed("connection refused"), 0.1) == [
        TransportError("connection refused"),
        Terminated(),
    ]
    assert tx.handle(received(200), 0.2) == []


def test_transport_failure_after_final_only_terminates() -> None:
    tx = started()
    tx.handle(received(404), 0.5)
    assert tx.handle(TransportFailed("ICMP"), 0.6) == [Terminated()]


def test_requests_are_not_for_client_transactions() -> None:
    tx = started()
    assert tx.handle(RequestReceived(INVITE), 0.1) == []
    assert tx.state is TransactionState.CALLING


@settings(max_examples=300)
@given(plan=steps("ABDMZ", responses=True, sends=False), reliable=st.booleans())
def test_any_event_sequence_never_raises_nor_acts_after_terminated(
    plan: list[Step], reliable: bool
) -> None:
    tx = InviteClientTransaction(INVITE, reliable=reliable, timers=TIMERS)
    replay(tx, INVITE, tx.start(0.0), plan)
