"""Digest header values: parsing credentials, writing challenges.

Grammar (RFC 3261 §25.1, RFC 7616 §3.3-§3.4, RFC 7235 §2.1)::

    credentials = "Digest" LWS auth-param *(COMMA auth-param)
    auth-param  = token EQUAL ( token / quoted-string )

Parameter names are case-insensitive; values may be quoted strings with
backslash escapes, which may hold commas. A value that is not a quoted string
is read up to the next comma or whitespace (RFC 7616 §3.4 forbids quoting
``algorithm``, ``qop`` and ``nc``, but clients that do are accepted). A
parameter given twice makes the credentials invalid (RFC 7235 §2.1: "each
parameter name MUST only occur once per challenge"), as does any text that is
not a parameter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# "Digest" and the whitespace after it. The scheme is case-insensitive (RFC 7235 §2.1).
_SCHEME = re.compile(r"\s*Digest\s+", re.IGNORECASE)
_PARAM = re.compile(
    r"""([!#$%&'*+\-.^_`|~0-9A-Za-z]+)  # name: a token
        \s*=\s*
        (?:"((?:[^"\\]|\\.)*)"          # quoted-string with quoted-pairs
          |([^\s,"]+))                  # or a token-ish value
        \s*(?=,|$)""",
    re.VERBOSE | re.DOTALL,
)
_SEPARATORS = frozenset(", \t\r\n")  # empty list elements are allowed (RFC 7230 §7)
_QUOTED_PAIR = re.compile(r"\\(.)", re.DOTALL)


@dataclass(frozen=True, slots=True)
class DigestCredentials:
    """The parameters of one ``Authorization``/``Proxy-Authorization`` value that
    verification reads (RFC 7616 §3.4); None where a parameter is absent."""

    username: str | None
    realm: str | None
    nonce: str | None
    uri: str | None
    response: str | None
    algorithm: str | None
    qop: str | None
    nc: str | None
    cnonce: str | None


def parse_digest_params(value: str) -> dict[str, str] | None:
    """The parameters of a Digest credentials value (names lower-cased, values
    unquoted), or None when it is not well-formed Digest credentials."""
    scheme = _SCHEME.match(value)
    if scheme is None:
        return None
    params: dict[str, str] = {}
    position = scheme.end()
    while True:
        while position < len(value) and value[position] in _SEPARATORS:
            position += 1
        if position >= len(value):
            return params or None
        match = _PARAM.match(value, position)
        if match is None:
            return None
        name = match.group(1).lower()
        if name in params:
            return None
        quoted, plain = match.group(2), match.group(3)
        params[name] = _QUOTED_PAIR.sub(r"\1", quoted) if quoted is not None else plain
        position = match.end()


def parse_credentials(value: str) -> DigestCredentials | None:
    """Digest credentials from one header value, or None if they are not well-formed."""
    params = parse_digest_params(value)
    if params is None:
        return None
    return DigestCredentials(
        username=params.get("username"),
        realm=params.get("realm"),
        nonce=params.get("nonce"),
        uri=params.get("uri"),
        response=params.get("response"),
        algorithm=params.get("algorithm"),
        qop=params.get("qop"),
        nc=params.get("nc"),
        cnonce=params.get("cnonce"),
    )


def quote(text: str) -> str:
    """A quoted-string holding ``text`` (RFC 3261 §25.1 quoted-pair for ``"`` and ``\\``)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def challenge_value(realm: str, nonce: str, algorithm: str, *, stale: bool) -> str:
    """One Digest challenge (RFC 7616 §3.3; RFC 3261 §22.4): realm, nonce,
    algorithm (a token, never quoted) and qop="auth"; ``stale=true`` when the
    client's credentials were right but its nonce had expired."""
    value = f'Digest realm={quote(realm)}, nonce={quote(nonce)}, algorithm={algorithm}, qop="auth"'
    return f"{value}, stale=true" if stale else value
