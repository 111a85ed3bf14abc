"""Route processing (RFC 3261 §16.4 pre-processing, §16.6 steps 6-7, §16.12)."""

from __future__ import annotations

from dataclasses import dataclass

from proxy.core.flows import CALLER_FLOW_PARAM, FLOW_PARAM
from proxy.core.local import FIRST_WORKER_PARAM, LocalAddresses, OwnRoute
from proxy.core.route_token import TOKEN_PARAM
from proxy.sip.address import has_tag, parse_name_addr
from proxy.sip.errors import SipParseError
from proxy.sip.hop import Hop, ResolvedNames, hops_for_uri
from proxy.sip.message import Request, drop_first_value, insert_header_before, set_header
from proxy.sip.uri import SipUri, parse_uri


@dataclass(frozen=True, slots=True)
class Preprocessed:
    """A request after §16.4, and what the Route entries naming us carried."""

    request: Request
    our_route: bool  # a Route of ours was popped (or a strict router used our URI)
    token: str | None  # the route token of the first such entry (``route_token``)
    flow: str = ""  # the registered phone's flow that entry names (``flows``), if any
    caller_flow: str = ""  # the flow of the phone that placed the call, if any


def preprocess_routes(request: Request, local: LocalAddresses) -> Preprocessed:
    """§16.4: undo a strict router's rewrite, then pop every top Route naming us.

    Several of our own entries can be on top when we double-record-routed a
    transport change (RFC 5658), so all consecutive ones are removed.
    """
    routes = request.header_values("route")
    if not routes:
        return Preprocessed(request, our_route=False, token=None)
    try:
        request_uri = parse_uri(request.uri)
    except SipParseError:
        return Preprocessed(request, our_route=False, token=None)
    named: OwnRoute | None = None  # the first entry of ours: it carries the token
    if isinstance(request_uri, SipUri) and request_uri.user is None and local.is_local(
        request_uri
    ):
        # The previous hop was a strict router: it put our Record-Route value in the
        # Request-URI and the real target at the end of the Route set (§16.4).
        named = _params_of(request_uri)
        last = parse_name_addr(routes[-1]).uri
        request = request.with_uri(last, _without_last_route(request, routes))
        routes = routes[:-1]
    while routes and (ours := our_route_params(routes[0], local)) is not None:
        named = named or ours
        request = request.with_headers(drop_first_value(request.headers, "route"))
        routes = routes[1:]
    if named is None:
        return Preprocessed(request, our_route=False, token=None)
    return Preprocessed(request, True, named.token, named.flow, named.caller_flow)


def our_route_params(route_value: str, local: LocalAddresses) -> OwnRoute | None:
    """The dialog's parameters of a Route entry that names this proxy, else None:
    read off the text when it is our entry as we wrote it, else parsed in full."""
    fast = local.own_route_params(route_value)
    if fast is not None:
        return fast
    ours = _our_route(route_value, local)
    return None if ours is None else _params_of(ours)


def _params_of(uri: SipUri) -> OwnRoute:
    return OwnRoute(uri.param(TOKEN_PARAM), uri.param(FLOW_PARAM) or "",
                    uri.param(CALLER_FLOW_PARAM) or "", uri.param(FIRST_WORKER_PARAM) == "0")


def _our_route(route_value: str, local: LocalAddresses) -> SipUri | None:
    """The URI of a Route entry that names this proxy, else None."""
    try:
        uri = parse_uri(parse_name_addr(route_value).uri)
    except SipParseError:
        return None
    return uri if isinstance(uri, SipUri) and local.is_local(uri) else None


def _without_last_route(request: Request, routes: list[str]) -> tuple[tuple[str, str], ...]:
    headers = tuple((n, v) for n, v in request.headers if n.lower() != "route")
    for value in routes[:-1]:
        headers = insert_header_before(headers, "content-length", "Route", value)
    return headers


def route_to_next_hop(request: Request, default_transport: str,
                      names: ResolvedNames) -> tuple[Request, tuple[Hop, ...]]:
    """§16.6 steps 6-7: the request as it must be sent, and where to send it (the
    hops of a host name in ``names`` in the order to try them, RFC 3263 §4.3).

    With a loose router (``lr``) first in the Route set, the request goes to that
    router unchanged. With a strict router first, the Request-URI moves to the end
    of the Route set, the router's URI becomes the Request-URI, and the request
    goes there. Without a Route set it goes to the Request-URI. Raises
    :class:`SipParseError` for a Route or Request-URI that cannot be used.
    """
    routes = request.header_values("route")
    if not routes:
        return request, hops_for_uri(parse_uri(request.uri), names, default_transport)
    first = parse_uri(parse_name_addr(routes[0]).uri)
    if isinstance(first, SipUri) and not first.is_loose_router:
        rest = [*routes[1:], f"<{request.uri}>"]
        rewritten = request.with_uri(str(first), set_header(request.headers, "Route",
                                                            ", ".join(rest)))
        return rewritten, hops_for_uri(first, names, default_transport)
    return request, hops_for_uri(first, names, default_transport)


def has_to_tag(request: Request) -> bool:
    """§12.2: a To tag marks a request inside a dialog."""
    return has_tag(request.header("to") or "")
