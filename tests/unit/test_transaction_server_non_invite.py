"""The non-INVITE server transaction (RFC 3261 §17.2.2) driven with a fake clock."""

from __future__ import annotations

from faketimers import FakeTimers
from hypothesis import given, settings
from sipfactory import request, response
from txproperty import Step, replay, steps

from proxy.transaction.actions import Send, StartTimer, Terminated
from proxy.transaction.events import RequestReceived, TimerFired, TransportFailed
from proxy.transaction.server_non_invite import NonInviteServerTransaction
from proxy.transaction.states import TransactionState
from proxy.transaction.timers import TimerSettings

TIMERS = TimerSettings(t1=0.5, t2=4.0, t4=5.0)
OPTIONS = request("OPTIONS", branch="z9hG4bK-options-1")
RETRANSMISSION = RequestReceived(OPTIONS)


def started(*, reliable: bool = False) -> NonInviteServerTransaction:
    tx = NonInviteServerTransaction(OPTIONS, reliable=reliable, timers=TIMERS)
    assert tx.start(0.0) == []  # no 100 Trying for non-INVITE (RFC 4320 §4.1)
    return tx


def test_starts_in_trying_and_absorbs_retransmissions_there() -> None:
    tx = started()
    assert tx.state is TransactionState.TRYING
    assert tx.request is OPTIONS
    assert tx.last_response is None
    assert tx.handle(RETRANSMISSION, 0.5) == []


def test_provisional_moves_to_proceeding_and_answers_retransmissions() -> None:
    tx = started()
    trying = response(OPTIONS, 100)
    assert tx.send_response(trying, 0.1) == [Send(trying)]
    assert tx.state is TransactionState.PROCEEDING
    assert tx.handle(RETRANSMISSION, 0.5) == [Send(trying)]
    later = response(OPTIONS, 183)
    assert tx.send_response(later, 0.6) == [Send(later)]
    assert tx.handle(RETRANSMISSION, 0.7) == [Send(later)]
    assert tx.last_response == later


def test_final_completes_with_timer_j_and_answers_retransmissions() -> None:
    tx = started()
    ok = response(OPTIONS, 200)
    assert tx.send_response(ok, 1.0) == [Send(ok), StartTimer("J", 32.0, 1)]
    assert tx.state is TransactionState.COMPLETED
    assert tx.handle(RETRANSMISSION, 1.5) == [Send(ok)]
    assert tx.send_response(response(OPTIONS, 500), 1.6) == []  # one final only
    assert tx.send_response(response(OPTIONS, 180), 1.7) == []
    assert tx.handle(TimerFired("J", 1), 33.0) == [Terminated()]


def test_final_from_proceeding_completes() -> None:
    tx = started()
    tx.send_response(response(OPTIONS, 100), 0.1)
    error = response(OPTIONS, 404)
    assert tx.send_response(error, 0.2) == [Send(error), StartTimer("J", 32.0, 1)]


def test_a_408_is_withheld_and_retransmissions_get_nothing() -> None:
    # RFC 4320 §4.2: no 408 to a non-INVITE request; the client's Timer F ends it.
    tx = started()
    trying = response(OPTIONS, 100)
    tx.send_response(trying, 0.1)
    assert tx.send_response(response(OPTIONS, 408), 32.0) == [StartTimer("J", 32.0, 1)]
    assert tx.state is TransactionState.COMPLETED
    assert tx.handle(RETRANSMISSION, 32.5) == []
    assert tx.send_response(response(OPTIONS, 200), 33.0) == []  # the final was decided
    assert tx.handle(TimerFired("J", 1), 64.0) == [Terminated()]


def test_a_withheld_408_over_a_reliable_transport_terminates_at_once() -> None:
    tx = started(reliable=True)
    assert tx.send_response(response(OPTIONS, 408), 32.0) == [Terminated()]


def test_reliable_final_terminates_at_once() -> None:
    tx = started(reliable=True)
    ok = response(OPTIONS, 200)
    assert tx.send_response(ok, 1.0) == [Send(ok), Terminated()]
    assert tx.handle(RETRANSMISSION, 1.1) == []


def test_timer_j_runs_on_the_fake_clock() -> None:
    tx = started()
    clock = FakeTimers()
    clock.note(tx.send_response(response(OPTIONS, 486), 2.0), 2.0)
    assert clock.run(tx.handle, until=100.0) == [(34.0, Terminated())]
    assert tx.state is TransactionState.TERMINATED


def test_stale_timer_j_is_ignored() -> None:
    tx = started()
    tx.send_response(response(OPTIONS, 200), 1.0)
    assert tx.handle(TimerFired("J", 0), 33.0) == []
    assert tx.handle(TimerFired("J", 2), 33.0) == []
    assert tx.state is TransactionState.COMPLETED


def test_transport_failure_terminates() -> None:
    tx = started()
    tx.send_response(response(OPTIONS, 100), 0.1)
    assert tx.handle(TransportFailed("refused"), 0.2) == [Terminated()]


@settings(max_examples=300)
@given(plan=steps("JZ", responses=False, sends=True, requests=[OPTIONS]))
def test_any_event_sequence_never_raises_nor_acts_after_terminated(plan: list[Step]) -> None:
    for reliable in (False, True):
        tx = NonInviteServerTransaction(OPTIONS, reliable=reliable, timers=TIMERS)
        replay(tx, OPTIONS, tx.start(0.0), plan)
