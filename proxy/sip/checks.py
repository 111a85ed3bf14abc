"""Well-formedness checks of the header values a proxy acts on.

``parse_message`` only needs to know that From, To and a SIP Request-URI are
well formed (the top Via has its own check in ``proxy.sip.via``); the values
themselves are parsed again by whoever uses them. The Request-URI check first
tries one regular expression for the common, plainly valid form (a strict subset
of what the full parser accepts) and falls back to the full parser, which accepts
the unusual forms and raises :class:`~proxy.sip.errors.SipParseError` with the
reason for the bad ones; From and To go to their parser, whose results are kept.
The fast paths keep a typical INVITE well under 25 µs to parse
(tools/bench_parse.py).
"""

from __future__ import annotations

import re

from proxy.sip.address import parse_name_addr
from proxy.sip.errors import SipParseError
from proxy.sip.uri import SipUri, parse_uri

_HOST = r"(?:[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\])"
_PORT = r"(?::(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}))"  # 1-59999; other ports take the slow path
_URI_CHARS = r"[A-Za-z0-9\-_.!~*'()%\[\]/:&+$]"

_PLAIN_SIP_URI = re.compile(
    rf"sips?:(?:[A-Za-z0-9\-_.!~*'()&=+$,;?/%]+@)?{_HOST}{_PORT}?"
    rf"(?:;{_URI_CHARS}+(?:={_URI_CHARS}*)?)*"
)


def check_name_addr(value: str) -> None:
    """Raise :class:`SipParseError` unless ``value`` is a name-addr or addr-spec.

    Parsed rather than matched: ``parse_name_addr`` keeps its results, a call's
    From and To come back in each of its messages, and the core reads their tags
    anyway (a cache hit costs less than the match)."""
    parse_name_addr(value)


def check_sip_request_uri(uri: str) -> None:
    """Raise :class:`SipParseError` unless ``uri`` is a SIP/SIPS/TEL URI usable as Request-URI.

    RFC 3261 §19.1.1 table 1: headers are not allowed in a Request-URI (RFC 4475
    escruri).
    """
    if _PLAIN_SIP_URI.fullmatch(uri) is not None:
        return
    parsed = parse_uri(uri)
    if isinstance(parsed, SipUri) and parsed.headers:
        raise SipParseError("Request-URI must not carry headers")
