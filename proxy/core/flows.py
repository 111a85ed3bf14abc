"""The flow of a registered phone, carried in our Record-Route (RFC 5626 §5.3).

A phone behind a NAT, or one that registered over its own TCP connection, is
reached at the address its REGISTER came from, not at its Contact as written.
The INVITE goes down that flow (``Target.next_hop``); the requests that follow
in the dialog come back to us along the Record-Route, so the branch's
Record-Route names the flow (``;vpf=udp-192.0.2.7-5060``) and the route token
covers it (``proxy.core.route_token``). This proxy is the phone's edge proxy
and registrar at once: the flow is the transport address itself, no opaque
key into a table.

The value is ``<transport>-<host>-<port>``, with the colons of an IPv6 address
written as ``_``: only characters RFC 3261 §25.1 allows in a URI parameter
value without escaping, and nothing that naive parsers trip over.
"""

from __future__ import annotations

from proxy.sip.hop import Hop, is_ip_literal

# The URI parameter of our Record-Route entries that names a phone's flow.
FLOW_PARAM = "vpf"
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


def flow_uri(hop: Hop) -> str:
    """The next hop of a target sent down the flow ``hop`` (``Target.next_hop``)."""
    host = f"[{hop.host}]" if ":" in hop.host else hop.host
    return f"sip:{host}:{hop.port};transport={hop.transport.lower()}"
