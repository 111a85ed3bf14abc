"""Where a message really came from (RFC 3261 §18.2.1, RFC 3581 §4)."""

from __future__ import annotations

from proxy.sip.hop import Hop
from proxy.sip.message import Request, replace_first_value
from proxy.sip.via import Via


def stamp_via(via: Via, source: Hop) -> tuple[bool, Via]:
    """§18.2.1 and RFC 3581 §4: note where the request really came from."""
    changed = False
    if via.host.strip("[]") != source.host or via.has_param("rport"):
        via = via.with_param("received", source.host)
        changed = True
    if via.has_param("rport") or source.reliable:
        via = via.with_param("rport", str(source.port))
        changed = True
    return changed, via


def stamp_received(request: Request, top: Via, source: Hop) -> tuple[Request, Via]:
    changed, stamped = stamp_via(top, source)
    if not changed:
        return request, top
    headers = replace_first_value(request.headers, "via", str(stamped))
    return request.with_headers(headers), stamped
