"""Building the request a proxy sends downstream (RFC 3261 §16.6) and the CANCEL
that goes with it (§9.1)."""

from __future__ import annotations

from proxy.defaults import MAX_FORWARDS
from proxy.sip.headers import header_key
from proxy.sip.message import (
    Header,
    Request,
    prepend_header,
    set_header,
)


def forward_request(
    request: Request,
    *,
    uri: str,
    via: str,
    record_routes: tuple[str, ...] = (),
    max_breadth: int | None = None,
) -> Request:
    """The copy of ``request`` for one branch (§16.6 steps 1-8).

    ``record_routes`` are prepended in the order given, so the last one ends on
    top (the interface facing the next hop comes last, RFC 5658 §3.3).
    """
    headers = request.headers
    max_forwards = request.max_forwards
    # §16.6 step 3: decrement Max-Forwards, or add one.
    remaining = MAX_FORWARDS if max_forwards is None else max_forwards - 1
    headers = set_header(headers, "Max-Forwards", str(remaining))
    if max_breadth is not None:
        headers = set_header(headers, "Max-Breadth", str(max_breadth))
    for record_route in record_routes:
        # §16.6 step 4: Record-Route so in-dialog requests come back through us.
        headers = prepend_header(headers, "Record-Route", record_route)
    # §16.6 step 8: our Via goes on top.
    headers = prepend_header(headers, "Via", via)
    return request.with_uri(uri, headers)


def build_cancel(branch_request: Request, reason: str | None) -> Request:
    """§9.1: CANCEL for a forwarded INVITE: same Request-URI, Call-ID, From, To,
    CSeq number and top Via (so it matches the INVITE's branch), same Route set."""
    headers: list[Header] = [("Via", branch_request.top_via)]
    for name, value in branch_request.headers:
        if header_key(name) in ("from", "to", "call-id", "route"):
            headers.append((name, value))
    number, _ = branch_request.cseq
    headers.append(("CSeq", f"{number} CANCEL"))
    headers.append(("Max-Forwards", str(MAX_FORWARDS)))
    if reason:
        headers.append(("Reason", reason))  # RFC 3326
    headers.append(("Content-Length", "0"))
    return Request("CANCEL", branch_request.uri, tuple(headers))
