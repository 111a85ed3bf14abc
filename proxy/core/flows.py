"""The flow of a registered phone, carried in our Record-Route (RFC 5626 §5.3).

A phone behind a NAT, or one that registered over its own TCP connection, is
reached at the address its REGISTER came from, not at its Contact as written.
The INVITE goes down that flow (``Target.next_hop``); the requests that follow
in the dialog come back to us along the Record-Route, so the branch's
Record-Route names the flow (``;vpf=udp-192.0.2.7-5060``) and the route token
covers it (``proxy.core.route_token``). This proxy is the phone's edge proxy
and registrar at once: the flow is the transport address itself, no opaque
key into a table.

The symmetric case: a registered phone behind a NAT that places the call. The
callee's requests in the dialog would go to the phone's Contact as written, so
when an authenticated phone's Contact is not where its request came from, our
Record-Route names that source flow as well (``;vpc=udp-192.0.2.7-5060``, RFC
3581 symmetric routing, RFC 5626 §5.3) and the token covers it; a request from
the callee's side goes down it.

The value is ``<transport>-<host>-<port>``, with the colons of an IPv6 address
written as ``_``: only characters RFC 3261 §25.1 allows in a URI parameter
value without escaping, and nothing that naive parsers trip over.
"""

from __future__ import annotations

from proxy.sip.address import parse_name_addr
from proxy.sip.errors import SipParseError
from proxy.sip.hop import Hop, hop_for_uri, is_ip_literal
from proxy.sip.message import Request
from proxy.sip.uri import parse_uri

# The URI parameter of our Record-Route entries that names the callee phone's flow.
FLOW_PARAM = "vpf"
# The one that names the flow of the phone that placed the call.
CALLER_FLOW_PARAM = "vpc"
_TRANSPORTS = {"udp": "UDP", "tcp": "TCP"}


def flow_value(hop: Hop) -> str:
    """The flow parameter for a phone reached at ``hop``."""
    return f"{hop.transport.lower()}-{hop.host.replace(':', '_')}-{hop.port}"


def flow_hop(value: str) -> Hop | None:
    """The transport address a flow parameter names; None when it is malformed."""
    parts = value.split("-")
    if len(parts) != 3:
        return None
    transport, host, port = _TRANSPORTS.get(parts[0]), parts[1].replace("_", ":"), parts[2]
    if (transport is None or not port.isascii() or not port.isdigit()
            or not 0 < int(port) < 65536 or host.startswith("[") or not is_ip_literal(host)):
        return None
    return Hop(transport, host, int(port))


def caller_flow(request: Request, source: Hop) -> str:
    """The flow parameter for the phone that sent ``request`` from ``source``, when its
    Contact names another transport address (a NAT, or its own TCP connection: RFC
    3581, RFC 5626 §5.3); empty when the Contact is where the request came from."""
    contact = request.header("contact")
    try:
        written = hop_for_uri(parse_uri(parse_name_addr(contact).uri), source.transport) \
            if contact is not None else None
    except (SipParseError, LookupError, ValueError):
        written = None  # a Contact that names no address: only the source is known
    if written is not None and (written.transport.upper(), written.host.lower(),
                                written.port) == (source.transport.upper(),
                                                  source.host.lower(), source.port):
        return ""
    return flow_value(source)


def flow_uri(hop: Hop) -> str:
    """The next hop of a target sent down the flow ``hop`` (``Target.next_hop``)."""
    host = f"[{hop.host}]" if ":" in hop.host else hop.host
    return f"sip:{host}:{hop.port};transport={hop.transport.lower()}"
