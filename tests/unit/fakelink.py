"""A fake event loop and link for driving the real ProxyCore without sockets or sleeps.

``FakeLoop`` provides what the driver and the wiring use, ``time()``,
``call_later()``, ``call_soon()`` and ``call_exception_handler()``;
``advance(seconds)`` fires due callbacks in deadline order.
``Link`` records what the proxy sends, per destination, parsed.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from typing import Any

import structlog

from proxy.config.loader import parse_config
from proxy.core.classify import PROXY_SERVICE
from proxy.core.driver import CoreSettings, ProxyCore
from proxy.core.local import Interface, LocalAddresses
from proxy.core.route_token import RouteTokens
from proxy.core.services import ProxyItself
from proxy.policy.trust import TrustModel
from proxy.sip.hop import Hop
from proxy.sip.message import Message, Request, Response, parse_message

PROXY = Hop("UDP", "127.0.0.1", 5060)
ROUTE_SECRET = b"k" * 32
TOKENS = RouteTokens(ROUTE_SECRET)
CALLER = Hop("UDP", "127.0.0.9", 5090)


class FakeHandle:
    """The part of asyncio.TimerHandle the driver uses, holding its callback and
    arguments as asyncio's does until it is cancelled (so that the garbage a real
    loop would leave is left here too)."""

    def __init__(self, callback: Callable[..., None], args: tuple[Any, ...]) -> None:
        self._cancelled = False
        self.callback: Callable[..., None] | None = callback
        self.args: tuple[Any, ...] | None = args

    def cancel(self) -> None:
        self._cancelled = True
        self.callback, self.args = None, None

    def cancelled(self) -> bool:
        return self._cancelled

    def run(self) -> None:
        if self.callback is not None and self.args is not None and not self._cancelled:
            self.callback(*self.args)


class FakeLoop:
    def __init__(self) -> None:
        self.now = 1000.0
        self._queue: list[tuple[float, int, FakeHandle]] = []
        self._order = itertools.count()

    def time(self) -> float:
        return self.now

    def call_later(self, delay: float, callback: Callable[..., None], *args: Any) -> FakeHandle:
        handle = FakeHandle(callback, args)
        heapq.heappush(self._queue, (self.now + delay, next(self._order), handle))
        return handle

    def call_soon(self, callback: Callable[..., None], *args: Any) -> FakeHandle:
        """Runs at the next ``advance`` (``advance(0)``: once the current message is done)."""
        return self.call_later(0.0, callback, *args)

    def call_exception_handler(self, context: dict[str, Any]) -> None:
        """A real loop logs a callback's exception and goes on; a test should fail."""
        raise context["exception"]

    def advance(self, seconds: float) -> None:
        end = self.now + seconds
        while self._queue and self._queue[0][0] <= end:
            deadline, _, handle = heapq.heappop(self._queue)
            self.now = deadline
            handle.run()
        self.now = end


class Link:
    """Everything the proxy sent, in order, as (destination, parsed message)."""

    def __init__(self) -> None:
        self.sent: list[tuple[Hop, Message]] = []

    def send(self, data: bytes, hop: Hop, fallback: Hop | None = None) -> None:
        self.sent.append((hop, parse_message(data)))

    def take(self) -> list[tuple[Hop, Message]]:
        sent, self.sent = self.sent, []
        return sent

    def take_summary(self) -> list[str]:
        """``"127.0.0.2:5070 INVITE"`` / ``"127.0.0.9:5090 180"`` lines, for exact sequences."""
        return [f"{hop.host}:{hop.port} {_label(message)}" for hop, message in self.take()]


def _label(message: Message) -> str:
    if isinstance(message, Request):
        return message.method
    return str(message.status)


PROXY_INTERFACES = (
    Interface("UDP", PROXY.host, PROXY.port),
    Interface("TCP", PROXY.host, PROXY.port),
)


def make_core(
    config_yaml: str, interfaces: tuple[Interface, ...] = PROXY_INTERFACES,
    first_worker: Callable[[bytes, Hop], None] | None = None,
) -> tuple[ProxyCore, FakeLoop, Link]:
    config = parse_config(config_yaml)
    loop = FakeLoop()
    link = Link()
    local = LocalAddresses(interfaces)
    core = ProxyCore(
        local=local,
        settings=CoreSettings(config.timers, config.timer_c, config.max_breadth,
                              config.max_message_size, config.udp_request_limit),
        send=link.send,
        loop=loop,  # type: ignore[arg-type]
        trust=TrustModel(config.directory, config.untrusted_calls),
        route_secret=ROUTE_SECRET,
        log=structlog.get_logger("test").bind(),
        services={PROXY_SERVICE: ProxyItself()},
        first_worker=first_worker,
    )
    return core, loop, link


def invite(uri: str = "sip:2000@127.0.0.1:5060", *, branch: str = "z9hG4bKcaller1",
           extra: str = "") -> bytes:
    return (
        f"INVITE {uri} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.9:5090;branch={branch};rport\r\n"
        "Max-Forwards: 70\r\n"
        "From: \"Carol\" <sip:+14155550199@127.0.0.9>;tag=caller-tag\r\n"
        "To: <sip:2000@127.0.0.1>\r\n"
        "Call-ID: call-1@127.0.0.9\r\n"
        "CSeq: 1 INVITE\r\n"
        "Contact: <sip:carol@127.0.0.9:5090>\r\n"
        f"{extra}"
        "Content-Type: application/sdp\r\n"
        "Content-Length: 4\r\n\r\nv=0\n"
    ).encode()


def cancel_for(invite_bytes: bytes) -> bytes:
    request = parse_message(invite_bytes)
    assert isinstance(request, Request)
    lines = [f"CANCEL {request.uri} SIP/2.0", f"Via: {request.top_via}", "Max-Forwards: 70"]
    lines += [f"{name}: {request.header(name)}" for name in ("From", "To", "Call-ID")]
    lines += ["CSeq: 1 CANCEL", "Content-Length: 0"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def answer(request: Message, status: int, reason: str, *, to_tag: str = "callee",
           extra: str = "") -> bytes:
    """A callee's response to a request the proxy sent it: Vias copied, To tagged."""
    assert isinstance(request, Request)
    lines = [f"SIP/2.0 {status} {reason}"]
    lines += [f"Via: {value}" for value in request.header_values("via")]
    lines += [f"Record-Route: {value}" for value in request.header_values("record-route")]
    to = request.header("to") or ""
    if status > 100 and ";tag=" not in to:
        to += f";tag={to_tag}"
    lines += [f"From: {request.header('from')}", f"To: {to}", f"Call-ID: {request.call_id}",
              f"CSeq: {request.header('cseq')}"]
    if 200 <= status < 300:
        lines.append(f"Contact: <sip:{to_tag}@127.0.0.2:5070>")
    lines.append("Content-Length: 0")
    return ("\r\n".join(lines) + extra + "\r\n\r\n").encode()


def ack_for(response: Message, uri: str) -> bytes:
    """The caller's ACK for a non-2xx final (same branch as the INVITE, §17.1.1.3)."""
    assert isinstance(response, Response)
    lines = [f"ACK {uri} SIP/2.0", f"Via: {response.header_values('via')[0]}",
             "Max-Forwards: 70", f"From: {response.header('from')}",
             f"To: {response.header('to')}", f"Call-ID: {response.call_id}",
             "CSeq: 1 ACK", "Content-Length: 0"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()
