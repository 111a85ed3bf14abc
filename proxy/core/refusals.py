"""Answers to messages the parser refused (RFC 3261 §16.3 step 1, §21.5.14)."""

from __future__ import annotations

from proxy.core.received import stamp_via
from proxy.sip.errors import MessageTooLarge, SipParseError
from proxy.sip.hop import Hop, response_hop
from proxy.sip.message import Request, Response, error_response_for, parse_message
from proxy.sip.via import parse_via


def oversized_error(data: bytes, limit: int) -> MessageTooLarge:
    """The 513 error for a message over ``limit`` bytes, carrying the request's
    headers when it can be read at all, so that it can be answered."""
    error = MessageTooLarge(len(data), limit)
    try:
        message = parse_message(data)
    except SipParseError:
        return error
    if isinstance(message, Request):
        error.headers, error.is_request, error.method = message.headers, True, message.method
    return error


def answer_for_unparsable(error: SipParseError, source: Hop) -> tuple[Response, Hop] | None:
    """The response to a refused request and where it goes, or None when it cannot
    be answered (a response, an ACK, or no Via to answer along)."""
    if not error.is_request or error.method == "ACK":
        # RFC 3261 §17: an ACK is never answered, however broken; it is dropped.
        return None
    response = error_response_for(error.headers, error.status_hint, error.reason)
    if response is None:
        return None
    try:
        destination = response_hop(stamp_via(parse_via(response.top_via), source)[1], source)
    except SipParseError:
        # The Via itself is what is broken: the sender is the only sensible target.
        destination = source
    return response, destination
