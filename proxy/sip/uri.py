"""SIP, SIPS and TEL URIs (RFC 3261 §19.1, RFC 3966)."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache

from proxy.sip.errors import SipParseError
from proxy.sip.params import Params, find_param, format_params, parse_params, with_param

# RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+\-.]*")
# A host name or IPv4 address (RFC 3261 §25.1 hostname / IPv4address; "_" tolerated as
# many deployments use it), or a bracketed IPv6 reference.
_HOST = re.compile(r"[A-Za-z0-9\-._]+|\[[0-9A-Fa-f:.]+\]")


@dataclass(frozen=True, slots=True)
class SipUri:
    """``sip:user:password@host:port;params?headers``; IPv6 hosts keep their brackets."""

    scheme: str  # "sip" or "sips", lower case
    user: str | None
    password: str | None
    host: str
    port: int | None
    params: Params = ()
    headers: str = ""  # the raw text after "?", kept as received

    def param(self, name: str) -> str | None:
        """Value of URI parameter ``name``; "" for a flag, None when absent."""
        return find_param(self.params, name)

    def with_param(self, name: str, value: str | None) -> SipUri:
        """A copy with parameter ``name`` set (replaced in place or appended)."""
        return replace(self, params=with_param(self.params, name, value))

    @property
    def is_loose_router(self) -> bool:
        """RFC 3261 §16.4, §19.1.1: the ``lr`` parameter marks a loose router."""
        return self.param("lr") is not None

    def __str__(self) -> str:
        userinfo = ""
        if self.user is not None:
            userinfo = self.user if self.password is None else f"{self.user}:{self.password}"
            userinfo += "@"
        port = f":{self.port}" if self.port is not None else ""
        headers = f"?{self.headers}" if self.headers else ""
        return f"{self.scheme}:{userinfo}{self.host}{port}{format_params(self.params)}{headers}"


@dataclass(frozen=True, slots=True)
class TelUri:
    """``tel:+14155550100;phone-context=...`` (RFC 3966)."""

    number: str
    params: Params = ()

    def param(self, name: str) -> str | None:
        """Value of parameter ``name``; "" for a flag, None when absent."""
        return find_param(self.params, name)

    def __str__(self) -> str:
        return f"tel:{self.number}{format_params(self.params)}"


Uri = SipUri | TelUri


def uri_scheme(text: str) -> str | None:
    """The lower-case scheme of an absolute URI, or None when ``text`` has none."""
    scheme, colon, rest = text.partition(":")
    if not colon or not rest or _SCHEME.fullmatch(scheme) is None:
        return None
    return scheme.lower()


@lru_cache(maxsize=4096)
def parse_uri(text: str) -> Uri:
    """Parse a SIP, SIPS or TEL URI.

    A malformed URI raises :class:`SipParseError` with status 400; a well-formed
    URI of another scheme raises it with 416 Unsupported URI Scheme (RFC 3261
    §21.4.15), which is what a proxy answers when it must interpret such a
    Request-URI (RFC 4475 unkscm and novelsc).

    Results are cached: URIs are frozen values, and the same few (lines, targets,
    our own Route entries) come back on every call.
    """
    text = text.strip()
    scheme = uri_scheme(text)
    if scheme is None:
        raise SipParseError(f"Malformed URI: {text[:60]!r}")
    rest = text[len(scheme) + 1 :]
    if scheme == "tel":
        number, semicolon, param_text = rest.partition(";")
        if not number:
            raise SipParseError(f"TEL URI without a number: {text[:60]!r}")
        return TelUri(number, parse_params(param_text) if semicolon else ())
    if scheme not in ("sip", "sips"):
        raise SipParseError(f"Unsupported URI scheme {scheme[:16]!r}", status_hint=416)
    return _parse_sip_uri(scheme, rest, text)


def _parse_sip_uri(scheme: str, rest: str, text: str) -> SipUri:
    user: str | None = None
    password: str | None = None
    if "@" in rest:
        # RFC 3261 §25.1: "@" may appear neither in the host, the parameters nor the
        # headers, while the user part may hold ";", "?", "/" and more (RFC 4475
        # intmeth, semiuri): the last "@" ends the userinfo.
        userinfo, _, rest = rest.rpartition("@")
        user, colon, password_text = userinfo.partition(":")
        password = password_text if colon else None
        if not user:
            raise SipParseError(f"URI with an empty user: {text[:60]!r}")
    rest, question, headers = rest.partition("?")
    hostport, semicolon, param_text = rest.partition(";")
    host, port = split_host_port(hostport)
    params = parse_params(param_text) if semicolon else ()
    return SipUri(scheme, user, password, host, port, params, headers if question else "")


def split_host_port(hostport: str) -> tuple[str, int | None]:
    """Split ``host:port``, ``[v6]:port`` or a bare host; validates host and port.

    Whitespace around the ":" is tolerated (Via sent-by uses COLON = SWS ":" SWS).
    """
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise SipParseError(f"Unclosed IPv6 reference: {hostport[:60]!r}")
        host, port_text = hostport[: end + 1], hostport[end + 1 :].strip()
        if port_text and not port_text.startswith(":"):
            raise SipParseError(f"Malformed host: {hostport[:60]!r}")
        port_text = port_text[1:]
    else:
        host, _, port_text = hostport.partition(":")
        host = host.rstrip()
    if _HOST.fullmatch(host) is None:
        raise SipParseError(f"Malformed host: {hostport[:60]!r}")
    if not port_text:
        return host, None
    port_text = port_text.strip()
    # isascii: str.isdigit() also accepts digits int() refuses ("²"); the length cap
    # keeps int() away from absurdly long digit strings.
    if not (port_text.isascii() and port_text.isdigit() and len(port_text) <= 5) or not (
        0 < int(port_text) < 65536
    ):
        raise SipParseError(f"Malformed port: {port_text[:10]!r}")
    return host, int(port_text)


def uri_user(text: str) -> str | None:
    """The user of a SIP/SIPS URI or the number of a TEL URI, given as text.

    None when the URI has no user part or does not parse; never raises.
    """
    try:
        uri = parse_uri(text)
    except SipParseError:
        return None
    return uri.number if isinstance(uri, TelUri) else uri.user


def sip_uri_or_none(text: str) -> SipUri | None:
    """``text`` parsed as a SIP/SIPS URI; None for anything else or nothing valid.
    Never raises."""
    try:
        uri = parse_uri(text)
    except SipParseError:
        return None
    return uri if isinstance(uri, SipUri) else None
