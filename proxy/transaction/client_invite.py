"""The INVITE client transaction (RFC 3261 §17.1.1, Figure 5, as amended by RFC 6026 §7.2).

The proxy runs one per INVITE branch it sends (§16.6 step 10). Transitions are
in :attr:`InviteClientTransaction._TABLE` right after the class.
"""

from __future__ import annotations

from proxy.sip.message import Header, Request, Response
from proxy.transaction.actions import Action, PassUp, Send
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

# RFC 3261 §17.1.1.2: Timer D is "at least 32 seconds" on unreliable transports, so
# that every retransmission of the final response is still answered with an ACK.
TIMER_D_UNRELIABLE = 32.0


def ack_for_final(invite: Request, response: Response) -> Request:
    """The ACK a client transaction sends for a 300-699 to ``invite`` (RFC 3261 §17.1.1.3).

    Request-URI, Call-ID, From and the CSeq number come from the INVITE, To from
    the response (it carries the callee's tag), only the INVITE's top Via (the
    ACK belongs to this hop's transaction), and the INVITE's Route headers.
    """
    headers: list[Header] = [("Via", invite.top_via)]
    headers.extend(("Route", value) for value in invite.header_lines("route"))
    headers += [
        ("Max-Forwards", "70"),
        ("From", invite.header("from") or ""),
        # A response without To is malformed; the INVITE's To is the best stand-in.
        ("To", response.header("to") or invite.header("to") or ""),
        ("Call-ID", invite.call_id),
        ("CSeq", f"{invite.cseq[0]} ACK"),
        ("Content-Length", "0"),
    ]
    return Request("ACK", invite.uri, tuple(headers))


class InviteClientTransaction(ClientTransaction):
    """Sends one INVITE to a next hop and reports its responses to the proxy core.

    Call :meth:`start` once, then :meth:`handle` for every event matched to the
    transaction. Both return the actions for the driver to carry out.
    """

    __slots__ = ("_ack", "_interval_a")

    def __init__(self, request: Request, *, reliable: bool, timers: TimerSettings) -> None:
        super().__init__(request, S.CALLING, reliable=reliable, timers=timers)
        self._interval_a = timers.t1
        self._ack: list[Action] = []  # [Send(ACK)] once a 300-699 arrived (§17.1.1.3)

    def start(self, now: float) -> list[Action]:
        """Send the INVITE; Timer A (unreliable only) and Timer B (RFC 3261 §17.1.1.2)."""
        actions: list[Action] = [self._send_request]
        if not self._reliable:
            actions.append(self._timers.start("A", self._interval_a))
        actions.append(self._timers.start("B", self._settings.transaction_timeout))
        return actions

    # -- handlers ------------------------------------------------------------

    def _retransmit(self) -> list[Action]:
        # §17.1.1.2: Timer A doubles each time, with no cap; Timer B ends it.
        self._interval_a *= 2
        return [self._send_request, self._timers.start("A", self._interval_a)]

    def _provisional(self, response: Response) -> list[Action]:
        # §17.1.1.2: a 1xx stops retransmissions. Timer B is left running; see
        # _TABLE for why its firing in Proceeding does nothing.
        stops = self._timers.stop("A")
        self._state = S.PROCEEDING
        return [*stops, PassUp(response)]

    def _accepted(self, response: Response) -> list[Action]:
        # RFC 6026 §7.2: a 2xx moves to Accepted, where Timer M (64*T1) keeps the
        # transaction alive so that retransmitted 2xx, and 2xx from other UASs
        # behind a forking proxy, still match it and reach the core.
        stops = self._timers.stop("A", "B")
        self._state = S.ACCEPTED
        return [*stops, PassUp(response),
                self._timers.start("M", self._settings.transaction_timeout)]

    def _completed(self, response: Response) -> list[Action]:
        # §17.1.1.2: ACK the 300-699 and pass it up; Timer D absorbs retransmissions.
        stops = self._timers.stop("A", "B")
        self._state = S.COMPLETED
        self._ack = [Send(ack_for_final(self._request, response))]
        return [*stops, *self._ack, PassUp(response), *self._linger("D", TIMER_D_UNRELIABLE)]

    def _acknowledge_again(self, response: Response) -> list[Action]:
        # §17.1.1.2: a retransmitted final gets the same ACK again and is not passed up.
        return list(self._ack)


# The transitions, set once the class exists so that its handlers can be named
# (a compiled class body cannot refer to its own methods).
InviteClientTransaction._TABLE = {
    (S.CALLING, "A"): InviteClientTransaction._retransmit,
    (S.CALLING, "B"): time_out,
    (S.CALLING, "1xx"): InviteClientTransaction._provisional,
    (S.CALLING, "2xx"): InviteClientTransaction._accepted,
    (S.CALLING, "3xx-6xx"): InviteClientTransaction._completed,
    (S.CALLING, TRANSPORT_FAILED): fail_transport,
    (S.PROCEEDING, "1xx"): pass_up,
    (S.PROCEEDING, "2xx"): InviteClientTransaction._accepted,
    (S.PROCEEDING, "3xx-6xx"): InviteClientTransaction._completed,
    (S.PROCEEDING, TRANSPORT_FAILED): fail_transport,
    # §17.1.1.2 lets Timer B fire only in Calling. A proxy's branch in
    # Proceeding is bounded by the core's Timer C instead (§16.6 step 11,
    # §16.8), which CANCELs it; the 487 that follows completes this machine.
    (S.PROCEEDING, "B"): absorb,
    (S.COMPLETED, "3xx-6xx"): InviteClientTransaction._acknowledge_again,
    (S.COMPLETED, "1xx"): absorb,  # late provisional, nothing to do
    # A stateful next hop never sends a 2xx after a 300-699 (§16.7); drop it.
    (S.COMPLETED, "2xx"): absorb,
    (S.COMPLETED, "D"): end,
    # The final is with the core already: a failed ACK send just ends the machine.
    (S.COMPLETED, TRANSPORT_FAILED): end,
    # RFC 6026 §7.2: every 2xx in Accepted goes up; the proxy forwards each (§16.7 step 5).
    (S.ACCEPTED, "2xx"): pass_up,
    (S.ACCEPTED, "1xx"): absorb,  # RFC 6026 Figure 5: only 2xx are passed up
    (S.ACCEPTED, "3xx-6xx"): absorb,
    (S.ACCEPTED, "M"): end,
    # Nothing is sent in Accepted (the ACK for a 2xx is end to end), so a
    # transport failure only means no later 2xx can come this way.
    (S.ACCEPTED, TRANSPORT_FAILED): end,
}
