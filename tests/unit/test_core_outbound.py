"""Calls placed on a delegator's line and sent out through a gateway, through the
real ProxyCore over the fake link: what the gateway sees and what the caller gets."""

from __future__ import annotations

from dataclasses import replace

import pytest
from fakelink import Link, answer, invite, make_core
from test_core_phones import _answer_challenge, _final, _md5_challenge

from proxy.auth import AuthSettings, DigestAuthority, UserSecret
from proxy.core.classify import Authentication
from proxy.core.driver import ProxyCore
from proxy.sip.hop import Hop
from proxy.sip.message import Request, Response

CONFIG = """
listen: [{transport: udp, host: 127.0.0.1, port: 5060}]
domain: vipproxy.test
auth: {realm: vipproxy.test}
users:
  alice: {name: Alice Chen, lines: ["+14155550100"], endpoints: ["sip:alice@127.0.0.10"]}
  bob:
    lines: ["1001"]
    endpoints: ["sip:bob@127.0.0.11"]
    auth: {username: bob, password: bob-secret}
  dan:
    lines: ["1004"]
    endpoints: ["sip:dan@127.0.0.14"]
    auth: {username: dan, password: dan-secret}
delegations:
  alice:
    delegates:
      bob: {privileges: [place_calls], status: accepted}
      dan: {privileges: [place_calls], status: pending}
outbound:
  - {prefix: "+1", gateway: "sip:127.0.0.5:5060"}
"""
PHONE = Hop("UDP", "127.0.0.50", 5070)
GATEWAY = Hop("UDP", "127.0.0.5", 5060)
DIALLED = "sip:+12125550147@127.0.0.1:5060"
ALICE_FROM = b"sip:+14155550100@127.0.0.9"


@pytest.fixture
def proxy() -> tuple[ProxyCore, Link]:
    core, _, link = make_core(CONFIG)
    users = {"bob": UserSecret(password="bob-secret"), "dan": UserSecret(password="dan-secret")}
    authority = DigestAuthority("vipproxy.test", b"n" * 32, users, AuthSettings())
    auth = Authentication(authority, {"bob": "bob", "dan": "dan"}, frozenset({"bob", "dan"}))
    core._classifier = replace(core._classifier, auth=auth)  # type: ignore[attr-defined]
    return core, link


def _call(proxy: tuple[ProxyCore, Link], user: str, *, from_uri: bytes = ALICE_FROM,
          extra: str = "") -> list[tuple[Hop, object]]:
    """``user``'s phone calls DIALLED with ``from_uri`` as From, answering the challenge."""
    core, link = proxy
    core.receive(invite(DIALLED, branch="z9hG4bKo1").replace(
        b"sip:+14155550199@127.0.0.9", from_uri), PHONE)
    challenge = _md5_challenge(_final(link), "proxy-authenticate")
    credentials = _answer_challenge(challenge, user, f"{user}-secret", "INVITE", DIALLED,
                                    "Proxy-Authorization")
    core.receive(invite(DIALLED, branch="z9hG4bKo2", extra=credentials + extra).replace(
        b"sip:+14155550199@127.0.0.9", from_uri), PHONE)
    return link.take()


@pytest.mark.parametrize(("from_uri", "extra"), [
    (ALICE_FROM, ""),
    (b"sip:1001@127.0.0.9", "P-Preferred-Identity: <sip:+14155550100@vipproxy.test>\r\n"),
])
def test_a_delegate_calls_out_on_the_delegators_line(proxy: tuple[ProxyCore, Link],
                                                     from_uri: bytes, extra: str) -> None:
    sent = _call(proxy, "bob", from_uri=from_uri, extra=extra)
    [(hop, forwarded)] = [(h, m) for h, m in sent if isinstance(m, Request)]
    assert isinstance(forwarded, Request) and hop == GATEWAY
    assert forwarded.uri == "sip:+12125550147@127.0.0.5:5060"
    assert forwarded.header("from") == (
        '"Alice Chen" <sip:+14155550100@127.0.0.9>;tag=caller-tag')
    assert forwarded.header_values("p-asserted-identity") == [
        '"Alice Chen" <sip:+14155550100@127.0.0.9>']
    assert forwarded.header_values("p-preferred-identity") == []
    core, link = proxy
    core.receive(answer(forwarded, 200, "OK"), GATEWAY)
    final = _final(link)
    # The caller gets its own From back (RFC 3261 §8.1.3.3).
    assert final.status == 200
    assert final.header("from") == f'"Carol" <{from_uri.decode()}>;tag=caller-tag'


def test_a_pending_delegate_gets_403_naming_the_status(proxy: tuple[ProxyCore, Link]) -> None:
    sent = _call(proxy, "dan")
    assert [m for _, m in sent if isinstance(m, Request)] == []
    finals = [(m.status, m.reason) for _, m in sent if isinstance(m, Response) and m.status >= 200]
    assert finals == [(403, "Forbidden (dan's delegation from alice is pending, not accepted)")]
    assert proxy[0].stats["refused_foreign_line"] == 1
