"""Send raw, possibly broken, SIP messages to the proxy and collect what comes back.

The RFC 4475 messages name hosts such as ``192.0.2.15`` or ``host5.example.com``
in their Via, and one (mpart01) a Route to ``127.0.0.1:5080``. Sent as they are,
the proxy's answers would go to the Via's sent-by port (RFC 3261 §18.2.2) and a
forwarded request to a port nobody here owns. :func:`keep_on_loopback` rewrites
only those addresses: the top Via's sent-by becomes the probe socket's own
address, and every IPv4 literal in the start line and in Route headers becomes
the test's callee. Everything else in the message stays as the RFC wrote it,
host names included: the proxy does no DNS (RFC 3263) and must say so.

:class:`Callee` is a minimal UAS on a loopback address: it answers every
request but ACK (486 to an INVITE, 200 to anything else) and remembers the
Call-IDs it saw, so a test can tell which messages were really forwarded.
"""

from __future__ import annotations

import ipaddress
import re
import selectors
import socket
import threading
import time
from dataclasses import dataclass, field

from .loopback import Endpoint
from .sip_trace import TracedMessage

# The top Via's sent-by, however the RFC folds it: "Via  : SIP  /   2.0\r\n /UDP\r\n
# 192.0.2.2;branch=..." (wsinv), compact "v:", any protocol version (badvers).
_TOP_VIA = re.compile(
    rb"^(?:via|v)[ \t]*:\s*[!-~]+?\s*/\s*[^/\s]+\s*/\s*[^/\s]+\s+(?P<sent_by>[^;,\s]+)",
    re.IGNORECASE | re.MULTILINE,
)
_ROUTE_LINE = re.compile(rb"^route[ \t]*:.*(?:\r\n[ \t].*)*", re.IGNORECASE | re.MULTILINE)
_IPV4 = re.compile(rb"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?(?![\w.])")
_HEAD_END = b"\r\n\r\n"
_LOOPBACK = ipaddress.ip_network("127.0.0.0/8")


def keep_on_loopback(message: bytes, sender: Endpoint, callee: Endpoint) -> bytes:
    """``message`` with its top Via naming ``sender`` and its Request-URI and Route
    IPv4 addresses naming ``callee``, so that nothing the proxy sends leaves
    127.0.0.0/8. Only the head is touched; the body (and its length) stays."""
    head, separator, body = message.partition(_HEAD_END)
    start_line, line_end, rest = head.partition(b"\r\n")
    target = f"{callee.host}:{callee.port}".encode()
    start_line = _IPV4.sub(target, start_line)
    rest = _ROUTE_LINE.sub(lambda route: _IPV4.sub(target, route[0]), rest)
    rest = _TOP_VIA.sub(
        lambda via: via[0][: via.start("sent_by") - via.start()] + str(sender).encode(), rest,
        count=1,
    )
    return start_line + line_end + rest + separator + body


def addresses_leaving_loopback(message: bytes) -> list[str]:
    """IPv4 literals outside 127.0.0.0/8 the proxy could send to: in the start line,
    in Route headers, or as the top Via's sent-by (empty once rewritten)."""
    head = message.partition(_HEAD_END)[0]
    start_line, _, rest = head.partition(b"\r\n")
    candidates = _IPV4.findall(start_line)
    for route in _ROUTE_LINE.finditer(rest):
        candidates += _IPV4.findall(route[0])
    via = _TOP_VIA.search(rest)
    if via is not None and _IPV4.fullmatch(via["sent_by"]):
        candidates.append(via["sent_by"])
    found = []
    for candidate in candidates:
        host = candidate.decode().split(":")[0]
        if ipaddress.ip_address(host) not in _LOOPBACK:
            found.append(candidate.decode())
    return found


@dataclass
class Exchange:
    """One message sent from a socket of its own, and everything that came back to it."""

    name: str
    sent: bytes
    answers: list[TracedMessage] = field(default_factory=list)
    closed: bool = False  # TCP: the proxy closed the connection

    def has_final(self) -> bool:
        """Whether a final (non-1xx) response has come back."""
        return any(not a.is_request and a.status >= 200 for a in self.answers)


