"""Where a message goes or came from: transport, host and port (RFC 3261 §18, RFC 3263 §4)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from functools import lru_cache

from proxy.sip.errors import SipParseError
from proxy.sip.uri import SipUri, Uri
from proxy.sip.via import DEFAULT_PORTS, Via


@dataclass(frozen=True, slots=True)
class Hop:
    """A transport address. ``host`` is an IP literal without IPv6 brackets."""

    transport: str  # "UDP" or "TCP"
    host: str
    port: int

    @property
    def reliable(self) -> bool:
        return self.transport != "UDP"


def unbracket(host: str) -> str:
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


@lru_cache(maxsize=4096)
def is_ip_literal(host: str) -> bool:
    """True for an IPv4 or IPv6 address (brackets allowed); False for a host name."""
    try:
        ipaddress.ip_address(unbracket(host))
    except ValueError:
        return False
    return True


def hop_for_uri(uri: Uri, default_transport: str = "UDP") -> Hop:
    """The next hop for a Route or Request-URI (RFC 3263 §4 without DNS: hosts are IPs).

    ``maddr`` overrides the host (§19.1.1); ``transport`` picks the protocol; a
    sips URI would need TLS, which this proxy does not offer. A host name is
    refused rather than resolved: a blocking DNS lookup would stall every call.
    """
    if not isinstance(uri, SipUri):
        raise SipParseError("Cannot route to a non-SIP URI", status_hint=416)
    if uri.scheme == "sips":
        raise SipParseError("sips: targets need TLS, which is not supported", status_hint=416)
    transport = (uri.param("transport") or default_transport).upper()
    if transport not in ("UDP", "TCP"):
        raise SipParseError(f"Unsupported transport {transport[:10]!r}", status_hint=503)
    host = uri.param("maddr") or uri.host
    if not is_ip_literal(host):
        raise SipParseError(f"Cannot route to {host[:60]!r}: not an IP address "
                            "(DNS, RFC 3263, is not supported)", status_hint=503)
    return Hop(transport, unbracket(host), uri.port or DEFAULT_PORTS[transport])


def maddr_hop(via: Via, source: Hop) -> Hop | None:
    """Where responses go when the Via names a ``maddr`` (RFC 3261 §18.2.2), over
    UDP; None without one. A proxy honours it only for a sender it trusts: anyone
    else could use it to aim the proxy's answers at a third party."""
    maddr = via.param("maddr")
    if source.reliable or not maddr or not is_ip_literal(maddr):
        return None
    return Hop(source.transport, unbracket(maddr), via.port or 5060)


def response_hop(via: Via, source: Hop) -> Hop:
    """Where responses to a request go (RFC 3261 §18.2.2, RFC 3581 §4), ``maddr``
    aside (see :func:`maddr_hop`).

    Reliable transports answer on the connection the request came in on (the
    transport layer finds it by the source address). Over UDP: the ``received``
    address and the ``rport`` (or sent-by) port. Only IP addresses are used;
    anything else falls back to the source address.
    """
    if source.reliable:
        return source
    host = via.param("received") or via.host
    if not is_ip_literal(host):
        host = source.host
    rport = via.param("rport")
    if rport and rport.isascii() and rport.isdigit():
        port = int(rport)
    else:
        port = via.port or DEFAULT_PORTS[source.transport]  # §18.2.2: sent-by port, else 5060
    return Hop(source.transport, unbracket(host), port)


def reconnect_hop(via: Via, source: Hop) -> Hop:
    """§18.2.2: when the connection a request came on has closed, the response goes
    over a new connection to the ``received`` address and the sent-by port."""
    host = via.param("received") or source.host
    if not is_ip_literal(host):
        host = source.host
    return Hop(source.transport, unbracket(host), via.port or DEFAULT_PORTS["TCP"])
