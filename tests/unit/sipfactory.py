"""Tiny builders of SIP test messages, parsed from bytes with the real parser.

Reusable by any unit test: ``request("INVITE")``, ``response(req, 180)``.
Defaults describe one call from alice to bob over UDP on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from proxy.sip.errors import SipParseError
from proxy.sip.message import Request, Response, parse_message

REASONS = {
    100: "Trying",
    180: "Ringing",
    183: "Session Progress",
    200: "OK",
    202: "Accepted",
    302: "Moved Temporarily",
    404: "Not Found",
    408: "Request Timeout",
    486: "Busy Here",
    487: "Request Terminated",
    500: "Server Internal Error",
    503: "Service Unavailable",
    603: "Decline",
}


def request(
    method: str = "INVITE",
    *,
    uri: str = "sip:bob@127.0.0.1",
    branch: str | None = "z9hG4bK-test-1",
    via_host: str = "127.0.0.1",
    via_port: int | None = 5070,
    transport: str = "UDP",
    call_id: str = "call-1@127.0.0.1",
    cseq: int = 1,
    cseq_method: str | None = None,
    from_tag: str | None = "alice-tag",
    to_tag: str | None = None,
    extra: Iterable[tuple[str, str]] = (),
) -> Request:
    """A request as a UA would send it; ``extra`` headers go after the mandatory ones."""
    sent_by = via_host if via_port is None else f"{via_host}:{via_port}"
    via = f"SIP/2.0/{transport} {sent_by}" + (f";branch={branch}" if branch is not None else "")
    lines = [
        f"{method} {uri} SIP/2.0",
        f"Via: {via}",
        "Max-Forwards: 70",
        "From: Alice <sip:alice@127.0.0.1>" + (f";tag={from_tag}" if from_tag else ""),
        "To: Bob <sip:bob@127.0.0.1>" + (f";tag={to_tag}" if to_tag else ""),
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} {cseq_method or method}",
        *(f"{name}: {value}" for name, value in extra),
        "Content-Length: 0",
    ]
    parsed = parse_message(("\r\n".join(lines) + "\r\n\r\n").encode())
    assert isinstance(parsed, Request)
    return parsed


def response(
    to: Request,
    status: int,
    *,
    to_tag: str | None = "bob-tag",
    extra: Iterable[tuple[str, str]] = (),
) -> Response:
    """A response to ``to``: its Via lines, From, To (plus ``to_tag`` unless 100), Call-ID, CSeq."""
    to_value = to.header("to") or ""
    if to_tag and status != 100 and ";tag=" not in to_value:
        to_value += f";tag={to_tag}"
    lines = [
        f"SIP/2.0 {status} {REASONS.get(status, 'Whatever')}",
        *(f"Via: {value}" for value in to.header_lines("via")),
        f"From: {to.header('from')}",
        f"To: {to_value}",
        f"Call-ID: {to.call_id}",
        f"CSeq: {to.header('cseq')}",
        *(f"{name}: {value}" for name, value in extra),
        "Content-Length: 0",
    ]
    parsed = parse_message(("\r\n".join(lines) + "\r\n\r\n").encode())
    assert isinstance(parsed, Response)
    return parsed


def parse_request(data: bytes) -> Request:
    """Parse bytes that must be a request."""
    message = parse_message(data)
    assert isinstance(message, Request)
    return message


def parse_response(data: bytes) -> Response:
    """Parse bytes that must be a response."""
    message = parse_message(data)
    assert isinstance(message, Response)
    return message


def refused(data: bytes) -> SipParseError:
    """The error the parser raises for ``data``; it must give a reason."""
    with pytest.raises(SipParseError) as caught:
        parse_message(data)
    assert caught.value.reason
    return caught.value
