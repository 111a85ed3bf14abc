"""A target named by a host name, through the real ProxyCore over the fake link and
a fake clock: its hops come from the resolved table, and a hop that times out or
answers 503 hands the branch to the next (RFC 3263 §4.3)."""

from __future__ import annotations

import pytest
from fakelink import FakeLoop, Link, answer, invite, make_core

from proxy.core.driver import ProxyCore
from proxy.sip.hop import Hop, HostName, ResolvedNames
from proxy.sip.message import Request, Response

CONFIG = """
listen: [{transport: udp, host: 127.0.0.1, port: 5060}]
untrusted_calls: local_lines
routes:
  "2000":
    stages: [{targets: ["sip:desk@pbx.example.test"], timeout: 60s}]
"""
CALLER = Hop("UDP", "127.0.0.9", 5090)
FIRST = Hop("UDP", "127.0.0.2", 5070)
SECOND = Hop("UDP", "127.0.0.3", 5070)
PBX = HostName("pbx.example.test", None, None)
TIMER_B = 64 * 0.5  # 64*T1 (RFC 3261 §17.1.1.2)


@pytest.fixture
def proxy() -> tuple[ProxyCore, FakeLoop, Link]:
    core, loop, link = make_core(CONFIG)
    core.use_names(ResolvedNames(hops={PBX: (FIRST, SECOND)}))
    return core, loop, link


def _invites_to(sent: list[tuple[Hop, object]], hop: Hop) -> list[Request]:
    return [m for h, m in sent if h == hop and isinstance(m, Request) and m.method == "INVITE"]


def _finals(sent: list[tuple[Hop, object]]) -> list[tuple[int, str]]:
    return [(m.status, m.reason) for _, m in sent if isinstance(m, Response) and m.status >= 200]


def test_a_hop_that_times_out_hands_the_branch_to_the_next(
        proxy: tuple[ProxyCore, FakeLoop, Link]) -> None:
    core, loop, link = proxy
    core.receive(invite(), CALLER)
    [first] = _invites_to(link.take(), FIRST)
    assert first.uri == "sip:desk@pbx.example.test"
    loop.advance(TIMER_B - 0.1)
    assert not _invites_to(link.take(), SECOND)
    loop.advance(0.2)
    sent = link.take()
    [second] = _invites_to(sent, SECOND)
    assert not _finals(sent)  # the caller waits: the branch is not over
    assert second.top_via != first.top_via  # a new transaction (§4.3)
    core.receive(answer(second, 200, "OK"), SECOND)
    assert _finals(link.take()) == [(200, "OK")]
    assert core.stats["branch_failovers"] == 1


def test_a_503_hands_the_branch_to_the_next_and_the_last_failure_stands(
        proxy: tuple[ProxyCore, FakeLoop, Link]) -> None:
    core, _, link = proxy
    core.receive(invite(), CALLER)
    [first] = _invites_to(link.take(), FIRST)
    core.receive(answer(first, 503, "Service Unavailable"), FIRST)
    sent = link.take()
    assert [m.method for h, m in sent if h == FIRST and isinstance(m, Request)] == ["ACK"]
    [second] = _invites_to(sent, SECOND)
    core.receive(answer(second, 503, "Service Unavailable"), SECOND)
    # No hop left: the 503 from downstream goes up as a 500 (§16.7 step 6).
    assert _finals(link.take()) == [(500, "Server Internal Error")]


def test_a_486_is_the_targets_answer(proxy: tuple[ProxyCore, FakeLoop, Link]) -> None:
    core, _, link = proxy
    core.receive(invite(), CALLER)
    [first] = _invites_to(link.take(), FIRST)
    core.receive(answer(first, 486, "Busy Here"), FIRST)
    sent = link.take()
    assert not _invites_to(sent, SECOND)
    assert _finals(sent) == [(486, "Busy Here")]


def test_a_name_that_did_not_resolve_gets_503_naming_it(
        proxy: tuple[ProxyCore, FakeLoop, Link]) -> None:
    core, _, link = proxy
    core.use_names(ResolvedNames(failures={PBX: "the name did not resolve (NXDOMAIN)"}))
    core.receive(invite(), CALLER)
    assert _finals(link.take()) == [(503, "Service Unavailable (Cannot route to"
                                    " 'pbx.example.test': the name did not resolve (NXDOMAIN))")]
