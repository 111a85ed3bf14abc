"""Where a message goes or came from: transport, host and port (RFC 3261 §18, RFC 3263 §4)."""

from __future__ import annotations

from dataclasses import dataclass

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


def hop_for_uri(uri: Uri, default_transport: str = "UDP") -> Hop:
    """The next hop for a Route or Request-URI (RFC 3263 §4 without DNS: hosts are IPs).

    ``maddr`` overrides the host (§19.1.1); ``transport`` picks the protocol; a
    sips URI would need TLS, which this proxy does not offer.
    """
    if not isinstance(uri, SipUri):
        raise SipParseError("Cannot route to a non-SIP URI", status_hint=416)
    if uri.scheme == "sips":
        raise SipParseError("sips: targets need TLS, which is not supported", status_hint=416)
    transport = (uri.param("transport") or default_transport).upper()
    if transport not in ("UDP", "TCP"):
        raise SipParseError(f"Unsupported transport {transport[:10]!r}", status_hint=503)
    host = uri.param("maddr") or uri.host
    return Hop(transport, unbracket(host), uri.port or DEFAULT_PORTS[transport])


def response_hop(via: Via, source: Hop) -> Hop:
    """Where responses to a request go (RFC 3261 §18.2.2, RFC 3581 §4).

    Reliable transports answer on the connection the request came in on (the
    transport layer finds it by the source address). Over UDP: ``maddr`` if
    present, else the ``received`` address and the ``rport`` (or sent-by) port.
    """
    if source.reliable:
        return source
    maddr = via.param("maddr")
    if maddr:
        return Hop(source.transport, unbracket(maddr), via.port or 5060)
    host = via.param("received") or unbracket(via.host)
    rport = via.param("rport")
    port = int(rport) if rport and rport.isdigit() else (via.port or 5060)
    return Hop(source.transport, unbracket(host), port)
