"""The RFC 4475 torture messages sent to the real proxy over UDP and over TCP.

Every message of ``tests/torture_messages.py`` goes from a socket of its own on
a loopback address (a trusted peer, so the policy really routes) to a running
vipproxy whose only route sends user ``user`` to a loopback callee. Whatever the
proxy answers within a bounded time is collected, then judged:

- no answer is a 500, nor a 5xx other than a 503 that says why, nor a 513 (every
  message is far below the size limit): a torture message is the sender's
  problem, never the server's (RFC 3261 §21.5, RFC 4475 §1);
- every answer has a reason phrase (the proxy's own answers explain themselves);
- a malformed request gets a 4xx (RFC 4475 §3.1.2, RFC 3261 §16.3 step 1), over
  TCP too: a stream that cannot be framed is answered, then closed (RFC 4475
  §3.1.2.3 ncl: "respond with an error" and close). Except badvers, whose answer
  RFC 4475 §3.1.2.16 names as 505 Version Not Supported (RFC 3261 §21.5.6), and
  clerr over TCP, where a Content-Length beyond the data means "wait for more";
- a response is never answered (RFC 3261 §16.7; stray ones are dropped);
- a request whose next hop is a host name (a Route such as wsinv's, or a
  Request-URI whose user has no line and no route) gets a 4xx or a 503 whose
  reason says why: the proxy does no DNS (RFC 3263);
- the requests for ``user`` reach the callee and its answer comes back;
- the proxy still answers an OPTIONS afterwards.

All violations of one run are reported together, with the proxy's log attached.
"""

from __future__ import annotations

import re
import socket

import pytest
from torture_messages import MALFORMED, MESSAGES

from .conftest import StartProxy
from .loopback import Endpoint, LoopbackAllocator
from .sip_trace import TracedMessage
from .torture_probe import Callee, Exchange, exchange_all

pytestmark = pytest.mark.e2e

_ANSWER_WITHIN = 6.0  # seconds for every request to get its final response

# Responses among the torture messages: the proxy matches them to no transaction.
_RESPONSES = frozenset({"unreason", "noreason", "scalarlg", "bigcode"})
# Well-formed requests for ``user`` that the proxy forwards to the callee (mpart01:
# its Route, rewritten to the callee by keep_on_loopback).
_ROUTED = frozenset({"lwsdisp", "longreq", "transports", "mpart01", "badbranch", "regbadct",
                     "baddate"})
# Well-formed requests refused before routing: RFC 3261 §16.3 steps 1 and 3.
_REFUSED_BEFORE_ROUTING = {"zeromf": 483, "unkscm": 416, "novelsc": 416}
# The rest of the well-formed requests: the next hop is a host name.
_HOST_NAME_NEXT_HOP = (
    frozenset(MESSAGES) - MALFORMED - _RESPONSES - _ROUTED - set(_REFUSED_BEFORE_ROUTING)
)
# A reason that explains a host-name next hop mentions DNS, a route, or the address.
_EXPLAINS_HOST_NAME = re.compile(r"DNS|route|IP address", re.IGNORECASE)
# RFC 4475 §3.1.2.16: "respond with a 505 Version Not Supported error".
_STATUS_FOR_MALFORMED = {"badvers": 505}
# RFC 4475 §3.1.2.2 clerr over a stream: more data may yet come, no answer is due.
_NO_ANSWER_DUE = {"tcp": frozenset({"clerr"}), "udp": frozenset()}


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_torture_messages_never_get_a_server_error(
    transport: str, vipproxy: StartProxy, loopback: LoopbackAllocator
) -> None:
    callee = Callee(loopback.endpoint())
    try:
        proxy = vipproxy(
            {"user": {"stages": [{"targets": [f"sip:callee@{callee.endpoint}"],
                                  "timeout": "5s"}]}},
            directory={"trusted_peers": ["127.0.0.0/8"]},
        )
        expect_final = set(MESSAGES) - _RESPONSES - _NO_ANSWER_DUE[transport]
        exchanges = exchange_all(
            MESSAGES, transport, proxy.endpoint, loopback.endpoint().host, callee.endpoint,
            expect_final=expect_final, timeout=_ANSWER_WITHIN,
        )
        problems = [problem for name in MESSAGES
                    for problem in _judge(exchanges[name], transport, callee)]
        assert proxy.running(), f"vipproxy exited:\n{proxy.stderr()}"
        assert _options_answered(proxy.endpoint, loopback.endpoint().host), (
            "vipproxy no longer answers OPTIONS after the torture messages"
        )
        assert not problems, f"{len(problems)} problems over {transport}:\n" + "\n".join(problems)
    finally:
        callee.close()


