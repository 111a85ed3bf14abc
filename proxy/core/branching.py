"""The request one branch of a fork sends, and where it goes (RFC 3261 §16.6)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from proxy.core.decorate import decorate_for_target
from proxy.core.diversion import Diversion
from proxy.core.flows import flow_value
from proxy.core.forwarding import forward_request
from proxy.core.local import Interface, LocalAddresses
from proxy.core.routing import route_to_next_hop
from proxy.policy.plan import Target
from proxy.sip.address import NameAddr
from proxy.sip.hop import Hop, ResolvedNames, hop_for_uri
from proxy.sip.message import Request, prepend_header
from proxy.sip.uri import parse_uri

# Methods whose initial request creates a dialog, so we Record-Route them (§16.6 step 4).
DIALOG_FORMING = frozenset({"INVITE", "SUBSCRIBE", "REFER", "NOTIFY"})


@dataclass(frozen=True, slots=True)
class BranchRequest:
    """A branch ready to go: the request as sent (our Via on top), its next hop, and
    the target's other hops, to try in turn if that one fails (RFC 3263 §4.3)."""

    request: Request
    hop: Hop
    next_hops: tuple[Hop, ...] = ()


@dataclass(frozen=True, slots=True)
class BranchSettings:
    """What a branch takes from its server transaction, besides the target."""

    original_uri: str  # the Request-URI as received, for History-Info and Diversion
    inbound: Interface  # where the request came in: the caller's side Record-Route
    strip_asserted_identity: bool  # RFC 3325: the sender is not a trusted peer
    max_breadth: int | None  # RFC 5393 share of each parallel branch
    # The token of our Record-Route for a branch's flow ('' for none), when the
    # request forms a dialog (``proxy.core.route_token``); None: no Record-Route.
    route_token: Callable[[str], str] | None
    calling_identity: NameAddr | None = None  # the line the caller places the call on
    caller_flow: str = ""  # the calling phone's flow, for our Record-Route (``flows``)


def build_branch(
    request: Request,
    target: Target,
    diversion: Diversion | None,
    settings: BranchSettings,
    local: LocalAddresses,
    branch: str,
    names: ResolvedNames,
    hops: tuple[Hop, ...] = (),
    *,
    udp_request_limit: int = 0,
) -> BranchRequest:
    """§16.6 steps 1-8 for one target: retarget, decorate, route, Record-Route, Via.

    The request goes to the first of ``hops`` (the ones left after a failover),
    else to the first hop of the target (its host name's hops from ``names``),
    over TCP if it is larger than ``udp_request_limit`` for a UDP hop (below).
    Raises :class:`SipParseError` or :class:`LookupError` when the target cannot be
    reached from any of our interfaces; the core counts that as a 503 (§16.9).
    """
    retargeted = request.with_uri(target.uri)
    for route in reversed(target.route_set):  # a registration's Path, first entry on top
        retargeted = retargeted.with_headers(prepend_header(retargeted.headers, "Route", route))
    decorated = decorate_for_target(
        retargeted,
        target,
        original_uri=settings.original_uri,
        diversion=diversion,
        strip_asserted_identity=settings.strip_asserted_identity,
        calling_identity=settings.calling_identity,
    )
    routed, found = route_to_next_hop(decorated, "UDP", names)
    flow = ""
    if target.next_hop is not None and not routed.header_values("route"):
        registered = hop_for_uri(parse_uri(target.next_hop))  # a registered phone's own address
        found = (registered,)
        # RFC 5626 §5.3: the requests that follow in the dialog go down this flow too.
        flow = flow_value(registered)
    hop, *rest = hops or found
    forwarded = _sent_to(hop, routed, flow, settings, local, branch)
    if (not hops and target.next_hop is None and hop.transport == "UDP" and udp_request_limit
            and local.listens("TCP", hop.host) and forwarded.wire_size() > udp_request_limit):
        # §18.1.1: with the path MTU unknown, a request over 1300 bytes MUST go over a
        # congestion-controlled transport, and one that TCP cannot reach (refused,
        # no answer within the connect timeout) is retried over UDP: the UDP hop is
        # the next one (RFC 3263 §4.3 failover, a new transaction). A phone's flow
        # (``target.next_hop``) is kept: behind a NAT only that flow reaches it.
        over_tcp = Hop("TCP", hop.host, hop.port)
        return BranchRequest(_sent_to(over_tcp, routed, flow, settings, local, branch),
                             over_tcp, (hop, *rest))
    return BranchRequest(forwarded, hop, tuple(rest))


def _sent_to(hop: Hop, routed: Request, flow: str, settings: BranchSettings,
             local: LocalAddresses, branch: str) -> Request:
    """§16.6 steps 4 and 8: the request as it leaves for ``hop``, with our
    Record-Route (when the request forms a dialog) and Via for the interface
    that reaches it."""
    outbound = local.interface_for(hop.transport, hop.host)
    record_routes: tuple[str, ...] = ()
    if settings.route_token is not None:
        token = settings.route_token(flow)
        # RFC 5658: record-route twice when the call changes transport or address
        # family, so that each side gets an address it can reach. Both entries name
        # the flow: either one can end up first in a Route set.
        inbound_entry = settings.inbound.record_route(token, flow, settings.caller_flow)
        outbound_entry = outbound.record_route(token, flow, settings.caller_flow)
        record_routes = (
            (inbound_entry,) if inbound_entry == outbound_entry else
            (inbound_entry, outbound_entry)
        )
    return forward_request(routed, uri=routed.uri, via=outbound.via(branch),
                           record_routes=record_routes, max_breadth=settings.max_breadth)
