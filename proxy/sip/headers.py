"""Header names: compact forms, case-insensitive keys and comma-joined values.

RFC 3261 §7.3.1: header names are case-insensitive and a header whose grammar is a
comma-separated list may appear as several header lines or as one line with the
values joined by commas; both forms mean the same. §7.3.3 defines compact forms.
"""

from __future__ import annotations

import re

# RFC 3261 §7.3.3 plus the compact forms registered by later RFCs
# (RFC 3265 o/u, RFC 3515 r, RFC 3892 b, RFC 4028 x, RFC 3841 a/j/d, RFC 4474 y/n).
COMPACT_FORMS: dict[str, str] = {
    "i": "call-id",
    "m": "contact",
    "e": "content-encoding",
    "l": "content-length",
    "c": "content-type",
    "f": "from",
    "s": "subject",
    "k": "supported",
    "t": "to",
    "v": "via",
    "o": "event",
    "r": "refer-to",
    "b": "referred-by",
    "u": "allow-events",
    "x": "session-expires",
    "a": "accept-contact",
    "j": "reject-contact",
    "d": "request-disposition",
    "y": "identity",
    "n": "identity-info",
}

# RFC 3261 §25.1: token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")
_TOKEN = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+")

# Lookup keys of header names seen so far. Only valid tokens are ever stored, so a
# hit also means "this name is well formed". Bounded: names come from the network.
_KEY_CACHE: dict[str, str] = {}
_KEY_CACHE_LIMIT = 4096


# The key of a name already seen and known to be a token, else None: the parser's
# fast path, one dict lookup per header line.
cached_header_key = _KEY_CACHE.get


def is_token(text: str) -> bool:
    """True when ``text`` is an RFC 3261 token (header names, methods, transports)."""
    return _TOKEN.fullmatch(text) is not None


def header_key(name: str) -> str:
    """Return the lookup key of a header name: lower case, compact form expanded."""
    key = _KEY_CACHE.get(name)
    if key is None:
        lowered = name.lower()
        key = COMPACT_FORMS.get(lowered, lowered)
        if len(_KEY_CACHE) < _KEY_CACHE_LIMIT and is_token(name):
            _KEY_CACHE[name] = key
    return key


def split_comma_values(value: str) -> list[str]:
    """Split a comma-joined header value into its elements (RFC 3261 §7.3.1).

    Commas inside quoted strings (display names) and inside ``<...>`` (URIs may
    carry commas in their user and headers parts) do not separate values.
    """
    if "," not in value:
        stripped = value.strip()
        return [stripped] if stripped else []
    if '"' not in value and "<" not in value:
        return [part for part in (piece.strip() for piece in value.split(",")) if part]
    parts, _ = split_unquoted(value, ",", "<>")
    return [part for part in (piece.strip() for piece in parts) if part]


def split_unquoted(text: str, separator: str, brackets: str = "") -> tuple[list[str], bool]:
    """Split ``text`` at ``separator`` except inside quoted strings (RFC 3261 §25.1
    quoted-string, with backslash escapes) and, if ``brackets`` is ``"<>"``, inside
    angle brackets. Returns the pieces and whether every quote was closed.
    """
    opening, closing = (brackets[0], brackets[1]) if brackets else ("", "")
    parts: list[str] = []
    start = 0
    in_quotes = in_brackets = escaped = False
    for index, char in enumerate(text):
        if escaped:
            escaped = False
        elif in_quotes:
            if char == "\\":
                escaped = True
            elif char == '"':
                in_quotes = False
        elif char == '"':
            in_quotes = True
        elif char == opening:
            in_brackets = True
        elif char == closing:
            in_brackets = False
        elif char == separator and not in_brackets:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return parts, not in_quotes
