"""The INVITE server transaction (RFC 3261 §17.2.1, RFC 6026 §7.1) driven with a fake clock."""

from __future__ import annotations

from faketimers import FakeTimers
from hypothesis import given, settings
from sipfactory import request, response
from txproperty import Step, replay, steps

from proxy.sip.message import make_response
from proxy.transaction.actions import (
    AckTimedOut,
    PassUpAck,
    Send,
    StartTimer,
    StopTimer,
    Terminated,
)
from proxy.transaction.events import (
    RequestReceived,
    ResponseReceived,
    TimerFired,
    TransportFailed,
)
from proxy.transaction.server_invite import InviteServerTransaction
from proxy.transaction.states import TransactionState
from proxy.transaction.timers import TimerSettings

TIMERS = TimerSettings(t1=0.5, t2=4.0, t4=5.0)
INVITE = request("INVITE", branch="z9hG4bK-caller-1")
RETRANSMISSION = RequestReceived(INVITE)
# The ACK of a non-2xx: same branch, To tag of our response (§17.1.1.3).
ACK = RequestReceived(
    request("ACK", branch="z9hG4bK-caller-1", to_tag="bob-tag", cseq_method="ACK")
)
TRYING = make_response(INVITE, 100, "Trying")


def started(*, reliable: bool = False) -> InviteServerTransaction:
    tx = InviteServerTransaction(INVITE, reliable=reliable, timers=TIMERS)
    tx.start(0.0)
    return tx


def test_start_sends_100_trying_and_remembers_it() -> None:
    tx = InviteServerTransaction(INVITE, reliable=False, timers=TIMERS)
    assert tx.last_response is None
    assert tx.start(0.0) == [Send(TRYING)]
    assert tx.state is TransactionState.PROCEEDING
    assert tx.last_response == TRYING
    assert tx.request is INVITE
    assert TRYING.header("to") == INVITE.header("to")  # no To tag in a 100 (§17.2.1)


def test_retransmission_in_proceeding_gets_the_100_then_the_last_provisional() -> None:
    tx = started()
    assert tx.handle(RETRANSMISSION, 0.5) == [Send(TRYING)]
    ringing = response(INVITE, 180)
    assert tx.send_response(ringing, 1.0) == [Send(ringing)]
    assert tx.last_response == ringing
    assert tx.state is TransactionState.PROCEEDING
    assert tx.handle(RETRANSMISSION, 1.5) == [Send(ringing)]


def test_2xx_moves_to_accepted_with_timer_l() -> None:
    tx = started()
    ok = response(INVITE, 200)
    assert tx.send_response(ok, 2.0) == [Send(ok), StartTimer("L", 32.0, 1)]
    assert tx.state is TransactionState.ACCEPTED


def test_rfc6026_accepted_forwards_later_2xx_and_absorbs_retransmissions() -> None:
    tx = started()
    tx.send_response(response(INVITE, 200), 2.0)
    other_fork = response(INVITE, 200, to_tag="other-uas")
    assert tx.send_response(other_fork, 2.5) == [Send(other_fork)]
    assert tx.handle(RETRANSMISSION, 3.0) == []
    assert tx.send_response(response(INVITE, 180), 3.1) == []  # too late for a 1xx
    assert tx.send_response(response(INVITE, 486), 3.2) == []  # and for an error
    assert tx.handle(TransportFailed("ICMP"), 3.3) == []
    assert tx.state is TransactionState.ACCEPTED
    assert tx.handle(TimerFired("L", 1), 34.0) == [Terminated()]


def test_ack_with_the_invite_branch_in_accepted_goes_to_the_core() -> None:
    tx = started()
    tx.send_response(response(INVITE, 200), 2.0)
    assert tx.handle(ACK, 2.1) == [PassUpAck(ACK.request)]
    assert tx.state is TransactionState.ACCEPTED


def test_error_final_completes_with_timers_g_and_h() -> None:
    tx = started()
    busy = response(INVITE, 486)
    assert tx.send_response(busy, 1.0) == [
        Send(busy),
        StartTimer("G", 0.5, 1),
        StartTimer("H", 32.0, 1),
    ]
    assert tx.state is TransactionState.COMPLETED
    assert tx.handle(RETRANSMISSION, 1.2) == [Send(busy)]
    assert tx.send_response(response(INVITE, 500), 1.3) == []  # one final only


