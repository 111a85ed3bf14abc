"""Cutting SIP messages out of a TCP byte stream (RFC 3261 §18.3, RFC 5626 §3.5.1).

On a stream, Content-Length is mandatory and is the only way to find where a
message ends: the head ends at the first CRLF CRLF, the body is Content-Length
bytes after it. Between messages a peer may send CRLFs: RFC 3261 §7.5 says to
ignore them, and RFC 5626 §3.5.1 gives "CRLF CRLF" the meaning of a keep-alive
ping that the server answers with a single CRLF pong.
"""

from __future__ import annotations

import re

from proxy.defaults import MAX_MESSAGE_SIZE
from proxy.sip.errors import MessageTooLarge, SipParseError

_PING = b"\r\n\r\n"
_LINE_BREAKS = re.compile(rb"[\r\n]+")
_PINGS = re.compile(rb"(?:\r\n\r\n)+")
# Content-Length lines, by full or compact name (§7.3.3), any case, whitespace
# before the colon (HCOLON) and an optional fold before the value (§7.3.1).
_CONTENT_LENGTH = re.compile(
    rb"\r\n(?:content-length|l)[ \t]*:[ \t]*(?:\r\n[ \t]+)?([^\r\n]*)", re.IGNORECASE
)


class StreamFramer:
    """Turns the bytes of one TCP connection into complete SIP messages.

    ``feed`` returns the messages completed by each read, in order, as bytes ready
    for :func:`proxy.sip.message.parse_message`; partial data waits in a buffer.
    Keep-alive pings seen between messages are counted: after each ``feed`` the
    transport calls :meth:`take_pings` and writes one ``b"\\r\\n"`` pong per ping.

    ``feed`` raises :class:`SipParseError` (:class:`MessageTooLarge` for size
    problems) when the stream cannot be framed: a head longer than
    ``max_message_size`` without its empty line, a missing or malformed
    Content-Length, or head and body together over the limit. The stream cannot
    be resynchronised after that, so the transport must close the connection and
    drop the framer (RFC 3261 §18.3, RFC 4475 ncl).
    """

    def __init__(self, max_message_size: int = MAX_MESSAGE_SIZE) -> None:
        self.max_message_size = max_message_size
        self._buffer = bytearray()
        self._scan_from = 0  # where to resume looking for the end of the head
        self._frame_length = 0  # length of the message being received, once known
        self._pings = 0

    def feed(self, data: bytes) -> list[bytes]:
        """Add the bytes of one read; return the messages they complete."""
        buffer = self._buffer
        buffer += data
        messages: list[bytes] = []
        while buffer:
            if not self._frame_length:
                if buffer[0] in b"\r\n" and not self._skip_line_breaks():
                    break
                if not self._find_frame_length():
                    break
            if len(buffer) < self._frame_length:
                break
            messages.append(bytes(buffer[: self._frame_length]))
            del buffer[: self._frame_length]
            self._frame_length = 0
        return messages

    def take_pings(self) -> int:
        """How many CRLF CRLF pings arrived since the last call (each wants a CRLF pong)."""
        pings, self._pings = self._pings, 0
        return pings

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as a message."""
        return len(self._buffer)

    def _skip_line_breaks(self) -> bool:
        """Drop the line breaks before a start line, counting the pings among them.

        Returns False when the buffer held nothing else; a tail that may be the
        first half of a ping still in flight is kept for the next read.
        """
        buffer = self._buffer
        match = _LINE_BREAKS.match(buffer)
        assert match is not None  # the caller saw a line break first
        run = match.end()
        after_pings = 0
        for pings in _PINGS.finditer(buffer, 0, run):
            self._pings += (pings.end() - pings.start()) // len(_PING)
            after_pings = pings.end()
        self._scan_from = 0
        if run < len(buffer):
            del buffer[:run]
            return True
        tail = bytes(buffer[after_pings:run])
        keep = next(size for size in (3, 2, 1, 0) if tail.endswith(_PING[:size]))
        del buffer[: run - keep]
        return False

    def _find_frame_length(self) -> bool:
        """Locate the head and read Content-Length; False while the head is incomplete."""
        buffer = self._buffer
        limit = self.max_message_size
        head_end = buffer.find(b"\r\n\r\n", self._scan_from)
        if head_end < 0:
            if len(buffer) > limit:
                raise MessageTooLarge(len(buffer), limit)
            self._scan_from = max(0, len(buffer) - 3)
            return False
        self._scan_from = 0
        try:
            length = head_end + 4 + _content_length(buffer, head_end)
        except SipParseError as error:
            error.head = bytes(buffer[: head_end + 4])
            raise
        if length > limit:
            raise MessageTooLarge(length, limit)
        self._frame_length = length
        return True


def _content_length(buffer: bytearray, head_end: int) -> int:
    """The Content-Length of the head ending at ``head_end``; mandatory on streams (§18.3)."""
    values = {bytes(value.strip()) for value in _CONTENT_LENGTH.findall(buffer, 0, head_end)}
    if not values:
        raise SipParseError("Missing Content-Length on a stream transport")
    if len(values) > 1:
        raise SipParseError("Conflicting Content-Length headers")
    value = values.pop()
    if not (value.isdigit() and len(value) <= 10):
        raise SipParseError(f"Malformed Content-Length: {value[:20]!r}")
    return int(value)
