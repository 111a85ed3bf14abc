"""A finished call leaves nothing for the cyclic garbage collector: everything it
used is freed by reference counting as soon as its transactions end.

The fake loop keeps a timer's callback and arguments until the timer fires or is
cancelled, as asyncio does, so a cycle through a timer shows up here too.
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Callable, Iterator

import pytest
from fakelink import CALLER, TOKENS, FakeLoop, Link, answer, cancel_for, invite, make_core
from test_core_fork import CALL_TOKEN, CONFIG, A, B, _caller_bye, _forwarded

from proxy.core.driver import ProxyCore
from proxy.dialog import DialogTracker
from proxy.sip.hop import Hop
from proxy.sip.message import Request

Proxy = tuple[ProxyCore, FakeLoop, Link]

# The same call shape on a user's line: the dialog tracker follows it as well.
LINE_CONFIG = """
listen: [{transport: udp, host: 127.0.0.1, port: 5060}]
trusted_peers: ["127.0.0.9/32"]
users:
  ann: {name: Ann, lines: ["2000"],
        endpoints: ["sip:a@127.0.0.2:5070", "sip:b@127.0.0.3:5070"]}
"""


@pytest.fixture
def collector_off() -> Iterator[None]:
    """Only reference counting frees anything while a test runs; the garbage the
    collector then finds is what a cycle kept alive."""
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        yield
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


def _answered_call(proxy: Proxy, number: int) -> None:
    core, _, link = proxy
    core.receive(_numbered(invite("sip:2000@127.0.0.1:5060", branch=f"z9hG4bKa{number}"),
                           number), CALLER)
    branches = _forwarded(link)
    core.receive(answer(branches[A], 180, "Ringing", to_tag="a"), Hop("UDP", "127.0.0.2", 5070))
    core.receive(answer(branches[B], 180, "Ringing", to_tag="b"), Hop("UDP", "127.0.0.3", 5070))
    core.receive(answer(branches[A], 200, "OK", to_tag="a"), Hop("UDP", "127.0.0.2", 5070))
    cancel = next(m for _, m in link.take() if isinstance(m, Request) and m.method == "CANCEL")
    core.receive(answer(cancel, 200, "OK"), Hop("UDP", "127.0.0.3", 5070))
    core.receive(answer(branches[B], 487, "Request Terminated", to_tag="b"),
                 Hop("UDP", "127.0.0.3", 5070))
    token = TOKENS.mint(f"call-{number}@127.0.0.9", "caller-tag")
    bye_request = _caller_bye(f"z9hG4bKbye{number}").replace(CALL_TOKEN.encode(), token.encode())
    core.receive(_numbered(bye_request, number), CALLER)
    bye = next(m for _, m in link.take() if isinstance(m, Request) and m.method == "BYE")
    core.receive(answer(bye, 200, "OK"), Hop("UDP", "127.0.0.2", 5070))


def _cancelled_call(proxy: Proxy, number: int) -> None:
    core, _, link = proxy
    request = _numbered(invite("sip:2000@127.0.0.1:5060", branch=f"z9hG4bKc{number}"), number)
    core.receive(request, CALLER)
    branches = _forwarded(link)
    for host, request_sent in ((A, branches[A]), (B, branches[B])):
        core.receive(answer(request_sent, 180, "Ringing", to_tag="r"),
                     Hop("UDP", host.split(":")[0], 5070))
    core.receive(cancel_for(request), CALLER)


def _refused_call(proxy: Proxy, number: int) -> None:
    core, _, _ = proxy
    core.receive(_numbered(invite("sip:9999@127.0.0.1:5060", branch=f"z9hG4bKr{number}"),
                           number), CALLER)


def _numbered(data: bytes, number: int) -> bytes:
    return data.replace(b"call-1@", f"call-{number}@".encode())


@pytest.mark.parametrize("on_a_line", [False, True], ids=["route", "users-line"])
@pytest.mark.parametrize("call", [_answered_call, _cancelled_call, _refused_call])
def test_a_finished_call_leaves_no_garbage(collector_off: None, on_a_line: bool,
                                           call: Callable[[Proxy, int], None]) -> None:
    proxy = make_core(LINE_CONFIG if on_a_line else CONFIG)
    core, loop, _ = proxy
    tracker = DialogTracker(core._trust.directory)
    records = []
    if on_a_line:
        core.events.subscribe(lambda event: records.extend(tracker.observe(event).finished))
    for number in range(3):
        call(proxy, number)
    loop.advance(300.0)  # past Timer C and every transaction timer: all calls are over
    assert (core.live_server_transactions, core.live_client_transactions) == (0, 0)
    assert len(tracker) == 0  # every call it followed is over and forgotten
    assert len(records) == (3 if on_a_line and call is not _refused_call else 0)
    records.clear()
    found = gc.collect()
    kinds = Counter(type(thing).__name__ for thing in gc.garbage).most_common(8)
    assert found == 0, f"{found} objects left for the cyclic collector: {kinds}"
