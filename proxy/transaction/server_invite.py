"""The INVITE server transaction (RFC 3261 §17.2.1, Figure 7, as amended by RFC 6026 §7.1).

The proxy runs one per INVITE it receives. Transitions are in
:attr:`InviteServerTransaction._TABLE` right after the class.
"""

from __future__ import annotations

from proxy.sip.message import Request, Response, make_response
from proxy.transaction.actions import AckTimedOut, Action, PassUpAck
from proxy.transaction.machine import TRANSPORT_FAILED, absorb, end
from proxy.transaction.server_base import (
    RETRANSMISSION,
    ServerTransaction,
    from_core,
    send,
    send_last_again,
)
from proxy.transaction.states import TransactionState as S
from proxy.transaction.timers import TimerSettings


class InviteServerTransaction(ServerTransaction):
    """Answers one received INVITE with the responses the proxy core hands down.

    Call :meth:`start` once (it sends the 100 Trying), :meth:`send_response` for
    every response of the core, and :meth:`handle` for every event matched to
    the transaction (retransmissions, the ACK, timers).
    """

    __slots__ = ("_interval_g",)

    def __init__(self, request: Request, *, reliable: bool, timers: TimerSettings) -> None:
        super().__init__(request, S.PROCEEDING, reliable=reliable, timers=timers)
        self._interval_g = timers.t1

    def start(self, now: float) -> list[Action]:
        """Send 100 Trying at once (§16.2: a stateful proxy answers every INVITE so).

        It quenches the caller's INVITE retransmissions (§17.2.1) and is what a
        retransmission gets until the core hands down a provisional of its own.
        """
        return send(self, make_response(self._request, 100, "Trying"))

    # -- handlers ------------------------------------------------------------

    def _accepted(self, response: Response) -> list[Action]:
        # RFC 6026 §7.1: a 2xx moves to Accepted; Timer L (64*T1) keeps the
        # transaction so that 2xx from other branches can still be sent through
        # it and INVITE retransmissions are absorbed rather than routed anew.
        self._state = S.ACCEPTED
        return [*send(self, response), self._timers.start("L", self._settings.transaction_timeout)]

    def _completed(self, response: Response) -> list[Action]:
        # §17.2.1: a 300-699 is retransmitted on Timer G (unreliable only) until the
        # ACK arrives or Timer H gives up.
        self._state = S.COMPLETED
        actions = send(self, response)
        if not self._reliable:
            actions.append(self._timers.start("G", self._interval_g))
        actions.append(self._timers.start("H", self._settings.transaction_timeout))
        return actions

    def _retransmit_final(self) -> list[Action]:
        # §17.2.1: Timer G doubles up to T2.
        self._interval_g = min(2 * self._interval_g, self._settings.t2)
        return [*send_last_again(self), self._timers.start("G", self._interval_g)]

    def _confirmed(self, ack: Request) -> list[Action]:
        # §17.2.1: the ACK stops retransmissions; Timer I absorbs ACK retransmissions.
        stops = self._timers.stop("G", "H")
        self._state = S.CONFIRMED
        return [*stops, *self._linger("I", self._settings.t4)]

    def _no_ack(self) -> list[Action]:
        # §17.2.1: Timer H fired with no ACK; the core counts it.
        return [AckTimedOut(), self._terminate()]

    def _pass_up_ack(self, ack: Request) -> list[Action]:
        return [PassUpAck(ack)]


# The transitions, set once the class exists so that its handlers can be named
# (a compiled class body cannot refer to its own methods).
InviteServerTransaction._TABLE = {
    (S.PROCEEDING, from_core("1xx")): send,
    (S.PROCEEDING, from_core("2xx")): InviteServerTransaction._accepted,
    (S.PROCEEDING, from_core("3xx-6xx")): InviteServerTransaction._completed,
    (S.PROCEEDING, RETRANSMISSION): send_last_again,  # the last 1xx, or the 100
    (S.PROCEEDING, TRANSPORT_FAILED): end,  # §17.2.4
    # RFC 6026 §7.1: 2xx from other branches are forwarded through Accepted;
    # INVITE retransmissions are absorbed (the 2xx are end to end, the UAS
    # retransmits them, not us); an ACK here acknowledges a 2xx and is the
    # core's to route (RFC 6026 §8.7).
    (S.ACCEPTED, from_core("2xx")): send,
    (S.ACCEPTED, RETRANSMISSION): absorb,
    (S.ACCEPTED, "ACK"): InviteServerTransaction._pass_up_ack,
    (S.ACCEPTED, "L"): end,
    # A failed 2xx send does not end Accepted: INVITE retransmissions must still
    # be absorbed, not routed anew, and 2xx from other branches may get through.
    (S.ACCEPTED, TRANSPORT_FAILED): absorb,
    (S.COMPLETED, RETRANSMISSION): send_last_again,  # the final again
    (S.COMPLETED, "ACK"): InviteServerTransaction._confirmed,
    (S.COMPLETED, "G"): InviteServerTransaction._retransmit_final,
    (S.COMPLETED, "H"): InviteServerTransaction._no_ack,
    (S.COMPLETED, TRANSPORT_FAILED): end,  # §17.2.4
    (S.CONFIRMED, "ACK"): absorb,  # §17.2.1: ACK retransmissions
    (S.CONFIRMED, RETRANSMISSION): absorb,  # a late INVITE copy: the final is acknowledged
    (S.CONFIRMED, "I"): end,
    # Confirmed sends nothing, so no transport failure can concern it.
}
