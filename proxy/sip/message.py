"""The SIP message model: frozen requests and responses, parsed and serialized.

Headers are kept as an ordered tuple of ``(name as written, value)`` pairs so that
header order, unknown headers and the sender's spelling survive proxying
untouched; only what the proxy changes is rebuilt (RFC 3261 §16.6: a proxy
"MUST NOT" reorder or modify headers it does not own). Lookups are
case-insensitive and understand compact forms (§7.3.3).

``parse_message`` checks what a proxy acts on (§16.3 step 1: "any components
involved in the remaining Request Validation steps or the Request Forwarding
section MUST be well-formed"): the start line, the Request-URI, the top Via,
From, To, Call-ID, CSeq, Max-Forwards and Content-Length. Every other header
"SHOULD be ignored and remain unchanged when the message is forwarded"; it is
validated only by whoever interprets it (``parse_name_addr`` on a Contact,
``parse_uri`` on a URI of a scheme we do not route).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import islice

from proxy.sip.address import has_tag
from proxy.sip.checks import check_name_addr, check_sip_request_uri
from proxy.sip.errors import SipParseError
from proxy.sip.headers import (
    cached_header_key,
    header_key,
    is_token,
    split_comma_values,
)
from proxy.sip.uri import uri_scheme
from proxy.sip.via import Via, check_via, parse_via

SIP_VERSION = "SIP/2.0"
Header = tuple[str, str]

_SIP_VERSION_SYNTAX = re.compile(r"SIP/[0-9]+\.[0-9]+", re.IGNORECASE)
_BLANK_OR_NOTHING = ("", " ", "\t")  # first characters of lines that are not "name: value"
_PLAIN_CSEQ = re.compile(r"([1-9][0-9]{0,9}|0) ([A-Za-z0-9\-.!%*_+`'~]+)")

# Headers every message must carry for the proxy to process it (RFC 3261 §8.1.1,
# §16.3 step 1, §17.1.3), with the spelling used in error reasons.
_MANDATORY_HEADERS = {
    "via": "Via",
    "from": "From",
    "to": "To",
    "call-id": "Call-ID",
    "cseq": "CSeq",
}
# Headers that are not comma lists: a second line makes the message ambiguous
# (RFC 4475 multi01, mcl01).
_SINGLE_HEADERS = {
    "from": "From",
    "to": "To",
    "call-id": "Call-ID",
    "cseq": "CSeq",
    "max-forwards": "Max-Forwards",
    "content-length": "Content-Length",
}


class _Parts:
    """What has been read off a message's headers, kept with it: the lookup keys
    of the header names, searched with ``tuple.index``, and the CSeq and top Via,
    which transaction matching and response routing read on every hop. Filled by
    the parser, or on first use; a private cache, so the message stays frozen."""

    __slots__ = ("cseq", "keys", "via")

    def __init__(self, keys: tuple[str, ...]) -> None:
        self.keys = keys
        self.cseq: tuple[int, str] | None = None
        self.via: Via | None = None


class _HeaderAccess:
    """Case-insensitive header access shared by requests and responses."""

    __slots__ = ()
    headers: tuple[Header, ...]
    _parts: _Parts | None

    def _read(self) -> _Parts:
        parts = self._parts
        if parts is None:
            # One dict lookup per known name; header_key only for a name not seen yet.
            parts = _Parts(tuple([cached_header_key(name) or header_key(name)
                                  for name, _ in self.headers]))
            object.__setattr__(self, "_parts", parts)
        return parts

    def header(self, name: str) -> str | None:
        """Value of the first header line called ``name`` (compact forms match)."""
        keys = (self._parts or self._read()).keys
        key = cached_header_key(name) or header_key(name)
        if key in keys:
            return self.headers[keys.index(key)][1]
        return None

    def header_lines(self, name: str) -> list[str]:
        """Every header line called ``name``, unsplit, in message order."""
        key = cached_header_key(name) or header_key(name)
        keys = (self._parts or self._read()).keys
        if key not in keys:
            return []  # the common case for Route, Proxy-Require, Max-Breadth...
        return [header[1] for header, found in zip(self.headers, keys, strict=True) if found == key]

    def header_values(self, name: str) -> list[str]:
        """Every comma-separated value of ``name`` across all its lines (§7.3.1)."""
        values: list[str] = []
        for line in self.header_lines(name):
            values.extend(split_comma_values(line))
        return values

    def has_header(self, name: str) -> bool:
        """True when at least one ``name`` line is present."""
        return header_key(name) in self._read().keys

    @property
    def call_id(self) -> str:
        """The Call-ID value, "" when absent."""
        return self.header("call-id") or ""

    @property
    def cseq(self) -> tuple[int, str]:
        """(sequence number, method) of the CSeq header (§20.16), parsed (by the
        parser, or on first use): transaction matching reads it on every hop."""
        parts = self._parts or self._read()
        if parts.cseq is None:
            parts.cseq = parse_cseq(self.header("cseq") or "")
        return parts.cseq

    @property
    def max_forwards(self) -> int | None:
        """The Max-Forwards value (§20.22), None when absent."""
        value = self.header("max-forwards")
        return None if value is None else parse_max_forwards(value)

    @property
    def top_via(self) -> str:
        """The first Via value: the hop that sent this message (requests) or us."""
        line = self.header("via")
        if line is None:
            return ""
        if "," in line:
            values = split_comma_values(line)
            return values[0] if values else ""
        return line.strip()

    @property
    def via(self) -> Via:
        """The top Via, parsed (by the parser, or on first use). Raises
        :class:`SipParseError` when it is missing or malformed."""
        parts = self._parts or self._read()
        if parts.via is None:
            parts.via = parse_via(self.top_via)
        return parts.via


@dataclass(frozen=True, slots=True)
class Request(_HeaderAccess):
    """A SIP request (RFC 3261 §7.1)."""

    method: str
    uri: str
    headers: tuple[Header, ...]
    body: bytes = b""
    version: str = SIP_VERSION
    _parts: _Parts | None = field(default=None, init=False, repr=False, compare=False)

    def with_headers(self, headers: Iterable[Header]) -> Request:
        """A copy with another header tuple (method, URI and body unchanged)."""
        return Request(self.method, self.uri, tuple(headers), self.body, self.version)

    def with_uri(self, uri: str, headers: tuple[Header, ...] | None = None) -> Request:
        """A copy with another Request-URI (and, if given, other headers)."""
        return Request(self.method, uri, self.headers if headers is None else headers,
                       self.body, self.version)

    def serialize(self) -> bytes:
        """The wire form: start line, header lines as stored, CRLF, body."""
        return _serialize(f"{self.method} {self.uri} {self.version}", self.headers, self.body)

    def wire_size(self) -> int:
        """The length of :meth:`serialize` without building it: for a transport
        choice (RFC 3261 §18.1.1). A non-ASCII character of a header counts one
        byte where UTF-8 takes two to four."""
        start_line = len(self.method) + len(self.uri) + len(self.version) + 4  # 2 SP, CRLF
        lines = sum([len(name) + len(value) for name, value in self.headers])
        return start_line + lines + 4 * len(self.headers) + 2 + len(self.body)


@dataclass(frozen=True, slots=True)
class Response(_HeaderAccess):
    """A SIP response (RFC 3261 §7.2)."""

    status: int
    reason: str
    headers: tuple[Header, ...]
    body: bytes = b""
    version: str = SIP_VERSION
    _parts: _Parts | None = field(default=None, init=False, repr=False, compare=False)

    def with_headers(self, headers: Iterable[Header]) -> Response:
        """A copy with another header tuple (status, reason and body unchanged)."""
        return Response(self.status, self.reason, tuple(headers), self.body, self.version)

    def serialize(self) -> bytes:
        """The wire form: status line, header lines as stored, CRLF, body."""
        return _serialize(f"{self.version} {self.status} {self.reason}", self.headers, self.body)


Message = Request | Response


def _serialize(start_line: str, headers: tuple[Header, ...], body: bytes) -> bytes:
    lines = "".join([f"{name}: {value}\r\n" for name, value in headers])
    return f"{start_line}\r\n{lines}\r\n".encode("utf-8", "surrogateescape") + body


def _digits(text: str, max_digits: int) -> int | None:
    """The value of ``1*DIGIT`` text, or None when it is not that or has too many digits.

    ``str.isdigit`` alone would accept digits ``int`` refuses ("²"), and ``int`` of a
    huge digit string raises; neither may escape the parser.
    """
    if not (text.isascii() and text.isdigit()):
        return None
    significant = text.lstrip("0")
    if len(significant) > max_digits:
        return None
    return int(significant or "0")


def parse_cseq(value: str) -> tuple[int, str]:
    """Parse ``CSeq: 4711 INVITE`` (RFC 3261 §20.16; the number is below 2**31, §8.1.1.5)."""
    plain = _PLAIN_CSEQ.fullmatch(value)
    if plain is not None and int(plain[1]) < 2**31:
        return int(plain[1]), plain[2]
    parts = value.split()
    if len(parts) != 2 or not is_token(parts[1]):
        raise SipParseError(f"Malformed CSeq header: {value[:40]!r}")
    number = _digits(parts[0], 10)
    if number is None or number >= 2**31:
        raise SipParseError(f"CSeq number missing or out of range: {parts[0][:24]!r}")
    return number, parts[1]


def parse_max_forwards(value: str) -> int:
    """Parse a Max-Forwards value: an integer from 0 to 255 (RFC 3261 §8.1.1.6, §20.22)."""
    number = _digits(value, 3)
    if number is None or number > 255:
        raise SipParseError(f"Malformed Max-Forwards header: {value[:20]!r}")
    return number


def parse_message(data: bytes) -> Message:
    """Parse one complete SIP message (a datagram, or a frame cut from a stream).

    Raises :class:`SipParseError`. When the head could be read, the error carries
    ``headers`` and ``is_request`` so that the caller can still answer a request
    with the status in ``status_hint`` (RFC 3261 §16.3 step 1, §21.4.1).
    Bytes after Content-Length are dropped (§18.3, RFC 4475 dblreq); without a
    Content-Length the body runs to the end of ``data``.
    """
    if data[:1] in (b"\r", b"\n"):
        data = data.lstrip(b"\r\n")  # §7.5: CRLFs before the start line are ignored
    if not data:
        raise SipParseError("Empty message (a keep-alive?)")
    head_bytes, body = _split_head(data)
    head = head_bytes.decode("utf-8", "surrogateescape")
    lines = head.split("\r\n")
    if head.count("\n") >= len(lines):
        lines = head.replace("\r\n", "\n").split("\n")  # bare-LF line ends, tolerated
    start_line = lines[0]
    is_request = start_line[:4].upper() != "SIP/"
    headers: tuple[Header, ...] = ()
    try:
        headers, keys = _parse_header_lines(lines)
        message = _build(start_line, is_request, headers, keys, body)
        parts = _Parts(keys)
        object.__setattr__(message, "_parts", parts)
        _check(message, parts)
    except SipParseError as error:
        error.headers = error.headers or headers
        error.is_request = is_request
        error.method = start_line.partition(" ")[0] if is_request else ""
        raise
    return message


def _split_head(data: bytes) -> tuple[bytes, bytes]:
    """Cut at the empty line (CRLF CRLF; a bare LF LF is tolerated)."""
    end = data.find(b"\r\n\r\n")
    bare = data.find(b"\n\n", 0, len(data) if end < 0 else end)
    if bare >= 0:
        return data[:bare], data[bare + 2 :]
    if end >= 0:
        return data[:end], data[end + 4 :]
    return data, b""


def _parse_header_lines(lines: list[str]) -> tuple[tuple[Header, ...], tuple[str, ...]]:
    """Split header lines into (name, value) pairs and their lookup keys.

    A malformed line does not stop the reading: the error raised at the end
    carries every well-formed line, so that the request can still be answered.
    """
    headers: list[Header] = []
    keys: list[str] = []
    problem = ""
    for line in islice(lines, 1, None):
        name, colon, value = line.partition(":")
        if colon and name[:1] not in _BLANK_OR_NOTHING:
            name = name.rstrip(" \t")
            key = cached_header_key(name)
            if key is None:
                if not is_token(name):
                    problem = problem or f"Malformed header name: {name[:40]!r}"
                    continue
                key = header_key(name)
            keys.append(key)
            headers.append((name, value.strip(" \t")))
        elif line[:1] in (" ", "\t"):
            if headers:
                _fold(headers, line)
            else:
                problem = problem or "Header continuation line without a header"
        elif line:
            problem = problem or f"Malformed header line: {line[:60]!r}"
    if problem:
        error = SipParseError(problem)
        error.headers = tuple(headers)
        raise error
    return tuple(headers), tuple(keys)


def _fold(headers: list[Header], line: str) -> None:
    """Append a continuation line to the last header value (§7.3.1 line folding).

    The fold, with the whitespace around it, becomes a single space.
    """
    piece = line.strip(" \t")
    if piece:
        name, value = headers[-1]
        headers[-1] = (name, f"{value} {piece}" if value else piece)


def _build(
    start_line: str,
    is_request: bool,
    headers: tuple[Header, ...],
    keys: tuple[str, ...],
    body: bytes,
) -> Message:
    if not is_request:
        status, reason = _parse_status_line(start_line)
        return Response(status, reason, headers, _body(headers, keys, body))
    method, uri = _parse_request_line(start_line)
    return Request(method, uri, headers, _body(headers, keys, body))


def _parse_status_line(start_line: str) -> tuple[int, str]:
    """``SIP/2.0 SP Status-Code SP Reason-Phrase`` (§7.2). The reason may be empty."""
    version, _, rest = start_line.partition(" ")
    code, _, reason = rest.partition(" ")
    if (
        version.upper() != SIP_VERSION
        or len(code) != 3
        or code[0] not in "123456"
        or (not (code.isascii() and code.isdigit()))
    ):
        # RFC 4475 bigcode: codes above 699 are refused (the response is dropped).
        raise SipParseError(f"Malformed status line: {start_line[:60]!r}")
    return int(code), reason


def _parse_request_line(start_line: str) -> tuple[str, str]:
    """``Method SP Request-URI SP SIP-Version`` with single spaces (§7.1, §25.1).

    Extra or trailing spaces are refused (RFC 4475 lwsstart, trws, lwsruri).
    """
    parts = start_line.split(" ")
    if len(parts) != 3 or not parts[1]:
        raise SipParseError(f"Malformed request line: {start_line[:60]!r}")
    method, uri, version = parts
    if not is_token(method):
        raise SipParseError(f"Malformed method: {method[:30]!r}")
    if version != SIP_VERSION and version.upper() != SIP_VERSION:
        if _SIP_VERSION_SYNTAX.fullmatch(version):
            raise SipParseError(f"Unsupported SIP version {version[:20]!r}", status_hint=505)
        raise SipParseError(f"Malformed SIP version: {version[:20]!r}")
    _check_request_uri(uri)
    return method, uri


def _check_request_uri(uri: str) -> None:
    """The Request-URI must be an absolute URI (§25.1); SIP and TEL ones must parse.

    A URI of another scheme is well formed for the parser (RFC 4475 unkscm,
    novelsc): the core answers 416 when it has to interpret it.
    """
    scheme = uri_scheme(uri)
    if scheme is None:
        raise SipParseError(f"Malformed Request-URI: {uri[:60]!r}")  # RFC 4475 ltgtruri
    if scheme in ("sip", "sips", "tel"):
        check_sip_request_uri(uri)


def _body(headers: tuple[Header, ...], keys: tuple[str, ...], body: bytes) -> bytes:
    """Trim the body to Content-Length (RFC 3261 §18.3)."""
    if "content-length" not in keys:
        return body
    value = headers[keys.index("content-length")][1]
    length = _digits(value, 10)
    if length is None:
        raise SipParseError(f"Malformed Content-Length: {value[:20]!r}")  # RFC 4475 ncl
    if length > len(body):
        raise SipParseError("Content-Length larger than the message body")  # RFC 4475 clerr
    return body[:length] if length < len(body) else body


def _check(message: Message, parts: _Parts) -> None:
    """Reject what the proxy cannot process even though it parses (§16.3 step 1);
    keep the CSeq and a request's top Via in ``parts``, read once here."""
    keys = parts.keys
    for key, spelling in _MANDATORY_HEADERS.items():
        if key not in keys:
            raise SipParseError(f"Missing {spelling} header")  # RFC 4475 insuf
    for key, spelling in _SINGLE_HEADERS.items():
        if keys.count(key) > 1:
            raise SipParseError(f"More than one {spelling} header")
    headers = message.headers
    if isinstance(message, Request):
        # Transaction matching and response routing read it (§17.2.3, §18.2.2).
        parts.via = parse_via(message.top_via)
    else:
        check_via(message.top_via)  # a response is matched by its branch alone (§17.1.3)
    cseq = parts.cseq = parse_cseq(headers[keys.index("cseq")][1])
    check_name_addr(headers[keys.index("from")][1])  # tags identify transactions, dialogs
    check_name_addr(headers[keys.index("to")][1])
    if isinstance(message, Request):
        if cseq[1] != message.method:
            raise SipParseError("CSeq method does not match the request method")
        if "max-forwards" in keys:
            parse_max_forwards(headers[keys.index("max-forwards")][1])


