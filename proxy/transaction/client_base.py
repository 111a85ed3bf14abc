"""What the INVITE and non-INVITE client transactions share (RFC 3261 §17.1)."""

from __future__ import annotations

from proxy.sip.message import Request
from proxy.transaction.actions import Action, Send
from proxy.transaction.events import Event, ResponseReceived, TimerFired, TransportFailed
from proxy.transaction.machine import TRANSPORT_FAILED, TransactionMachine, response_class
from proxy.transaction.states import TransactionState
from proxy.transaction.timers import TimerSettings


class ClientTransaction(TransactionMachine):
    """Sends one request to a next hop and reports what comes back to the core."""

    __slots__ = ("_request", "_send_request")

    def __init__(
        self,
        request: Request,
        state: TransactionState,
        *,
        reliable: bool,
        timers: TimerSettings,
    ) -> None:
        super().__init__(state, reliable=reliable, timers=timers)
        self._request = request
        self._send_request = Send(request)  # sent at start and on every retransmission

    @property
    def request(self) -> Request:
        """The request this transaction sends."""
        return self._request

    def handle(self, event: Event, now: float) -> list[Action]:
        """Feed one event matched to this transaction; returns the actions to carry out.

        ``now`` is accepted for symmetry with the driver; RFC timers are relative
        delays, so the machine never needs the time itself.
        """
        if isinstance(event, ResponseReceived):
            return self._run(response_class(event.response.status), event.response)
        if isinstance(event, TimerFired):
            return self._run_timer(event)
        if isinstance(event, TransportFailed):
            return self._run(TRANSPORT_FAILED, event.reason)
        return []  # a request never matches a client transaction (§17.1.3)
