"""RFC 5626 outbound at the registrar: which REGISTERs use it, and what their 200 says.

A phone uses outbound when it lists the ``outbound`` option tag and registers a
Contact with ``+sip.instance`` and ``reg-id`` (§4.2). The registrar then keeps the
flow the REGISTER came on with the binding (``Binding.received``) and confirms
with ``Require: outbound`` (§6). This proxy is the phone's edge proxy and its
registrar at once: when the REGISTER comes straight from the phone it also
says how often to send keep-alives (``Flow-Timer``, §5.4) and answers them
(CRLF pings on TCP, STUN on UDP). No flow token is needed in a Path or
Record-Route: the flow is the one recorded in the binding.
"""

from __future__ import annotations

from dataclasses import dataclass

from proxy.defaults import FLOW_TIMER_TCP_SECONDS, FLOW_TIMER_UDP_SECONDS
from proxy.registrar.bindings import Received
from proxy.registrar.contacts import Refusal, Requested
from proxy.sip.address import parse_name_addr
from proxy.sip.errors import SipParseError
from proxy.sip.message import Header, Request
from proxy.sip.uri import SipUri, parse_uri

OPTION_TAG = "outbound"


@dataclass(frozen=True, slots=True)
class Outbound:
    """A REGISTER that uses outbound: what its 200 adds."""

    # Seconds between keep-alives; None when an edge proxy in front of us keeps
    # the flow (the last proxy before the phone sends the Flow-Timer, §5.4).
    flow_timer: int | None

    def headers(self) -> tuple[Header, ...]:
        """``Require: outbound`` (§6) and, from the edge proxy, ``Flow-Timer`` (§5.4)."""
        required: tuple[Header, ...] = (("Require", OPTION_TAG),)
        if self.flow_timer is None:
            return required
        return (*required, ("Flow-Timer", str(self.flow_timer)))


def outbound_of(request: Request, requested: Requested,
                received: Received) -> Outbound | Refusal | None:
    """Whether a REGISTER uses outbound (None: it does not, RFC 3261 alone applies).

    §6: a registrar adjacent to the phone (one Via) is its first hop; otherwise the
    first hop must have said it supports outbound with ``ob`` on the Path URI it
    added, or the REGISTER fails with 439.
    """
    if not isinstance(requested, tuple) or all(contact.reg_id is None for contact in requested):
        return None
    tags = {tag.lower() for name in ("supported", "require") for tag in request.header_values(name)}
    if OPTION_TAG not in tags:
        return None
    if len(request.header_values("via")) == 1:
        return Outbound(_flow_timer(received.transport))
    if _first_hop_supports_outbound(request.header_values("path")):
        return Outbound(None)
    return Refusal(439, "First Hop Lacks Outbound Support (the first Path has no ob)")


def _flow_timer(transport: str) -> int:
    """Seconds between a phone's keep-alives on a flow of ``transport`` (see defaults)."""
    return FLOW_TIMER_UDP_SECONDS if transport == "UDP" else FLOW_TIMER_TCP_SECONDS


def _first_hop_supports_outbound(path: list[str]) -> bool:
    """RFC 5626 §5.1: an edge proxy that supports outbound puts ``ob`` on its Path URI,
    the first one the registrar sees."""
    if not path:
        return False
    try:
        uri = parse_uri(parse_name_addr(path[0]).uri)
    except SipParseError:
        return False
    return isinstance(uri, SipUri) and uri.param("ob") is not None
