"""TCP stream framing by Content-Length (RFC 3261 §18.3).

After a :class:`SipParseError` the stream cannot be trusted to resynchronise;
the transport must close the connection.
"""

from __future__ import annotations

import re

from proxy.sip.errors import MessageTooLarge, SipParseError

_CONTENT_LENGTH = re.compile(rb"^(?:content-length|l)[ \t]*:[ \t]*([^\r\n]*)", re.I | re.M)


class StreamFramer:
    """Cuts complete messages out of a byte stream; CRLF keep-alives are skipped."""

    def __init__(self, max_message_size: int = 65536) -> None:
        self._buffer = bytearray()
        self._max = max_message_size
        self.pings = 0  # RFC 5626 §3.5.1 double-CRLF pings seen (the transport may pong)

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        messages: list[bytes] = []
        while True:
            self._skip_keepalives()
            head_end = self._buffer.find(b"\r\n\r\n")
            if head_end < 0:
                if len(self._buffer) > self._max:
                    raise MessageTooLarge(len(self._buffer), self._max)
                return messages
            match = _CONTENT_LENGTH.search(bytes(self._buffer[:head_end]))
            if match is None:
                raise SipParseError("Missing Content-Length on a stream transport")
            value = match.group(1).strip()
            if not value.isdigit():
                raise SipParseError(f"Malformed Content-Length: {value[:20]!r}")
            total = head_end + 4 + int(value)
            if total > self._max:
                raise MessageTooLarge(total, self._max)
            if len(self._buffer) < total:
                return messages
            messages.append(bytes(self._buffer[:total]))
            del self._buffer[:total]

    def _skip_keepalives(self) -> None:
        start = 0
        while self._buffer.startswith(b"\r\n", start):
            start += 2
        if start:
            self.pings += start // 4
            del self._buffer[:start]
