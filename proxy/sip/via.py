"""The Via header (RFC 3261 §20.42, §18.2.2; RFC 3581 rport)."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from proxy.sip.address import PLAIN_HEADER_PARAMS, plain_params
from proxy.sip.errors import SipParseError
from proxy.sip.params import Params, find_param, format_params, parse_params, with_param
from proxy.sip.uri import split_host_port

# via-parm = sent-protocol LWS sent-by *( SEMI via-params ), where
# sent-protocol = protocol-name SLASH protocol-version SLASH transport, all tokens,
# and SLASH = SWS "/" SWS (RFC 3261 §25.1). Folding has already become spaces.
_TOKEN = r"[A-Za-z0-9\-.!%*_+`'~]+"
_VIA = re.compile(
    rf"\s*({_TOKEN})\s*/\s*({_TOKEN})\s*/\s*({_TOKEN})\s+([^;]+?)\s*(?:;(.*))?",
    re.DOTALL,
)
# The plain form of a Via value, as nearly every peer writes it: SIP/2.0, single
# spaces, a host name, IPv4 address or IPv6 reference (what ``split_host_port``
# accepts), a port of 1-59999 and plain parameters. A strict subset of what the
# full expression accepts, read with this one match: the parser reads the top Via
# of every message.
_PLAIN_VIA = re.compile(
    r"SIP/2\.0/([A-Za-z]+) ([A-Za-z0-9\-._]+|\[[0-9A-Fa-f:.]+\])"
    rf"(?::([1-9][0-9]{{0,3}}|[1-5][0-9]{{4}}))?({PLAIN_HEADER_PARAMS})"
)
MAGIC_COOKIE = "z9hG4bK"  # RFC 3261 §8.1.1.7: branches of RFC 3261 implementations start so
DEFAULT_PORTS = {"UDP": 5060, "TCP": 5060, "SCTP": 5060, "TLS": 5061, "WS": 80, "WSS": 443}


@dataclass(frozen=True, slots=True)
class Via:
    """One Via value: ``SIP/2.0/UDP host:port;branch=...;rport;received=...``."""

    protocol: str  # "SIP/2.0"
    transport: str  # upper case: UDP, TCP, TLS, SCTP, WS, WSS or an extension token
    host: str
    port: int | None
    params: Params

    @property
    def branch(self) -> str | None:
        """The branch parameter (the transaction id, RFC 3261 §17.2.3), if any."""
        return find_param(self.params, "branch")

    @property
    def sent_by(self) -> tuple[str, int]:
        """(host, port) with the transport's default port filled in (§18.2.2)."""
        return self.host, self.port or DEFAULT_PORTS.get(self.transport, 5060)

    def param(self, name: str) -> str | None:
        """Value of parameter ``name``; "" for a flag like ``rport``, None when absent."""
        return find_param(self.params, name)

    def has_param(self, name: str) -> bool:
        """True when parameter ``name`` is present, with or without a value."""
        return find_param(self.params, name) is not None

    def with_param(self, name: str, value: str | None) -> Via:
        """A copy with parameter ``name`` set (replaced in place or appended)."""
        return replace(self, params=with_param(self.params, name, value))

    def __str__(self) -> str:
        host = f"{self.host}:{self.port}" if self.port is not None else self.host
        return f"{self.protocol}/{self.transport} {host}{format_params(self.params)}"


def parse_via(value: str) -> Via:
    """Parse a single Via value (split comma-joined lines first).

    Whitespace around the slashes is allowed (RFC 3261 §25.1 SLASH = SWS "/" SWS).
    Raises :class:`SipParseError` (400) on anything else that is not a Via value.
    """
    plain = _PLAIN_VIA.fullmatch(value)
    if plain is None:
        return _read_via(value)
    # What _read_via gives for the plain form, without its steps.
    transport, host, port, param_text = plain.groups()
    return Via("SIP/2.0", transport.upper(), host, int(port) if port else None,
               plain_params(param_text))


def check_via(value: str) -> None:
    """Raise :class:`SipParseError` unless ``value`` is one well-formed Via value:
    for a message that only needs its Via checked, not read (a response is
    matched by the branch alone, §17.1.3)."""
    if _PLAIN_VIA.fullmatch(value) is None:
        _read_via(value)


def _read_via(value: str) -> Via:
    """:func:`parse_via` for every form, step by step."""
    match = _VIA.fullmatch(value)
    if match is None:
        raise SipParseError(f"Malformed Via header: {value[:60]!r}")
    name, version, transport, sent_by, param_text = match.groups()
    host, port = split_host_port(sent_by)
    params = parse_params(param_text) if param_text is not None else ()
    return Via(f"{name}/{version}", transport.upper(), host, port, params)
