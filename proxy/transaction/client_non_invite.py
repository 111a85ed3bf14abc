"""The non-INVITE client transaction (RFC 3261 §17.1.2, Figure 6; RFC 4320).

The proxy runs one per non-INVITE request it sends on (BYE, CANCEL, OPTIONS...).
Transitions are in :attr:`NonInviteClientTransaction._TABLE`.
"""

from __future__ import annotations

from proxy.sip.message import Request, Response
from proxy.transaction.actions import Action, PassUp
from proxy.transaction.client_base import ClientTransaction
from proxy.transaction.machine import (
    TRANSPORT_FAILED,
    absorb,
    end,
    fail_transport,
    pass_up,
    time_out,
)
from proxy.transaction.states import TransactionState as S
from proxy.transaction.timers import TimerSettings


class NonInviteClientTransaction(ClientTransaction):
    """Sends one non-INVITE request to a next hop and reports its responses to the core.

    Call :meth:`start` once, then :meth:`handle` for every event matched to the
    transaction. Both return the actions for the driver to carry out.
    """

    __slots__ = ("_interval_e",)

    def __init__(self, request: Request, *, reliable: bool, timers: TimerSettings) -> None:
        super().__init__(request, S.TRYING, reliable=reliable, timers=timers)
        self._interval_e = timers.t1

    def start(self, now: float) -> list[Action]:
        """Send the request; Timer E (unreliable only) and Timer F (RFC 3261 §17.1.2.2)."""
        actions: list[Action] = [self._send_request]
        if not self._reliable:
            actions.append(self._timers.start("E", self._interval_e))
        actions.append(self._timers.start("F", self._settings.transaction_timeout))
        return actions

    # -- handlers ------------------------------------------------------------

    def _retransmit(self) -> list[Action]:
        # §17.1.2.2: in Trying the interval doubles up to T2; in Proceeding it is T2.
        if self._state is S.TRYING:
            self._interval_e = min(2 * self._interval_e, self._settings.t2)
        else:
            self._interval_e = self._settings.t2
        return [self._send_request, self._timers.start("E", self._interval_e)]

    def _provisional(self, response: Response) -> list[Action]:
        self._state = S.PROCEEDING
        return [PassUp(response)]

    def _completed(self, response: Response) -> list[Action]:
        # §17.1.2.2: a final (200-699) goes up; Timer K absorbs its retransmissions.
        stops = self._timers.stop("E", "F")
        self._state = S.COMPLETED
        return [*stops, PassUp(response), *self._linger("K", self._settings.t4)]


# The transitions, set once the class exists so that its handlers can be named
# (a compiled class body cannot refer to its own methods).
NonInviteClientTransaction._TABLE = {
    (S.TRYING, "E"): NonInviteClientTransaction._retransmit,
    (S.TRYING, "F"): time_out,
    (S.TRYING, "1xx"): NonInviteClientTransaction._provisional,
    (S.TRYING, "2xx"): NonInviteClientTransaction._completed,
    (S.TRYING, "3xx-6xx"): NonInviteClientTransaction._completed,
    (S.TRYING, TRANSPORT_FAILED): fail_transport,
    (S.PROCEEDING, "E"): NonInviteClientTransaction._retransmit,
    (S.PROCEEDING, "F"): time_out,
    (S.PROCEEDING, "1xx"): pass_up,
    (S.PROCEEDING, "2xx"): NonInviteClientTransaction._completed,
    (S.PROCEEDING, "3xx-6xx"): NonInviteClientTransaction._completed,
    (S.PROCEEDING, TRANSPORT_FAILED): fail_transport,
    # §17.1.2.2: in Completed, retransmitted finals (and stray 1xx) are absorbed.
    (S.COMPLETED, "1xx"): absorb,
    (S.COMPLETED, "2xx"): absorb,
    (S.COMPLETED, "3xx-6xx"): absorb,
    (S.COMPLETED, "K"): end,
    # The final is with the core already; nothing is sent in Completed.
    (S.COMPLETED, TRANSPORT_FAILED): end,
}
