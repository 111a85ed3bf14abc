"""name-addr / addr-spec values of From, To, Contact, Route, Record-Route (RFC 3261 §20.10)."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache

from proxy.sip.errors import SipParseError
from proxy.sip.params import Params, find_param, format_params, parse_params, with_param
from proxy.sip.uri import uri_scheme, uri_user

# RFC 3261 §25.1 token, and the scheme of an absolute URI (RFC 3986 §3.1).
_TOKEN = r"[A-Za-z0-9\-.!%*_+`'~]+"
_SCHEME = r"[A-Za-z][A-Za-z0-9+\-.]*"
# display-name = *(token LWS) / quoted-string (RFC 3261 §25.1). An unquoted name is
# one or more tokens separated by whitespace.
_TOKENS = re.compile(rf"{_TOKEN}(?:[ \t]+{_TOKEN})*")
# Header parameters in their plain form: no quotes, whitespace or angle brackets.
PLAIN_HEADER_PARAMS = rf"(?:;{_TOKEN}(?:=[^;\"\s<>]*)?)*"
# The plain form of a name-addr or addr-spec: a quoted display name without
# escapes or a token display name, a URI without whitespace or quotes, plain
# header parameters. A strict subset of what parse_name_addr accepts, which it
# reads with this one regular expression (most From, To, Route and Contact
# values are written so); check_name_addr uses it too.
PLAIN_NAME_ADDR = re.compile(
    rf"(?:(?:\"(?P<quoted>[^\"\\\r\n]*)\" *|(?P<tokens>{_TOKEN}(?: {_TOKEN})*) *)?"
    rf"<(?P<uri>{_SCHEME}:[^<>\"\s]+)>"
    rf"|(?P<spec>{_SCHEME}:[^<>\";?,\s]+))(?P<params>{PLAIN_HEADER_PARAMS})"
)


@dataclass(frozen=True, slots=True)
class NameAddr:
    """``"Display" <uri>;params``. ``uri`` is kept as text; parse it with ``parse_uri``."""

    display_name: str | None  # without the quotes; None when absent
    uri: str
    params: Params = ()

    @property
    def tag(self) -> str | None:
        """The tag parameter (RFC 3261 §19.3), None when absent."""
        return find_param(self.params, "tag")

    def param(self, name: str) -> str | None:
        """Value of header parameter ``name``; "" for a flag, None when absent."""
        return find_param(self.params, name)

    def with_param(self, name: str, value: str | None) -> NameAddr:
        """A copy with header parameter ``name`` set."""
        return replace(self, params=with_param(self.params, name, value))

    def with_display_name(self, display_name: str | None) -> NameAddr:
        """A copy with another display name (None removes it)."""
        return replace(self, display_name=display_name)

    def __str__(self) -> str:
        display = ""
        if self.display_name is not None:
            escaped = self.display_name.replace("\\", "\\\\").replace('"', '\\"')
            display = f'"{escaped}" '
        return f"{display}<{self.uri}>{format_params(self.params)}"


@lru_cache(maxsize=4096)
def parse_name_addr(value: str) -> NameAddr:
    """Parse a name-addr (``"Bob" <sip:bob@b>;tag=1``) or an addr-spec (``sip:bob@b;tag=1``).

    In the addr-spec form every ``;param`` belongs to the header, not the URI, and
    a URI holding ";", "," or "?" must be written as a name-addr (RFC 3261 §20.10).
    Raises :class:`SipParseError` (400) when the value is neither form.

    Results are cached, as ``parse_uri``'s are: name-addrs are frozen values, and
    a dialog's From, To and Route come back in each of its requests (the From of
    an ACK and a BYE was read when the INVITE was routed).
    """
    plain = PLAIN_NAME_ADDR.fullmatch(value)
    if plain is None:
        return _read_name_addr(value)
    # What _read_name_addr gives for the plain form, without its steps: no escapes
    # to undo, nothing to strip, the parameters split at each ";".
    quoted, param_text = plain["quoted"], plain["params"]
    return NameAddr(
        quoted if quoted is not None else plain["tokens"],
        plain["uri"] or plain["spec"],
        plain_params(param_text),
    )


def plain_params(param_text: str) -> Params:
    """The parameters of text matched by ``PLAIN_HEADER_PARAMS``: what
    ``parse_params`` reads there, split at each ";" without its checks."""
    return tuple([_plain_param(text) for text in param_text[1:].split(";")]) if param_text else ()


def _plain_param(text: str) -> tuple[str, str | None]:
    name, equals, value = text.partition("=")
    return name, value if equals else None


def _read_name_addr(value: str) -> NameAddr:
    """:func:`parse_name_addr` for every form, step by step."""
    text = value.strip()
    if text.startswith('"'):
        end = _closing_quote(text)
        display_name: str | None = _unescape(text[1:end])
        text = text[end + 1 :].lstrip()
        if not text.startswith("<"):
            raise SipParseError(f"Display name without '<uri>': {value[:60]!r}")
        return _name_addr(display_name, text, value)
    langle = text.find("<")
    if langle >= 0:
        # RFC 4475 lwsdisp: "caller<sip:...>" lacks the LWS the grammar asks for, a
        # known erratum that elements accept.
        display_text = text[:langle].rstrip()
        if display_text and _TOKENS.fullmatch(display_text) is None:
            raise SipParseError(f"Display name must be quoted: {value[:60]!r}")
        return _name_addr(display_text or None, text[langle:], value)
    uri, semicolon, param_text = text.partition(";")
    uri = uri.rstrip()
    if "?" in uri:
        # RFC 3261 §20.10; RFC 4475 regbadct: headers in a URI need the <> form.
        raise SipParseError(f"URI with headers must be enclosed in '<>': {value[:60]!r}")
    _check_uri(uri, value)
    return NameAddr(None, uri, parse_params(param_text) if semicolon else ())


def _name_addr(display_name: str | None, text: str, value: str) -> NameAddr:
    """Finish a name-addr; ``text`` starts at ``<``."""
    rangle = text.find(">")
    if rangle < 0:
        raise SipParseError(f"Unclosed '<' in address: {value[:60]!r}")
    uri = text[1:rangle]
    if uri != uri.strip():
        # LAQUOT addr-spec RAQUOT leaves no room for whitespace (RFC 4475 badaspec).
        raise SipParseError(f"Whitespace inside '<...>' in address: {value[:60]!r}")
    _check_uri(uri, value)
    rest = text[rangle + 1 :].lstrip()
    if rest and not rest.startswith(";"):
        raise SipParseError(f"Unexpected text after '>' in address: {value[:60]!r}")
    return NameAddr(display_name, uri, parse_params(rest[1:]) if rest else ())


def _check_uri(uri: str, value: str) -> None:
    if uri_scheme(uri) is None:
        raise SipParseError(f"Malformed address URI: {value[:60]!r}")


def _closing_quote(text: str) -> int:
    """Index of the quote closing the quoted string that starts ``text``."""
    index = 1
    while True:
        quote = text.find('"', index)
        if quote < 0:
            raise SipParseError(f"Unclosed quote in display name: {text[:60]!r}")
        backslash = text.find("\\", index, quote)
        if backslash < 0:
            return quote
        index = backslash + 2  # skip the quoted-pair (RFC 3261 §25.1)


def _unescape(text: str) -> str:
    """Undo quoted-pair escapes: ``\\"`` becomes ``"``, ``\\\\`` becomes ``\\``."""
    if "\\" not in text:
        return text
    out: list[str] = []
    escaped = False
    for char in text:
        if escaped:
            out.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        else:
            out.append(char)
    return "".join(out)


def has_tag(value: str) -> bool:
    """Whether a From/To value carries a header ``tag`` parameter (§19.3), as opposed
    to a ``tag`` URI parameter inside ``<...>``; False for a value that does not parse."""
    if "tag" not in value.lower():
        return False  # the common case, decided without a parse
    try:
        return parse_name_addr(value).tag is not None
    except SipParseError:
        return False


def address_user(value: str | None) -> str | None:
    """The user of the URI in a From/To/P-Asserted-Identity value; None when absent
    or unreadable. Never raises."""
    if not value:
        return None
    try:
        return uri_user(parse_name_addr(value).uri)
    except SipParseError:
        return None


def address_tag(value: str | None) -> str | None:
    """The ``tag`` of a From/To value (RFC 3261 §19.3); None when absent or
    unreadable. Never raises."""
    if not value:
        return None
    try:
        return parse_name_addr(value).tag
    except SipParseError:
        return None
