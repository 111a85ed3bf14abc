"""The real ProxyCore with a load guard that refuses: a new call gets a stateless 503
with Retry-After, its ACK ends at the proxy, and calls in progress are never asked."""

from __future__ import annotations

import pytest
from fakelink import CALLER, FakeLoop, Link, ack_for, answer, cancel_for, invite, make_core

from proxy.core.overload import is_shed_tag
from proxy.sip.address import parse_name_addr
from proxy.sip.message import Request, Response

CONFIG = """
listen: [{transport: udp, host: 127.0.0.1, port: 5060}]
trusted_peers: ["127.0.0.9/32"]
routes:
  "2000":
    stages:
      - {targets: ["sip:a@127.0.0.2:5070"], timeout: 20s}
"""
UP = f"{CALLER.host}:{CALLER.port}"


class StubGuard:
    """Admits while ``admit`` is True; counts how often it was asked."""

    def __init__(self) -> None:
        self.admit = False
        self.asked = 0
        self.retry_after = 7

    def admit_new_call(self, now: float) -> bool:
        self.asked += 1
        return self.admit


@pytest.fixture
def proxy() -> tuple[object, FakeLoop, Link, StubGuard]:
    core, loop, link = make_core(CONFIG)
    guard = StubGuard()
    core._guard = guard  # type: ignore[assignment]  # the hook under test
    return core, loop, link, guard


def test_a_refused_call_gets_one_stateless_503_with_retry_after(proxy) -> None:
    core, _, link, guard = proxy
    core.receive(invite(), CALLER)
    sent = link.take()
    assert [(f"{hop.host}:{hop.port}", m.status) for hop, m in sent  # type: ignore[union-attr]
            ] == [(UP, 503)]
    refusal = sent[0][1]
    assert isinstance(refusal, Response)
    assert refusal.reason == "Service Unavailable (overloaded)"
    assert refusal.header("retry-after") == "7"
    assert is_shed_tag(parse_name_addr(refusal.header("to") or "").tag)
    assert (guard.asked, core.stats["shed"], core.live_server_transactions) == (1, 1, 0)


def test_the_ack_of_a_503_ends_at_the_proxy(proxy) -> None:
    core, _, link, _ = proxy
    core.receive(invite(), CALLER)
    refusal = link.take()[0][1]
    core.receive(ack_for(refusal, "sip:2000@127.0.0.1:5060"), CALLER)
    assert link.take() == []
    assert core.stats["shed_acks"] == 1


def test_an_admitted_call_and_its_retransmission_ask_once(proxy) -> None:
    core, _, link, guard = proxy
    guard.admit = True
    core.receive(invite(), CALLER)
    guard.admit = False
    core.receive(invite(), CALLER)  # a retransmission belongs to its transaction
    labels = [m.method if isinstance(m, Request) else m.status for _, m in link.take()]
    assert labels == [100, "INVITE", 100]
    assert guard.asked == 1


def test_cancel_and_in_dialog_requests_are_never_asked(proxy) -> None:
    core, _, link, guard = proxy
    guard.admit = True
    core.receive(invite(), CALLER)
    forwarded = link.take()[1][1]
    core.receive(answer(forwarded, 180, "Ringing"), CALLER)
    guard.admit = False
    core.receive(cancel_for(invite()), CALLER)
    statuses = [m.status for _, m in link.take() if isinstance(m, Response)]
    assert 200 in statuses  # the CANCEL was answered, not refused
    reinvite = invite(branch="z9hG4bKreinvite").replace(
        b"To: <sip:2000@127.0.0.1>", b"To: <sip:2000@127.0.0.1>;tag=callee")
    core.receive(reinvite, CALLER)
    assert guard.asked == 1
    assert core.stats["shed"] == 0