def _judge(exchange: Exchange, transport: str, callee: Callee) -> list[str]:
    """Everything wrong with the answers to one torture message."""
    name = exchange.name
    # A retransmitted answer (UDP, no ACK from us) is judged once.
    answers = list({answer.text: answer for answer in exchange.answers}.values())
    problems = [f"{name}: {problem}" for answer in answers
                for problem in _never_acceptable(answer, name)]
    finals = [a for a in answers if not a.is_request and a.status >= 200]
    statuses = sorted({f"{a.status} {a.reason!r}" for a in finals})
    if name in _RESPONSES:
        if exchange.answers:
            problems.append(f"{name}: a response was answered with {statuses}")
        return problems
    if name in _NO_ANSWER_DUE[transport]:
        return problems
    if not finals:
        closed = " (the proxy closed the connection)" if exchange.closed else ""
        return [*problems, f"{name}: no final response{closed}"]
    if name in MALFORMED:
        wanted = str(_STATUS_FOR_MALFORMED.get(name, 4))
        problems += [f"{name}: malformed, but answered {s}" for s in statuses
                     if not s.startswith(wanted)]
    elif name in _REFUSED_BEFORE_ROUTING:
        wanted = _REFUSED_BEFORE_ROUTING[name]
        problems += [f"{name}: expected {wanted}, got {s}" for s in statuses
                     if not s.startswith(str(wanted))]
    elif name in _ROUTED:
        call_id = _call_id(exchange.sent)
        if call_id not in callee.call_ids():
            problems.append(f"{name}: never reached the callee; answered {statuses}")
    else:
        assert name in _HOST_NAME_NEXT_HOP
        problems += [
            f"{name}: next hop is a host name, but answered {a.status} {a.reason!r}"
            for a in finals
            if not (a.status // 100 == 4 or a.status == 503)
            or not _EXPLAINS_HOST_NAME.search(a.reason)
        ]
    return problems


def _never_acceptable(answer: TracedMessage, name: str) -> list[str]:
    """Problems with any answer to the torture message ``name``."""
    if answer.is_request:
        return [f"the proxy sent a request back: {answer.start_line!r}"]
    problems = []
    if not answer.reason.strip():
        problems.append(f"{answer.status} without a reason phrase")
    if answer.status == 500:
        problems.append(f"500 {answer.reason!r}")
    elif answer.status == 503 and not _says_more_than(answer.reason, "Service Unavailable"):
        problems.append(f"503 that does not say why: {answer.reason!r}")
    elif answer.status // 100 == 5 and answer.status not in (503, _STATUS_FOR_MALFORMED.get(name)):
        problems.append(f"server error {answer.status} {answer.reason!r}")
    elif answer.status == 513:
        problems.append(f"513 for a message far below the size limit: {answer.reason!r}")
    return problems


def _says_more_than(reason: str, phrase: str) -> bool:
    return bool(reason.strip()) and reason.strip().lower() != phrase.lower()


def _call_id(message: bytes) -> str:
    head = message.partition(b"\r\n\r\n")[0].decode(errors="replace")
    found = re.search(r"^(?:call-id|i)[ \t]*:[ \t]*(.*)$", head, re.IGNORECASE | re.MULTILINE)
    return found[1].strip() if found else ""


def _options_answered(proxy: Endpoint, probe_host: str) -> bool:
    """RFC 3261 §11: an OPTIONS for the proxy itself (no user part) gets a 200."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((probe_host, 0))
        sock.settimeout(2.0)
        sent_by = f"{probe_host}:{sock.getsockname()[1]}"
        sock.sendto((
            f"OPTIONS sip:{proxy} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {sent_by};branch=z9hG4bK-torture-after;rport\r\n"
            "Max-Forwards: 70\r\n"
            f"From: <sip:probe@{probe_host}>;tag=after\r\n"
            f"To: <sip:{proxy}>\r\n"
            f"Call-ID: torture-after@{probe_host}\r\n"
            "CSeq: 1 OPTIONS\r\n"
            "Content-Length: 0\r\n\r\n"
        ).encode(), (proxy.host, proxy.port))
        try:
            data = sock.recv(65535)
        except TimeoutError:
            return False
    return data.startswith(b"SIP/2.0 200 ")