# ---------------------------------------------------------------------------
# Header edits used by the proxy. They return new tuples; messages stay frozen.


def prepend_header(headers: tuple[Header, ...], name: str, value: str) -> tuple[Header, ...]:
    """Add a header line before every other line (a new Via, a Record-Route)."""
    return ((name, value), *headers)


def insert_header_before(
    headers: tuple[Header, ...], before: str, name: str, value: str
) -> tuple[Header, ...]:
    """Add a header line just before the first ``before`` line, else at the end."""
    key = header_key(before)
    for index, (header_name, _) in enumerate(headers):
        if header_key(header_name) == key:
            return (*headers[:index], (name, value), *headers[index:])
    return (*headers, (name, value))


def drop_first_value(headers: tuple[Header, ...], name: str) -> tuple[Header, ...]:
    """Remove the first value of ``name`` (a top Via, a top Route), keeping the rest."""
    key = header_key(name)
    for index, (header_name, value) in enumerate(headers):
        if header_key(header_name) != key:
            continue
        rest = split_comma_values(value)[1:] if "," in value else []
        if rest:
            return (*headers[:index], (header_name, ", ".join(rest)), *headers[index + 1 :])
        return (*headers[:index], *headers[index + 1 :])
    return headers


def replace_first_value(headers: tuple[Header, ...], name: str, value: str) -> tuple[Header, ...]:
    """Replace the first value of ``name`` (the top Via), keeping the other values."""
    key = header_key(name)
    for index, (header_name, line) in enumerate(headers):
        if header_key(header_name) != key:
            continue
        rest = split_comma_values(line)[1:] if "," in line else []
        return (*headers[:index], (header_name, ", ".join([value, *rest])), *headers[index + 1 :])
    return headers


