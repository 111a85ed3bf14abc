"""Where a message goes or came from: transport, host and port (RFC 3261 §18, RFC 3263 §4)."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
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


@dataclass(frozen=True, slots=True)
class HostName:
    """A target's host name and what its lookup depends on (RFC 3263 §4.1, §4.2): an
    explicit port means A/AAAA only; an explicit transport means SRV for it only."""

    host: str  # lower case, without a trailing dot
    port: int | None
    transport: str | None  # "UDP" or "TCP" when the URI names one


@dataclass(frozen=True, slots=True)
class ResolvedNames:
    """Host names the background resolver looked up: for each, its hops in the
    order to try them (RFC 3263 §4.3), or why it did not resolve."""

    hops: Mapping[HostName, tuple[Hop, ...]] = field(default_factory=dict)
    failures: Mapping[HostName, str] = field(default_factory=dict)


NO_NAMES = ResolvedNames()


def host_name(uri: SipUri) -> HostName | None:
    """The host name ``uri`` is sent to (``maddr`` first, §19.1.1); None for an IP."""
    host = uri.param("maddr") or uri.host
    if is_ip_literal(host):
        return None
    transport = uri.param("transport")
    return HostName(host.lower().removesuffix("."), uri.port,
                    transport.upper() if transport else None)


def hops_for_uri(uri: Uri, names: ResolvedNames, default_transport: str = "UDP",
                 ) -> tuple[Hop, ...]:
    """The next hops for a Route or Request-URI, in the order to try them (RFC 3263 §4).

    ``maddr`` overrides the host (§19.1.1); ``transport`` picks the protocol; a
    sips URI would need TLS, which this proxy does not offer. A host name is
    looked up in ``names`` (resolved in the background, never here: a DNS query
    on the per-message path would stall every call); one it lacks gets a 503.
    """
    transport = sendable_transport(uri, default_transport)
    assert isinstance(uri, SipUri)  # checked by sendable_transport
    name = host_name(uri)
    if name is None:
        host = uri.param("maddr") or uri.host
        return (Hop(transport, unbracket(host), uri.port or DEFAULT_PORTS[transport]),)
    hops = names.hops.get(name)
    if not hops:
        why = names.failures.get(name, "not a host name the configuration names")
        raise SipParseError(f"Cannot route to {name.host[:60]!r}: {why}", status_hint=503)
    return hops


def sendable_transport(uri: Uri, default_transport: str = "UDP") -> str:
    """The transport ``uri`` is sent over; raises :class:`SipParseError` for a URI
    this proxy cannot send to: a non-SIP URI or sips (416), another transport (503)."""
    if not isinstance(uri, SipUri):
        raise SipParseError("Cannot route to a non-SIP URI", status_hint=416)
    if uri.scheme == "sips":
        raise SipParseError("sips: targets need TLS, which is not supported", status_hint=416)
    transport = (uri.param("transport") or default_transport).upper()
    if transport not in ("UDP", "TCP"):
        raise SipParseError(f"Unsupported transport {transport[:10]!r}", status_hint=503)
    return transport


def hop_for_uri(uri: Uri, default_transport: str = "UDP") -> Hop:
    """The next hop for a URI with an IP address (a host name gets a 503)."""
    return hops_for_uri(uri, NO_NAMES, default_transport)[0]


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
