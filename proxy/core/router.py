"""From an initial request to the policy's routing decision (issue 3's ``decide``)."""

from __future__ import annotations

from proxy.policy.decide import CallInfo, Decision, decide
from proxy.policy.directory import Directory
from proxy.sip.address import address_user
from proxy.sip.message import Request
from proxy.sip.uri import uri_user


def call_info(request: Request, source_ip: str) -> CallInfo:
    """The facts ``decide`` needs, read from the request as received."""
    asserted = request.header_values("p-asserted-identity")
    return CallInfo(
        request_uri_user=uri_user(request.uri),
        to_user=address_user(request.header("to")),
        from_user=address_user(request.header("from")),
        asserted_user=address_user(asserted[0]) if asserted else None,
        source_ip=source_ip,
    )


def route_request(request: Request, source_ip: str, directory: Directory, now: float) -> Decision:
    """The policy's decision for an initial request that came from ``source_ip``."""
    return decide(call_info(request, source_ip), directory, now)