def set_header(headers: tuple[Header, ...], name: str, value: str) -> tuple[Header, ...]:
    """Replace the first ``name`` line (dropping any others), or append it."""
    key = header_key(name)
    result: list[Header] = []
    placed = False
    for header_name, old_value in headers:
        if header_key(header_name) == key:
            if not placed:
                result.append((header_name, value))
                placed = True
            continue
        result.append((header_name, old_value))
    if not placed:
        result.append((name, value))
    return tuple(result)


def set_header_lines(
    headers: tuple[Header, ...], name: str, values: Iterable[str]
) -> tuple[Header, ...]:
    """Replace every ``name`` line with one line per value, where the first was
    (else at the end): for peers that read a header list line by line."""
    key = header_key(name)
    new = tuple((name, value) for value in values)
    at = next((i for i, (n, _) in enumerate(headers) if header_key(n) == key), len(headers))
    kept = tuple(header for header in headers if header_key(header[0]) != key)
    before = sum(1 for header in headers[:at] if header_key(header[0]) != key)
    return (*kept[:before], *new, *kept[before:])


def remove_header(headers: tuple[Header, ...], name: str) -> tuple[Header, ...]:
    key = header_key(name)
    return tuple(header for header in headers if header_key(header[0]) != key)


def make_response(
    request: _HeaderAccess,
    status: int,
    reason: str,
    *,
    to_tag: str | None = None,
    extra: Iterable[Header] = (),
) -> Response:
    """Build a response to ``request`` (RFC 3261 §8.2.6.2).

    Every Via is copied; so are the first From, Call-ID and CSeq (a request that
    repeats them was refused for it and must not get a repeating answer). To gets
    ``to_tag`` when it has none yet and the response is not a 100 (§16.2).
    Record-Route is not copied: the one response of ours that establishes a
    dialog (a SUBSCRIBE's 200) gets, in ``extra``, the route set its service
    adopted, which need not be the request's whole Record-Route.
    """
    copied: list[Header] = []
    seen: set[str] = set()
    for name, value in request.headers:
        key = header_key(name)
        if key == "via":
            copied.append((name, value))
        elif key in ("from", "call-id", "cseq", "to") and key not in seen:
            seen.add(key)
            if key == "to" and to_tag and status > 100 and not has_tag(value):
                value = f"{value};tag={to_tag}"
            copied.append((name, value))
    copied.extend(extra)
    copied.append(("Content-Length", "0"))
    return Response(status, reason, tuple(copied))


def error_response_for(headers: tuple[Header, ...], status: int, reason: str) -> Response | None:
    """A response built from the headers of a request that failed to parse.

    Returns None without a Via: there is nowhere to send a response, so such a
    request can only be dropped. A missing Call-ID is no obstacle: the sender
    matches the response by its Via branch and CSeq (§17.1.3).
    """
    stub = _HeaderStub(headers)
    if stub.header("via") is None:
        return None
    return make_response(stub, status, reason, to_tag="vp-err")


class _HeaderStub(_HeaderAccess):
    __slots__ = ("_parts", "headers")

    def __init__(self, headers: tuple[Header, ...]) -> None:
        self.headers = headers
        self._parts = None


__all__ = [
    "SIP_VERSION",
    "Header",
    "Message",
    "Request",
    "Response",
    "drop_first_value",
    "error_response_for",
    "insert_header_before",
    "make_response",
    "parse_cseq",
    "parse_max_forwards",
    "parse_message",
    "prepend_header",
    "remove_header",
    "replace_first_value",
    "set_header",
]
