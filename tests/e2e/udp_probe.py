"""Hand-written SIP requests over a plain UDP socket, for what SIPp cannot send.

SIPp builds well-formed messages; a malformed request or an exhausted
Max-Forwards is easier to write by hand and send from a socket of our own.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

from .loopback import Endpoint
from .sip_trace import TracedMessage


def request_text(
    method: str,
    target: Endpoint,
    source: Endpoint,
    *,
    user: str = "2000",
    branch: str = "z9hG4bK-e2e-probe",
    headers: dict[str, str] | None = None,
    uri: str | None = None,
) -> str:
    """A minimal valid request; ``headers`` replaces header values, ``""`` drops one.

    The Request-URI is ``sip:USER@TARGET`` unless ``uri`` names another one
    (a REGISTER's ``sip:DOMAIN``)."""
    fields = {
        "Via": f"SIP/2.0/UDP {source};branch={branch};rport",
        "From": f"<sip:probe@{source.host}>;tag=probe-tag",
        "To": f"<sip:{user}@{target.host}>",
        "Call-ID": f"{branch}@{source.host}",
        "CSeq": f"1 {method}",
        "Max-Forwards": "70",
        "Content-Length": "0",
    }
    fields.update(headers or {})
    lines = [f"{method} {uri or f'sip:{user}@{target}'} SIP/2.0"]
    lines += [f"{name}: {value}" for name, value in fields.items() if value != ""]
    return "\r\n".join(lines) + "\r\n\r\n"


def response_text(
    request: TracedMessage, status: int, reason: str, *, to_tag: str, contact: str = ""
) -> str:
    """A UAS's response to ``request`` (RFC 3261 §8.2.6.2): its Via lines, Record-Route
    (§12.1.1), From, Call-ID and CSeq; its To with ``to_tag`` unless it has a tag."""
    to = request.header("To")
    if ";tag=" not in to:
        to += f";tag={to_tag}"
    lines = [f"SIP/2.0 {status} {reason}"]
    lines += [f"Via: {value}" for value in request.header_lines("Via")]
    lines += [f"Record-Route: {value}" for value in request.header_lines("Record-Route")]
    lines += [f"From: {request.header('From')}", f"To: {to}"]
    lines += [f"Call-ID: {request.header('Call-ID')}", f"CSeq: {request.header('CSeq')}"]
    if contact:
        lines.append(f"Contact: {contact}")
    lines.append("Content-Length: 0")
    return "\r\n".join(lines) + "\r\n\r\n"


class UdpProbe:
    """A UDP socket on its own loopback endpoint that sends requests and reads answers."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind((endpoint.host, endpoint.port))

    def send(self, text: str, destination: Endpoint) -> None:
        """Send one datagram."""
        self._socket.sendto(text.encode(), (destination.host, destination.port))

    def receive(self, timeout: float) -> TracedMessage | None:
        """The next datagram as a message, or None if none arrives in ``timeout`` seconds."""
        self._socket.settimeout(timeout)
        try:
            data = self._socket.recv(65535)
        except TimeoutError:
            return None
        return TracedMessage("received", "UDP", data.decode(errors="replace"))

    def final_response(self, timeout: float) -> TracedMessage | None:
        """Skip provisional responses; the first final response within ``timeout``."""
        return self.first(lambda message: not message.is_request and message.status >= 200,
                          timeout)

    def next_request(self, method: str, timeout: float) -> TracedMessage | None:
        """The first ``method`` request within ``timeout``, skipping anything else."""
        return self.first(lambda message: message.is_request and message.method == method,
                          timeout)

    def first(
        self, wanted: Callable[[TracedMessage], bool], timeout: float
    ) -> TracedMessage | None:
        """The first datagram within ``timeout`` that is ``wanted``; others are skipped."""
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            message = self.receive(remaining)
            if message is None:
                return None
            if wanted(message):
                return message
        return None

    def close(self) -> None:
        """Release the socket."""
        self._socket.close()
