"""Busy lamps: the dialog event package (RFC 4235) over SIP events (RFC 6665).

Pure: no clock, no sockets, no store. ``Notifier`` keeps the subscriptions and
decides every NOTIFY; ``proxy.lamps`` runs it on the event loop.
"""

from proxy.presence.notifier import (
    Action,
    Notifier,
    Outcome,
    RestUntil,
    SendNotify,
    SubscriptionEnded,
    SubscriptionStarted,
)
from proxy.presence.requests import PACKAGE, PresenceSettings
from proxy.presence.subscription import DialogKey

__all__ = [
    "PACKAGE",
    "Action",
    "DialogKey",
    "Notifier",
    "Outcome",
    "PresenceSettings",
    "RestUntil",
    "SendNotify",
    "SubscriptionEnded",
    "SubscriptionStarted",
]
