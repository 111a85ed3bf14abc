"""The non-INVITE server transaction (RFC 3261 §17.2.2, Figure 8).

The proxy runs one per non-INVITE request it receives (BYE, CANCEL, OPTIONS...).
Transitions are in :attr:`NonInviteServerTransaction._TABLE`.

RFC 4320 §4.2: a transaction-stateful element never sends a 408 to a non-INVITE
request. When the best the core has is a 408 (no branch answered in time), the
transaction completes without a response, and the client's own Timer F ends
its side; Timer J still absorbs the request's retransmissions meanwhile.
"""

from __future__ import annotations

from proxy.sip.message import Request, Response
from proxy.transaction.actions import Action
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

# The input kind of a 408 the core hands down (RFC 4320 §4.2: never sent).
WITHHELD_408 = "408 from core"


class NonInviteServerTransaction(ServerTransaction):
    """Answers one received non-INVITE request with the responses the core hands down.

    Call :meth:`start` once, :meth:`send_response` for every response of the
    core, and :meth:`handle` for every event matched to the transaction.
    """

    __slots__ = ()

    def __init__(self, request: Request, *, reliable: bool, timers: TimerSettings) -> None:
        super().__init__(request, S.TRYING, reliable=reliable, timers=timers)

    def start(self, now: float) -> list[Action]:
        """Nothing to send yet: no 100 Trying for non-INVITE requests (RFC 4320 §4.1).

        Present so that the driver can start every server transaction alike.
        """
        return []

    def send_response(self, response: Response, now: float) -> list[Action]:
        """As for any server transaction, except that a 408 is withheld (RFC 4320 §4.2)."""
        if response.status == 408:
            return self._run(WITHHELD_408, response)
        return super().send_response(response, now)

    # -- handlers ------------------------------------------------------------

    def _proceeding(self, response: Response) -> list[Action]:
        self._state = S.PROCEEDING
        return send(self, response)

    def _completed(self, response: Response) -> list[Action]:
        # §17.2.2: Timer J absorbs request retransmissions (zero when reliable).
        self._state = S.COMPLETED
        return [*send(self, response), *self._linger("J", self._settings.transaction_timeout)]

    def _withheld(self, response: Response) -> list[Action]:
        # Completed as if the 408 had been sent; retransmissions get nothing back,
        # not even a provisional sent before (the request is over for us).
        self._state = S.COMPLETED
        self._last_response = None
        return self._linger("J", self._settings.transaction_timeout)


# The transitions, set once the class exists so that its handlers can be named
# (a compiled class body cannot refer to its own methods).
NonInviteServerTransaction._TABLE = {
    (S.TRYING, from_core("1xx")): NonInviteServerTransaction._proceeding,
    (S.TRYING, from_core("2xx")): NonInviteServerTransaction._completed,
    (S.TRYING, from_core("3xx-6xx")): NonInviteServerTransaction._completed,
    (S.TRYING, WITHHELD_408): NonInviteServerTransaction._withheld,
    (S.TRYING, RETRANSMISSION): absorb,  # §17.2.2: nothing to answer with yet
    (S.PROCEEDING, from_core("1xx")): send,
    (S.PROCEEDING, from_core("2xx")): NonInviteServerTransaction._completed,
    (S.PROCEEDING, from_core("3xx-6xx")): NonInviteServerTransaction._completed,
    (S.PROCEEDING, WITHHELD_408): NonInviteServerTransaction._withheld,
    (S.PROCEEDING, RETRANSMISSION): send_last_again,
    (S.PROCEEDING, TRANSPORT_FAILED): end,  # §17.2.4
    # §17.2.2: further responses from the core are discarded in Completed.
    (S.COMPLETED, RETRANSMISSION): send_last_again,
    (S.COMPLETED, "J"): end,
    (S.COMPLETED, TRANSPORT_FAILED): end,  # §17.2.4
}
