"""Errors raised while reading SIP messages.

Every error says whose fault it is and what to answer (ARCHITECTURE principle 6):
``status_hint`` is the status to send back when the message is a request the proxy
can still answer, and ``reason`` is a phrase a person can act on.
"""

from __future__ import annotations


class SipParseError(ValueError):
    """The bytes are not a SIP message we can accept.

    When :func:`proxy.sip.message.parse_message` could read the head before it
    gave up, ``headers`` holds the header lines it read, ``is_request`` says
    whether the start line looked like a request and ``method`` is its first
    word, so that the caller can still answer with
    :func:`proxy.sip.message.error_response_for` (RFC 3261 §16.3 step 1).
    Otherwise ``headers`` is empty, ``is_request`` False and ``method`` "".
    """

    def __init__(self, reason: str, status_hint: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status_hint = status_hint
        self.headers: tuple[tuple[str, str], ...] = ()
        self.is_request = False
        self.method = ""
        # Stream framing only: the complete head of the message that could not be
        # framed, so that it can still be answered before the connection closes.
        self.head: bytes | None = None


class MessageTooLarge(SipParseError):
    """The message exceeds the configured size limit (RFC 3261 §18.1.1 / §21.5.14)."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"Message too large ({size} bytes, limit {limit})", status_hint=513)
