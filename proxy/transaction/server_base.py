"""What the INVITE and non-INVITE server transactions share (RFC 3261 §17.2)."""

from __future__ import annotations

from proxy.sip.message import Request, Response
from proxy.transaction.actions import Action, Send
from proxy.transaction.events import Event, RequestReceived, TimerFired, TransportFailed
from proxy.transaction.machine import TRANSPORT_FAILED, TransactionMachine, response_class
from proxy.transaction.states import TransactionState
from proxy.transaction.timers import TimerSettings

RETRANSMISSION = "retransmission"  # the input kind of a retransmitted request


def from_core(response_class_name: str) -> str:
    """The input kind of a response the core hands down, e.g. ``"2xx from core"``."""
    return f"{response_class_name} from core"


class ServerTransaction(TransactionMachine):
    """Answers one received request with the responses the proxy core hands down."""

    __slots__ = ("_last_response", "_request")

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
        self._last_response: Response | None = None

    @property
    def request(self) -> Request:
        """The request that created this transaction."""
        return self._request

    @property
    def last_response(self) -> Response | None:
        """The response sent last, re-sent on request retransmissions; None before any."""
        return self._last_response

    def send_response(self, response: Response, now: float) -> list[Action]:
        """The core hands a response down; returns the actions (the Send, timers).

        A response the state does not allow (a 1xx after the final, a second
        non-2xx final) is dropped: RFC 3261 §17.2.1 and §17.2.2 discard it.
        """
        return self._run(from_core(response_class(response.status)), response)

    def handle(self, event: Event, now: float) -> list[Action]:
        """Feed one event matched to this transaction; returns the actions to carry out.

        ``now`` is accepted for symmetry with the driver; RFC timers are relative
        delays, so the machine never needs the time itself.
        """
        if isinstance(event, RequestReceived):
            if event.request.method == "ACK":
                return self._run("ACK", event.request)
            return self._run(RETRANSMISSION, event.request)
        if isinstance(event, TimerFired):
            return self._run_timer(event)
        if isinstance(event, TransportFailed):
            return self._run(TRANSPORT_FAILED, event.reason)
        return []  # a response never matches a server transaction (§17.2.3)


# -- table entries shared by both server machines --------------------------------


def send(machine: ServerTransaction, response: Response) -> list[Action]:
    """Send a response from the core and remember it for request retransmissions."""
    machine._last_response = response
    return [Send(response)]


def send_last_again(machine: ServerTransaction, *payload: object) -> list[Action]:
    """§17.2.1, §17.2.2: a retransmitted request is answered with the last response."""
    if machine._last_response is None:
        return []  # nothing sent yet (a server transaction whose start() was not run)
    return [Send(machine._last_response)]
