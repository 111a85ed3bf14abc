"""Which worker serves a request, when several share the listeners' port.

With ``workers.count`` above 1 every worker binds the listeners' UDP port
(SO_REUSEPORT) and the kernel hands each datagram to one of them by the sender's
address. The first worker is the proxy as a single process runs it: it keeps the
registrations, the line state, the busy lamps and the call history, and it serves
every request. The others serve only what needs none of that: calls to a static
route (``routes:``) from a sender that is not a user's phone. Anything else that
reaches another worker is handed to the first one as it arrived (the datagram and
its sender), so the users' state lives in one process and stays exact.

The other workers send their requests from a port of their own and name it in
their Via (``Interface.own_port``), so the responses come back to them. The first
worker sends from the shared port, as a single process does: a phone behind a NAT
lets in only what comes from where it registered. So a response to the first
worker's request may reach another worker, which matches it to no transaction of
its own and hands it over. In-dialog requests follow the Record-Route, which
names the shared port; a dialog the first worker followed is marked there
(``FIRST_WORKER_PARAM``), so its BYE and re-INVITEs reach the line state wherever
the kernel puts them. Retransmissions, the CANCEL and the ACK of a failed call
come from the caller's address, as the INVITE did, and are judged as it was.
"""

from __future__ import annotations

from proxy.core.local import LocalAddresses
from proxy.core.router import dialled_user
from proxy.core.routing import has_to_tag, our_route_params
from proxy.policy.directory import Directory
from proxy.policy.trust import Source, SourceKind
from proxy.sip.message import Request

# What the other workers serve of a call to a static route: the INVITE with its
# CANCEL and the ACK of a failure (RFC 3261 §17.1.1.3: to where the INVITE went).
_CALL_METHODS = frozenset({"INVITE", "CANCEL", "ACK"})


def first_worker_serves(request: Request, source: Source, local: LocalAddresses,
                        directory: Directory) -> bool:
    """Whether a request another worker received belongs to the first worker."""
    routes = request.header_values("route")
    if routes:
        ours = our_route_params(routes[0], local)
        if ours is not None and ours.token is not None:
            # A dialog we record-routed: whoever followed it serves its requests.
            return ours.first_worker
        return True  # a Route set the sender chose: the first worker judges it
    if request.method not in _CALL_METHODS or (has_to_tag(request) and request.method != "ACK"):
        return True
    return not _calls_static_route(request, source, directory)


def _calls_static_route(request: Request, source: Source, directory: Directory) -> bool:
    """A call to a static route that no user's phone placed: nothing about users'
    lines to follow (``DialogTracker`` follows calls to or placed on a line)."""
    if source.kind is SourceKind.PHONE or request.has_header("proxy-authorization"):
        return False
    dialled = dialled_user(request)
    return (dialled is not None and directory.line_owner(dialled) is None
            and directory.route(dialled) is not None)
