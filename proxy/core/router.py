"""From an initial request to the policy's routing decision (``decide``)."""

from __future__ import annotations

from proxy.policy.decide import CallInfo, Decision, called_user, decide
from proxy.policy.directory import Directory
from proxy.policy.trust import Source
from proxy.sip.address import address_user
from proxy.sip.message import Request
from proxy.sip.uri import uri_user


def call_info(request: Request, source: Source) -> CallInfo:
    """The facts ``decide`` needs, read from the request as received and its sender
    as identified (a user's phone: authenticated, or a static endpoint)."""
    asserted = request.header_values("p-asserted-identity")
    preferred = request.header_values("p-preferred-identity")
    return CallInfo(
        request_uri_user=uri_user(request.uri),
        to_user=address_user(request.header("to")),
        from_user=address_user(request.header("from")),
        asserted_user=address_user(asserted[0]) if asserted else None,
        source_ip=source.hop.host,
        preferred_user=address_user(preferred[0]) if preferred else None,
        phone_user=source.user,
        phone_authenticated=source.authenticated,
    )


def route_request(request: Request, source: Source, directory: Directory, now: float) -> Decision:
    """The policy's decision for an initial request from ``source``."""
    return decide(call_info(request, source), directory, now)


def dialled_user(request: Request) -> str | None:
    """The called user as ``decide`` reads it (``called_user``), without reading the
    rest of what ``call_info`` gathers."""
    return called_user(uri_user(request.uri), address_user(request.header("to")))[0]
