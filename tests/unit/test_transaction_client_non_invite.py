"""The non-INVITE client transaction (RFC 3261 §17.1.2) driven with a fake clock."""

from __future__ import annotations

from collections.abc import Sequence

from faketimers import FakeTimers
from hypothesis import given, settings
from hypothesis import strategies as st
from sipfactory import request, response
from txproperty import Step, replay, steps

from proxy.transaction.actions import (
    Action,
    PassUp,
    Send,
    StartTimer,
    StopTimer,
    Terminated,
    TimedOut,
    TransportError,
)
from proxy.transaction.client_non_invite import NonInviteClientTransaction
from proxy.transaction.events import ResponseReceived, TimerFired, TransportFailed
from proxy.transaction.states import TransactionState
from proxy.transaction.timers import TimerSettings

TIMERS = TimerSettings(t1=0.5, t2=4.0, t4=5.0)
BYE = request("BYE", branch="z9hG4bK-bye-1", cseq=2, to_tag="bob-tag")


def started(*, reliable: bool = False) -> NonInviteClientTransaction:
    tx = NonInviteClientTransaction(BYE, reliable=reliable, timers=TIMERS)
    tx.start(0.0)
    return tx


def received(status: int) -> ResponseReceived:
    return ResponseReceived(response(BYE, status))


def send_times(log: Sequence[tuple[float, Action]]) -> list[float]:
    return [at for at, action in log if action == Send(BYE)]


def test_start_unreliable_sends_and_starts_e_and_f() -> None:
    tx = NonInviteClientTransaction(BYE, reliable=False, timers=TIMERS)
    assert tx.start(0.0) == [Send(BYE), StartTimer("E", 0.5, 1), StartTimer("F", 32.0, 1)]
    assert tx.state is TransactionState.TRYING
    assert tx.request is BYE


def test_start_reliable_has_no_timer_e() -> None:
    tx = NonInviteClientTransaction(BYE, reliable=True, timers=TIMERS)
    assert tx.start(0.0) == [Send(BYE), StartTimer("F", 32.0, 1)]


def test_timer_e_doubles_up_to_t2_in_trying_then_f_times_out() -> None:
    tx = NonInviteClientTransaction(BYE, reliable=False, timers=TIMERS)
    clock = FakeTimers()
    clock.note(tx.start(0.0), 0.0)
    log = clock.run(tx.handle, until=100.0)
    # Intervals 0.5, 1, 2, 4, then T2=4 on and on (§17.1.2.2).
    assert send_times(log) == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    delays = [action.delay for _, action in log if isinstance(action, StartTimer)]
    assert delays == [1.0, 2.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0]
    assert log[-2:] == [(32.0, TimedOut()), (32.0, Terminated())]


def test_timer_e_is_t2_once_proceeding() -> None:
    tx = NonInviteClientTransaction(BYE, reliable=False, timers=TIMERS)
    clock = FakeTimers()
    clock.note(tx.start(0.0), 0.0)
    clock.run(tx.handle, until=0.6)  # first retransmission at 0.5, next due at 1.5
    trying = received(100)
    assert tx.handle(trying, 0.7) == [PassUp(trying.response)]
    assert tx.state is TransactionState.PROCEEDING
    log = clock.run(tx.handle, until=12.0)
    assert send_times(log) == [1.5, 5.5, 9.5]
    assert [a.delay for _, a in log if isinstance(a, StartTimer)] == [4.0, 4.0, 4.0]


def test_more_provisionals_in_proceeding_are_passed_up() -> None:
    tx = started()
    tx.handle(received(100), 0.1)
    again = received(180)
    assert tx.handle(again, 0.2) == [PassUp(again.response)]


def test_final_completes_and_starts_timer_k_t4() -> None:
    tx = started()
    ok = received(200)
    assert tx.handle(ok, 1.0) == [StopTimer("E"), StopTimer("F"), PassUp(ok.response),
                                  StartTimer("K", 5.0, 1)]
    assert tx.state is TransactionState.COMPLETED


def test_error_final_from_proceeding_completes_too() -> None:
    tx = started()
    tx.handle(received(100), 0.1)
    error = received(481)
    assert tx.handle(error, 1.0) == [StopTimer("E"), StopTimer("F"), PassUp(error.response),
                                     StartTimer("K", 5.0, 1)]


def test_completed_absorbs_retransmissions_and_stale_e_f_then_k_ends() -> None:
    tx = NonInviteClientTransaction(BYE, reliable=False, timers=TIMERS)
    clock = FakeTimers()
    clock.note(tx.start(0.0), 0.0)
    clock.note(tx.handle(received(200), 0.2), 0.2)
    assert set(clock.pending) == {"K"}  # E (due 0.5) and F (due 32) taken back
    assert tx.handle(received(200), 0.3) == []
    assert tx.handle(received(100), 0.4) == []
    # K fires at 0.2 + T4.
    assert clock.run(tx.handle, until=100.0) == [(5.2, Terminated())]
    assert tx.state is TransactionState.TERMINATED


def test_stopped_e_and_f_that_still_fire_are_stale() -> None:
    tx = NonInviteClientTransaction(BYE, reliable=False, timers=TIMERS)
    clock = FakeTimers(cancelling=False)  # a driver too late to take them back
    clock.note(tx.start(0.0), 0.0)
    clock.note(tx.handle(received(200), 0.2), 0.2)
    assert clock.run(tx.handle, until=100.0) == [(5.2, Terminated())]


def test_reliable_final_terminates_at_once() -> None:
    tx = started(reliable=True)
    ok = received(200)
    assert tx.handle(ok, 1.0) == [StopTimer("F"), PassUp(ok.response), Terminated()]


def test_stale_timer_e_after_restart_is_ignored() -> None:
    tx = started()
    assert tx.handle(TimerFired("E", 1), 0.5) == [Send(BYE), StartTimer("E", 1.0, 2)]
    assert tx.handle(TimerFired("E", 1), 0.6) == []
    assert tx.handle(TimerFired("F", 7), 0.7) == []


def test_timer_f_in_proceeding_times_out() -> None:
    tx = started(reliable=True)
    tx.handle(received(100), 0.1)
    assert tx.handle(TimerFired("F", 1), 32.0) == [TimedOut(), Terminated()]


def test_transport_failure_before_final_reports_and_terminates() -> None:
    tx = started()
    assert tx.handle(TransportFailed("connection reset"), 0.1) == [
        TransportError("connection reset"),
        Terminated(),
    ]
    assert tx.handle(received(200), 0.2) == []


def test_transport_failure_in_completed_only_terminates() -> None:
    tx = started()
    tx.handle(received(200), 0.1)
    assert tx.handle(TransportFailed("gone"), 0.2) == [Terminated()]


@settings(max_examples=300)
@given(plan=steps("EFKZ", responses=True, sends=False), reliable=st.booleans())
def test_any_event_sequence_never_raises_nor_acts_after_terminated(
    plan: list[Step], reliable: bool
) -> None:
    tx = NonInviteClientTransaction(BYE, reliable=reliable, timers=TIMERS)
    replay(tx, BYE, tx.start(0.0), plan)