def exchange_all(
    messages: dict[str, bytes],
    transport: str,
    proxy: Endpoint,
    probe_host: str,
    callee: Endpoint,
    *,
    expect_final: set[str],
    timeout: float,
    linger: float = 0.5,
) -> dict[str, Exchange]:
    """Send every message from its own socket on ``probe_host`` (a UDP socket, or
    a TCP connection) at once; collect answers until each name in ``expect_final``
    has a final response and ``linger`` more seconds passed, or ``timeout`` ran out.
    """
    selector = selectors.DefaultSelector()
    exchanges: dict[str, Exchange] = {}
    buffers: dict[str, bytes] = {}
    sockets: list[socket.socket] = []
    try:
        for name, message in messages.items():
            kind = socket.SOCK_DGRAM if transport == "udp" else socket.SOCK_STREAM
            sock = socket.socket(socket.AF_INET, kind)
            sockets.append(sock)
            sock.bind((probe_host, 0))
            sender = Endpoint(probe_host, sock.getsockname()[1])
            data = keep_on_loopback(message, sender, callee)
            leaks = addresses_leaving_loopback(data)
            assert not leaks, f"{name}: would make the proxy send to {leaks}"
            exchanges[name] = Exchange(name, data)
            buffers[name] = b""
            if transport == "udp":
                sock.sendto(data, (proxy.host, proxy.port))
            else:
                sock.settimeout(5.0)
                sock.connect((proxy.host, proxy.port))
                sock.sendall(data)
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ, name)
        deadline = time.monotonic() + timeout
        settled: float | None = None
        while (now := time.monotonic()) < deadline and (settled is None or now < settled):
            if settled is None and all(exchanges[n].has_final() for n in expect_final):
                settled = now + linger
            for key, _ in selector.select(min(0.1, deadline - now)):
                name = key.data
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                exchange = exchanges[name]
                try:
                    data = sock.recv(65535)
                except ConnectionError:
                    data = b""
                if transport == "udp":
                    exchange.answers.append(_traced(data, "UDP"))
                    continue
                if not data:
                    exchange.closed = True
                    selector.unregister(sock)
                    continue
                messages_in, buffers[name] = split_stream(buffers[name] + data)
                exchange.answers += [_traced(item, "TCP") for item in messages_in]
        return exchanges
    finally:
        selector.close()
        for sock in sockets:
            sock.close()


def split_stream(buffer: bytes) -> tuple[list[bytes], bytes]:
    """Whole messages framed by Content-Length at the front of ``buffer`` (§18.3),
    and what is left; CRLF keep-alive pongs are skipped."""
    found = []
    while True:
        buffer = buffer.lstrip(b"\r\n")
        head, separator, rest = buffer.partition(_HEAD_END)
        if not separator:
            return found, buffer
        length = re.search(rb"^(?:content-length|l)[ \t]*:[ \t]*(\d+)", head,
                           re.IGNORECASE | re.MULTILINE)
        size = int(length[1]) if length else 0
        if len(rest) < size:
            return found, buffer
        found.append(head + separator + rest[:size])
        buffer = rest[size:]


def _traced(data: bytes, transport: str) -> TracedMessage:
    return TracedMessage("received", transport, data.decode(errors="replace"))


class Callee:
    """A UAS on ``endpoint`` that answers each request it receives over UDP."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.received: list[TracedMessage] = []
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind((endpoint.host, endpoint.port))
        self._socket.settimeout(0.1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="torture-callee", daemon=True)
        self._thread.start()

    def call_ids(self) -> set[str]:
        """Call-IDs of every request received so far."""
        return {message.header("Call-ID") for message in list(self.received)}

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, source = self._socket.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            request = _traced(data, "UDP")
            if not request.is_request:
                continue
            self.received.append(request)
            if request.method != "ACK":
                self._socket.sendto(answer(request), source)

    def close(self) -> None:
        """Stop answering and release the socket."""
        self._stop.set()
        self._thread.join(timeout=2.0)
        self._socket.close()


def answer(request: TracedMessage) -> bytes:
    """§8.2.6: the callee's response, with the request's Vias, From, To (tagged),
    Call-ID and CSeq: 486 to an INVITE (no dialog to tear down), 200 to others."""
    status = "486 Busy Here" if request.method == "INVITE" else "200 OK"
    to = request.header("To")
    if ";tag=" not in to.replace(" ", ""):
        to += ";tag=callee"
    lines = [f"SIP/2.0 {status}"]
    lines += [f"Via: {via}" for via in request.header_lines("Via")]
    lines += [
        f"From: {request.header('From')}",
        f"To: {to}",
        f"Call-ID: {request.header('Call-ID')}",
        f"CSeq: {request.header('CSeq')}",
        "Content-Length: 0",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()
