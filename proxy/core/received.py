"""Where a message really came from (RFC 3261 §18.2.1, RFC 3581 §4)."""

from __future__ import annotations

from proxy.sip.hop import Hop
from proxy.sip.message import Request, replace_first_value
from proxy.sip.via import Via


def stamp_via(via: Via, source: Hop) -> tuple[bool, Via]:
    """§18.2.1 and RFC 3581 §4: note where the request really came from.

    ``received`` is added when the sent-by host is not the source address (and
    always with rport, as RFC 3581 asks); ``rport`` is filled in when the sender
    asked for it, and over TCP always, so that the Via names the connection's far
    end. Returns whether anything changed, and the Via.
    """
    changed = False
    if via.host.strip("[]") != source.host or via.has_param("rport"):
        via = via.with_param("received", source.host)
        changed = True
    if via.has_param("rport") or source.reliable:
        via = via.with_param("rport", str(source.port))
        changed = True
    return changed, via


def stamp_received(request: Request, top: Via, source: Hop) -> tuple[Request, Via]:
    """``request`` with its top Via (already parsed as ``top``) stamped by :func:`stamp_via`."""
    changed, stamped = stamp_via(top, source)
    if not changed:
        return request, top
    headers = replace_first_value(request.headers, "via", str(stamped))
    return request.with_headers(headers), stamped
