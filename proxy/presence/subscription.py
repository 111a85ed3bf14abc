"""One subscription to a line's dialogs: the dialog it lives in (RFC 6665 §4.4.1),
where its NOTIFYs go, and how each NOTIFY is built (RFC 6665 §4.2.2, RFC 3261
§12.2.1.1: a request inside a dialog)."""

from __future__ import annotations

from dataclasses import dataclass, field

from proxy.core.local import Interface
from proxy.defaults import MAX_FORWARDS
from proxy.presence.dialog_info import CONTENT_TYPE
from proxy.presence.machine import SubscriptionState
from proxy.sip.hop import Hop
from proxy.sip.message import Header, Request
from proxy.sip.via import MAGIC_COOKIE

# Call-ID, the subscriber's tag, ours: the subscription's dialog id (RFC 3261 §12).
DialogKey = tuple[str, str, str]
_CONTENT_TYPE: Header = ("Content-Type", CONTENT_TYPE)


@dataclass(frozen=True, slots=True)
class Peer:
    """Where the NOTIFYs of a subscription go: the subscriber's Contact as the
    Request-URI, its route set, the next hop, and our interface towards it."""

    target: str
    route_set: tuple[str, ...]
    hop: Hop
    interface: Interface


@dataclass(slots=True)
class Subscription:
    """A subscription the notifier keeps; ``state`` moves by ``machine``'s table."""

    key: DialogKey
    watcher: str  # the user id that subscribed
    entity: str  # the URI watched: a line or a user's address of record
    lines: tuple[str, ...]  # the normalised numbers shown
    event: str  # the Event value every NOTIFY repeats (RFC 6665 §8.2.1: package, id)
    local: str  # our side: the SUBSCRIBE's To with our tag (the NOTIFY's From)
    remote: str  # the subscriber: the SUBSCRIBE's From (the NOTIFY's To)
    remote_cseq: int  # of the subscriber's last SUBSCRIBE (RFC 3261 §12.2.2)
    contact: str  # our Contact (in the 200 and in every NOTIFY)
    peer: Peer
    # The address the SUBSCRIBE came from (the phone, or the edge proxy it subscribed
    # through): refreshes and unsubscribes are taken from there only.
    made_from: str
    expires_at: float
    state: SubscriptionState = SubscriptionState.QUIET
    cseq: int = 0  # of our last NOTIFY: it only counts up (RFC 3261 §12.2.1.1)
    version: int = 0  # of the next document (RFC 4235 §4.1)
    end_reason: str | None = None  # Subscription-State reason once ending
    # By line: the number of the last change of its log our last NOTIFY carried
    # (``line_log``); what came after goes next, the ended dialogs shown once.
    seen: dict[str, int] = field(default_factory=dict)
    changed_at: float | None = None  # the oldest change no NOTIFY has carried yet
    # A refresh asks for the full state (RFC 6665 §4.2.1; RFC 4235 §4.1: how a
    # watcher that missed a version catches up), even on a busy line.
    full_state_due: bool = False
    sent_at: float = 0.0  # when our last NOTIFY left: the minimum interval counts from it
    # The header lines every NOTIFY repeats as they are, around its CSeq: made once
    # (fifty watchers of a busy line get a NOTIFY each several times a second).
    _before_cseq: tuple[Header, ...] = field(init=False, repr=False, compare=False)
    _after_cseq: tuple[Header, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # The route set is the dialog's for its whole life (RFC 3261 §12.2: a
        # refresh changes the remote target, not the route set).
        self._before_cseq = (("Max-Forwards", str(MAX_FORWARDS)),
                             *[("Route", route) for route in self.peer.route_set],
                             ("From", self.local), ("To", self.remote), ("Call-ID", self.key[0]))
        self._after_cseq = (("Contact", self.contact), ("Event", self.event))

    def notify(self, subscription_state: str, body: bytes) -> Request:
        """The next NOTIFY: a new CSeq, a branch of its own (tag and CSeq make it
        unique, RFC 3261 §8.1.1.7), the route set as Route (loose routing)."""
        self.cseq += 1
        via = self.peer.interface.via(f"{MAGIC_COOKIE}{self.key[2]}.{self.cseq}")
        headers = (("Via", via), *self._before_cseq, ("CSeq", f"{self.cseq} NOTIFY"),
                   *self._after_cseq, ("Subscription-State", subscription_state),
                   _CONTENT_TYPE, ("Content-Length", str(len(body))))
        return Request("NOTIFY", self.peer.target, headers, body)
