"""What a SUBSCRIBE to the dialog package asks for: how long (RFC 6665 §4.2.1),
in which format (RFC 4235 §3.5), and where its NOTIFYs go (RFC 3261 §12.1.1).

Each reader returns the value, or the ``Reply`` that refuses the request and
says why.
"""

from __future__ import annotations

from dataclasses import dataclass

from proxy.core.services import Reply
from proxy.defaults import (
    LAMP_NOTIFY_MIN_INTERVAL,
    PRESENCE_DEFAULT_EXPIRES,
    PRESENCE_MAX_EXPIRES,
    PRESENCE_MIN_EXPIRES,
)
from proxy.presence.dialog_info import CONTENT_TYPE
from proxy.sip.address import parse_name_addr
from proxy.sip.errors import SipParseError
from proxy.sip.event import DIALOG_PACKAGE
from proxy.sip.expires import delta_seconds
from proxy.sip.message import Request
from proxy.sip.params import find_param, parse_params, q_value
from proxy.sip.uri import SipUri, parse_uri

# The event package this service serves.
PACKAGE = DIALOG_PACKAGE
ALLOW_EVENTS = ("Allow-Events", PACKAGE)  # RFC 6665 §8.3.2: with every 489
# Accept values that take application/dialog-info+xml (RFC 3261 §20.1).
_ACCEPTING = frozenset({CONTENT_TYPE, "application/*", "*/*"})


@dataclass(frozen=True, slots=True)
class PresenceSettings:
    """Subscription intervals, and the least time between two NOTIFYs of one
    subscription, in seconds."""

    min_expires: int = PRESENCE_MIN_EXPIRES
    max_expires: int = PRESENCE_MAX_EXPIRES
    default_expires: int = PRESENCE_DEFAULT_EXPIRES
    notify_min_interval: float = LAMP_NOTIFY_MIN_INTERVAL

    def __post_init__(self) -> None:
        if not 0 < self.min_expires <= self.default_expires <= self.max_expires:
            raise ValueError("subscription intervals must satisfy "
                             "0 < min_expires <= default_expires <= max_expires")
        if self.notify_min_interval < 0:
            raise ValueError("notify_min_interval must be 0 or more")


def granted_expires(request: Request, settings: PresenceSettings) -> int | Reply:
    """RFC 6665 §4.2.1: the interval granted. Too short gets 423 with Min-Expires,
    too long is shortened, none gets the default; 0 ends (or fetches once, §4.4.3)."""
    value = request.header("expires")
    if value is None:
        return settings.default_expires
    asked = delta_seconds(value)
    if 0 < asked < settings.min_expires:
        return Reply(423, f"Interval Too Brief (at least {settings.min_expires} s)",
                     (("Min-Expires", str(settings.min_expires)),))
    return min(asked, settings.max_expires)


def accepts_dialog_info(request: Request) -> bool:
    """RFC 4235 §3.5: without Accept the subscriber takes dialog-info+xml; with one,
    it must list it (or a range that covers it) with a q above 0. An empty Accept
    takes no format at all (RFC 3261 §20.1)."""
    if not request.has_header("accept"):
        return True
    return any(_accepting(value) for value in request.header_values("accept"))


def _accepting(value: str) -> bool:
    media_range, _, parameters = value.partition(";")
    if media_range.strip().lower() not in _ACCEPTING:
        return False
    try:
        weight = find_param(parse_params(parameters), "q") if parameters else None
    except SipParseError:
        return False
    # q=0 means "not acceptable" (RFC 2616 §14.1, which RFC 3261 §20.1 follows).
    return weight is None or (q_value(weight) or 0.0) > 0


def subscriber_target(request: Request) -> str | Reply:
    """The subscriber's Contact URI, the Request-URI of every NOTIFY (RFC 3261
    §12.1.1: the remote target; RFC 6665 §4.1.2: a SUBSCRIBE carries a Contact)."""
    values = request.header_values("contact")
    if not values:
        return Reply(400, "Bad Request (SUBSCRIBE without Contact)")
    try:
        address = parse_name_addr(values[0])
        uri = parse_uri(address.uri)
    except SipParseError as error:
        return Reply(400, f"Bad Request (Contact: {error.reason})")
    if not isinstance(uri, SipUri) or uri.scheme != "sip":
        return Reply(416, f"Unsupported URI Scheme (Contact {address.uri[:60]!r})")
    return address.uri
