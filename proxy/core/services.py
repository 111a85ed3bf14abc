"""The port for services: requests that end at the proxy instead of being forwarded.

A service is pure decision code over its own state: the request, its source and
the time in, a reply out (ARCHITECTURE, "Services"). The classifier names the
service a request goes to (``Serve``); the driver answers through the request's
server transaction. Services that need to send requests of their own (NOTIFY)
use ``ProxyCore.originate``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from proxy.policy.trust import Source
from proxy.sip.message import Header, Request

ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, INFO, PRACK, SUBSCRIBE, NOTIFY, REFER, MESSAGE"


@dataclass(frozen=True, slots=True)
class Reply:
    """The final response a service gives."""

    status: int
    reason: str
    headers: tuple[Header, ...] = ()
    # The To tag of a reply that creates a dialog (a SUBSCRIBE's 200, RFC 6665
    # §4.2.1): the service's, as its later requests carry it; else a random one.
    to_tag: str | None = None


class Service(Protocol):
    """Anything that answers requests at the proxy."""

    def handle(self, request: Request, source: Source, now: float) -> Reply: ...


class ProxyItself:
    """Requests addressed to the proxy's own address, with no user: an OPTIONS ping
    is answered (RFC 3261 §11), anything else has nobody to go to."""

    def handle(self, request: Request, source: Source, now: float) -> Reply:
        if request.method == "OPTIONS":
            return Reply(200, "OK", (("Allow", ALLOW),))
        if request.method == "REGISTER":
            return Reply(405, "Method Not Allowed (not a registrar)", (("Allow", ALLOW),))
        return Reply(404, "Not Found (no user in the Request-URI)")