def test_reliable_error_final_has_no_timer_g() -> None:
    tx = started(reliable=True)
    busy = response(INVITE, 486)
    assert tx.send_response(busy, 1.0) == [Send(busy), StartTimer("H", 32.0, 1)]


def test_timer_g_doubles_up_to_t2_until_timer_h_counts_no_ack() -> None:
    tx = started()
    clock = FakeTimers()
    busy = response(INVITE, 486)
    clock.note(tx.send_response(busy, 0.0), 0.0)
    log = clock.run(tx.handle, until=100.0)
    sends = [at for at, action in log if action == Send(busy)]
    # Intervals 0.5, 1, 2, 4, then T2 (§17.2.1); H fires at 64*T1.
    assert sends == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    assert log[-2:] == [(32.0, AckTimedOut()), (32.0, Terminated())]
    assert tx.state is TransactionState.TERMINATED


def test_ack_confirms_stops_retransmissions_and_starts_timer_i() -> None:
    tx = started()
    clock = FakeTimers()
    clock.note(tx.send_response(response(INVITE, 486), 0.0), 0.0)
    clock.run(tx.handle, until=0.6)  # one retransmission
    actions = tx.handle(ACK, 0.8)
    assert actions == [StopTimer("G"), StopTimer("H"), StartTimer("I", 5.0, 1)]
    assert tx.state is TransactionState.CONFIRMED
    clock.note(actions, 0.8)
    assert set(clock.pending) == {"I"}  # G (due 1.5) and H (due 32) taken back
    assert tx.handle(ACK, 0.9) == []  # ACK retransmission absorbed
    assert tx.handle(RETRANSMISSION, 1.0) == []
    # I ends the transaction at 0.8 + T4.
    assert clock.run(tx.handle, until=100.0) == [(5.8, Terminated())]


def test_stopped_g_and_h_that_still_fire_are_stale() -> None:
    tx = started()
    clock = FakeTimers(cancelling=False)  # a driver too late to take them back
    clock.note(tx.send_response(response(INVITE, 486), 0.0), 0.0)
    clock.note(tx.handle(ACK, 0.2), 0.2)
    assert clock.run(tx.handle, until=100.0) == [(5.2, Terminated())]


def test_reliable_ack_terminates_at_once() -> None:
    tx = started(reliable=True)
    tx.send_response(response(INVITE, 404), 1.0)
    assert tx.handle(ACK, 1.1) == [StopTimer("H"), Terminated()]  # no Timer G on a stream
    assert tx.handle(ACK, 1.2) == []


def test_responses_never_match_a_server_transaction() -> None:
    tx = started()
    assert tx.handle(ResponseReceived(response(INVITE, 200)), 1.0) == []
    assert tx.state is TransactionState.PROCEEDING


def test_ack_in_proceeding_is_dropped() -> None:
    tx = started()
    assert tx.handle(ACK, 0.5) == []
    assert tx.state is TransactionState.PROCEEDING


def test_stale_timer_g_is_ignored() -> None:
    tx = started()
    busy = response(INVITE, 486)
    tx.send_response(busy, 0.0)
    assert tx.handle(TimerFired("G", 1), 0.5) == [Send(busy), StartTimer("G", 1.0, 2)]
    assert tx.handle(TimerFired("G", 1), 0.6) == []
    assert tx.handle(TimerFired("H", 2), 0.7) == []


def test_transport_failure_terminates_in_proceeding_and_completed() -> None:
    tx = started()
    assert tx.handle(TransportFailed("refused"), 0.1) == [Terminated()]
    assert tx.send_response(response(INVITE, 180), 0.2) == []
    tx = started()
    tx.send_response(response(INVITE, 486), 0.1)
    assert tx.handle(TransportFailed("refused"), 0.2) == [Terminated()]


@settings(max_examples=300)
@given(plan=steps("GHILZ", responses=False, sends=True, requests=[INVITE, ACK.request]))
def test_any_event_sequence_never_raises_nor_acts_after_terminated(plan: list[Step]) -> None:
    for reliable in (False, True):
        tx = InviteServerTransaction(INVITE, reliable=reliable, timers=TIMERS)
        replay(tx, INVITE, tx.start(0.0), plan)
