"""Phones that register and authenticate, through the real ProxyCore over the fake
link: digest challenges (RFC 3261 §22), REGISTER (§10.3), and calls that ring the
contact a phone registered from."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest
from fakelink import CALLER, TOKENS, FakeLoop, Link, answer, invite, make_core

from proxy.auth import AuthSettings, DigestAuthority, UserSecret
from proxy.auth.header import parse_digest_params
from proxy.config.loader import parse_config
from proxy.core.classify import REGISTRAR_SERVICE, Authentication
from proxy.core.driver import ProxyCore
from proxy.core.flows import flow_hop, flow_uri, flow_value
from proxy.dialog import DialogTracker
from proxy.phones import Phones
from proxy.policy.decide import CallInfo, decide
from proxy.registrar import Registrar, RegistrarResult, RegistrarService, RegistrarSettings
from proxy.sip.hop import Hop, hop_for_uri
from proxy.sip.message import Request, Response
from proxy.sip.uri import parse_uri

CONFIG = """
listen: [{transport: udp, host: 127.0.0.1, port: 5060}]
trusted_peers: ["127.0.0.9/32"]
domain: vipproxy.test
auth: {realm: vipproxy.test}
users:
  alice:
    name: Alice
    lines: ["1000"]
    endpoints: [registered]
    auth: {username: alice, password: alice-secret}
  bob:
    name: Bob
    lines: ["2000"]
    endpoints: ["sip:bob@127.0.0.77:5080"]
"""
PHONE = Hop("UDP", "127.0.0.50", 5070)
STRANGER = Hop("UDP", "127.0.0.66", 5090)
SECRET = b"n" * 32

Proxy = tuple[ProxyCore, FakeLoop, Link, list[RegistrarResult]]


@pytest.fixture
def proxy() -> Proxy:
    config = parse_config(CONFIG)
    core, loop, link = make_core(CONFIG)
    users = {"alice": UserSecret(password="alice-secret")}
    authority = DigestAuthority("vipproxy.test", SECRET, users, AuthSettings())
    auth = Authentication(authority, {"alice": "alice"}, frozenset({"alice"}))
    registrar = Registrar(config.directory, RegistrarSettings("vipproxy.test",
                                                              frozenset({"127.0.0.1"})))
    written: list[RegistrarResult] = []
    service = RegistrarService(registrar, lambda request, source: source.user, written.append)
    core._classifier = replace(core._classifier, auth=auth,  # type: ignore[attr-defined]
                               registrar_hosts=frozenset({"vipproxy.test", "127.0.0.1"}))
    core.add_service(REGISTRAR_SERVICE, service)
    phones = Phones(auth, registrar, service, frozenset(), lambda hop: True,
                    config.directory.is_trusted_peer, clock=loop.time)
    core._locate = phones.locate  # type: ignore[attr-defined]
    return core, loop, link, written


def _register(branch: str, cseq: int, authorization: str = "", expires: int = 600,
              via: str = "127.0.0.50:5070", contact: str = "127.0.0.50:5070") -> bytes:
    return (
        "REGISTER sip:vipproxy.test SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {via};branch={branch};rport\r\n"
        "Max-Forwards: 70\r\nFrom: <sip:alice@vipproxy.test>;tag=r1\r\n"
        "To: <sip:alice@vipproxy.test>\r\nCall-ID: reg-1@127.0.0.50\r\n"
        f"CSeq: {cseq} REGISTER\r\nContact: <sip:alice@{contact}>\r\n"
        f"Expires: {expires}\r\n{authorization}Content-Length: 0\r\n\r\n"
    ).encode()


def _answer_challenge(challenge: str, username: str, password: str, method: str,
                      uri: str, header: str) -> str:
    """A client's digest answer (RFC 7616 §3.4.1), MD5, qop=auth."""
    params = parse_digest_params(challenge)
    assert params is not None
    realm, nonce, cnonce, nc = params["realm"], params["nonce"], "c0ffee", "00000001"
    ha1 = hashlib.md5(f"{username}:{realm}:{password}".encode()).hexdigest()
    ha2 = hashlib.md5(f"{method}:{uri}".encode()).hexdigest()
    response = hashlib.md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}".encode()).hexdigest()
    return (f'{header}: Digest username="{username}", realm="{realm}", nonce="{nonce}", '
            f'uri="{uri}", algorithm=MD5, qop=auth, nc={nc}, cnonce="{cnonce}", '
            f'response="{response}"\r\n')


def _final(link: Link) -> Response:
    finals = [m for _, m in link.take() if isinstance(m, Response) and m.status >= 200]
    assert len(finals) == 1, finals
    return finals[0]


def _md5_challenge(response: Response, header: str) -> str:
    return next(v for v in response.header_lines(header) if "algorithm=MD5" in v)


def _registered(proxy: Proxy, contact: str = "127.0.0.50:5070", phone: Hop = PHONE) -> Response:
    core, _, link, _ = proxy
    over = f"SIP/2.0/{phone.transport}".encode()
    core.receive(_register("z9hG4bKr1", 1, contact=contact).replace(b"SIP/2.0/UDP", over),
                 phone)
    challenge = _final(link)
    assert challenge.status == 401
    answer = _answer_challenge(_md5_challenge(challenge, "www-authenticate"), "alice",
                               "alice-secret", "REGISTER", "sip:vipproxy.test", "Authorization")
    core.receive(_register("z9hG4bKr2", 2, answer, contact=contact).replace(
        b"SIP/2.0/UDP", over), phone)
    return _final(link)


def test_a_register_is_challenged_then_accepted_and_listed(proxy: Proxy) -> None:
    ok = _registered(proxy)
    assert ok.status == 200
    assert [c.split(";")[0] for c in ok.header_values("contact")] == [
        "<sip:alice@127.0.0.50:5070>"]
    assert "expires=600" in ok.header("contact") or "expires=599" in ok.header("contact")
    written = proxy[3]
    assert [b.contact for result in written for b in result.saved] == [
        "sip:alice@127.0.0.50:5070"]


def test_a_call_to_the_line_rings_the_registered_contact_where_it_registered(
        proxy: Proxy) -> None:
    core, _, link, _ = proxy
    _registered(proxy)
    core.receive(invite("sip:1000@127.0.0.1:5060", branch="z9hG4bKcall"), CALLER)
    forwarded = [(hop, m) for hop, m in link.take() if isinstance(m, Request)]
    assert [(hop.host, hop.port, m.uri) for hop, m in forwarded] == [
        ("127.0.0.50", 5070, "sip:alice@127.0.0.50:5070")]


def test_with_nobody_registered_the_call_gets_480(proxy: Proxy) -> None:
    core, _, link, _ = proxy
    core.receive(invite("sip:1000@127.0.0.1:5060", branch="z9hG4bKnobody"), CALLER)
    final = _final(link)
    assert (final.status, final.reason) == (480, "Temporarily Unavailable (no registered phone)")


def test_unknown_user_and_wrong_password_get_the_same_challenge(proxy: Proxy) -> None:
    core, _, link, _ = proxy
    answers = []
    for index, (username, password) in enumerate((("alice", "wrong"), ("mallory", "x"))):
        core.receive(_register(f"z9hG4bKa{index}", 1), PHONE)
        challenge = _md5_challenge(_final(link), "www-authenticate")
        answer = _answer_challenge(challenge, username, password, "REGISTER",
                                   "sip:vipproxy.test", "Authorization")
        core.receive(_register(f"z9hG4bKb{index}", 2, answer), PHONE)
        final = _final(link)
        answers.append((final.status, final.reason, [
            {k: v for k, v in (parse_digest_params(h) or {}).items() if k != "nonce"}
            for h in final.header_lines("www-authenticate")]))
    assert answers[0] == answers[1] and answers[0][0] == 401


def test_an_untrusted_invite_is_challenged_and_then_routed_as_the_user(proxy: Proxy) -> None:
    core, _, link, _ = proxy
    _registered(proxy)
    request = invite("sip:1000@127.0.0.1:5060", branch="z9hG4bKu1").replace(
        b"sip:+14155550199@127.0.0.9", b"sip:alice@vipproxy.test")
    core.receive(request, STRANGER)
    challenge = _final(link)
    assert challenge.status == 407
    answer = _answer_challenge(_md5_challenge(challenge, "proxy-authenticate"), "alice",
                               "alice-secret", "INVITE", "sip:1000@127.0.0.1:5060",
                               "Proxy-Authorization")
    core.receive(invite("sip:1000@127.0.0.1:5060", branch="z9hG4bKu2", extra=answer).replace(
        b"sip:+14155550199@127.0.0.9", b"sip:alice@vipproxy.test"), STRANGER)
    assert [m.method for _, m in link.take() if isinstance(m, Request)] == ["INVITE"]


def test_an_authenticated_caller_may_not_claim_someone_elses_number(proxy: Proxy) -> None:
    core, _, link, _ = proxy
    core.receive(invite("sip:1000@127.0.0.1:5060", branch="z9hG4bKf1"), STRANGER)
    challenge = _md5_challenge(_final(link), "proxy-authenticate")
    answer = _answer_challenge(challenge, "alice", "alice-secret", "INVITE",
                               "sip:1000@127.0.0.1:5060", "Proxy-Authorization")
    core.receive(invite("sip:1000@127.0.0.1:5060", branch="z9hG4bKf2", extra=answer),
                 STRANGER)  # From: +14155550199, not one of alice's lines
    final = _final(link)
    assert (final.status, final.reason) == (403, "Forbidden (the From is not a line of alice)")


def test_twenty_wrong_passwords_block_the_address_but_not_another(proxy: Proxy) -> None:
    core, _, link, _ = proxy
    for index in range(20):
        core.receive(_register(f"z9hG4bKw{index}", 1), PHONE)
        challenge = _md5_challenge(_final(link), "www-authenticate")
        answer = _answer_challenge(challenge, "alice", "wrong", "REGISTER",
                                   "sip:vipproxy.test", "Authorization")
        core.receive(_register(f"z9hG4bKx{index}", 2, answer), PHONE)
        link.take()
    core.receive(_register("z9hG4bKafter", 1), PHONE)
    assert _final(link).status == 403
    core.receive(_register("z9hG4bKother", 1).replace(b"127.0.0.50", b"127.0.0.51"),
                 Hop("UDP", "127.0.0.51", 5070))
    assert _final(link).status == 401
    assert core.stats["refused_auth_blocked"] >= 1


def test_wrong_passwords_through_an_edge_proxy_block_that_phone_not_the_edge(
        proxy: Proxy) -> None:
    # Counted against the edge, one phone's bad password would lock out every phone
    # behind it: the phone is the address the edge recorded in its Via.
    core, _, link, _ = proxy
    edge = Hop("UDP", "127.0.0.9", 5080)

    def relayed(branch: str, cseq: int, phone: str, authorization: str = "") -> bytes:
        return _register(branch, cseq, authorization, via="127.0.0.9:5080").replace(
            b"Max-Forwards", f"Via: SIP/2.0/UDP {phone}:5062;branch={branch}p;rport=5062;"
                             f"received={phone}\r\nMax-Forwards".encode(), 1)

    for index in range(20):
        core.receive(relayed(f"z9hG4bKm{index}", 1, "127.0.0.60"), edge)
        challenge = _md5_challenge(_final(link), "www-authenticate")
        wrong = _answer_challenge(challenge, "alice", "wrong", "REGISTER", "sip:vipproxy.test",
                                  "Authorization")
        core.receive(relayed(f"z9hG4bKn{index}", 2, "127.0.0.60", wrong), edge)
        link.take()
    core.receive(relayed("z9hG4bKblocked", 1, "127.0.0.60"), edge)
    assert _final(link).status == 403  # that phone is blocked
    core.receive(relayed("z9hG4bKgood1", 1, "127.0.0.61"), edge)
    challenge = _md5_challenge(_final(link), "www-authenticate")
    right = _answer_challenge(challenge, "alice", "alice-secret", "REGISTER",
                              "sip:vipproxy.test", "Authorization")
    core.receive(relayed("z9hG4bKgood2", 2, "127.0.0.61", right), edge)
    assert _final(link).status == 200  # another phone behind the same edge is not


def test_a_register_relayed_by_a_trusted_edge_proxy_is_challenged_and_its_path_used(
        proxy: Proxy) -> None:
    core, _, link, _ = proxy
    edge = Hop("UDP", "127.0.0.9", 5080)  # a trusted peer relaying the phone's REGISTER
    path = "Path: <sip:127.0.0.9:5080;lr>\r\n"
    core.receive(_register("z9hG4bKp1", 1, path, via="127.0.0.9:5080"), edge)
    challenge = _final(link)
    assert challenge.status == 401
    answer = _answer_challenge(_md5_challenge(challenge, "www-authenticate"), "alice",
                               "alice-secret", "REGISTER", "sip:vipproxy.test", "Authorization")
    core.receive(_register("z9hG4bKp2", 2, path + answer, via="127.0.0.9:5080"), edge)
    assert _final(link).header("path") == "<sip:127.0.0.9:5080;lr>"
    core.receive(invite("sip:1000@127.0.0.1:5060", branch="z9hG4bKviaedge"), CALLER)
    forwarded = [(hop, m) for hop, m in link.take() if isinstance(m, Request)]
    assert [(hop.host, hop.port) for hop, _ in forwarded] == [("127.0.0.9", 5080)]
    assert forwarded[0][1].uri == "sip:alice@127.0.0.50:5070"
    assert forwarded[0][1].header_values("route") == ["<sip:127.0.0.9:5080;lr>"]


def test_a_path_from_a_phone_is_not_followed(proxy: Proxy) -> None:
    core, _, link, _ = proxy
    path = "Path: <sip:127.0.0.77:5080;lr>\r\n"  # anywhere the phone likes: ignored
    core.receive(_register("z9hG4bKq1", 1, path), PHONE)
    answer = _answer_challenge(_md5_challenge(_final(link), "www-authenticate"), "alice",
                               "alice-secret", "REGISTER", "sip:vipproxy.test", "Authorization")
    core.receive(_register("z9hG4bKq2", 2, path + answer), PHONE)
    assert _final(link).status == 200
    core.receive(invite("sip:1000@127.0.0.1:5060", branch="z9hG4bKnopath"), CALLER)
    forwarded = [(hop, m) for hop, m in link.take() if isinstance(m, Request)]
    assert [(hop.host, hop.port) for hop, _ in forwarded] == [("127.0.0.50", 5070)]
    assert forwarded[0][1].header("route") is None


def test_a_contact_whose_flow_is_gone_is_not_rung(proxy: Proxy) -> None:
    core, _, link, _ = proxy
    _registered(proxy)
    # The transports say the flow it registered on is gone (a closed TCP connection).
    core._locate = replace(  # type: ignore[attr-defined]
        core._locate.__self__, flow_open=lambda hop: False).locate
    core.receive(invite("sip:1000@127.0.0.1:5060", branch="z9hG4bKgone"), CALLER)
    assert _final(link).status == 480


def test_explain_names_the_registered_phones_a_call_will_look_up() -> None:
    directory = parse_config(CONFIG).directory
    call = CallInfo(request_uri_user="1000", to_user="1000", from_user="555",
                    asserted_user=None, source_ip="127.0.0.9")
    decision = decide(call, directory, 0.0)
    assert "registered phones of alice [line owner alice]" in decision.explain()
    assert decision.log_fields()["stages"] == "registered phones of alice/20s"


# --- the dialog that follows goes down the phone's flow (RFC 5626 §5.3) ----------------

BEHIND_NAT = "127.0.0.200:9"  # the phone's Contact as written: nobody listens there
FLOW = "udp-127.0.0.50-5070"  # where its REGISTER came from
FLOW_TOKEN = TOKENS.mint("call-1@127.0.0.9", "caller-tag", FLOW)


def _in_dialog(method: str, uri: str, routes: list[str], *, branch: str, from_: str, to: str,
               via: str = "127.0.0.9:5090", cseq: int = 2) -> bytes:
    """A request inside the call of ``fakelink.invite``, along ``routes``."""
    route = "".join(f"Route: {value}\r\n" for value in routes)
    return (f"{method} {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {via};branch={branch};rport\r\n"
            f"{route}Max-Forwards: 70\r\nFrom: {from_}\r\nTo: {to}\r\n"
            f"Call-ID: call-1@127.0.0.9\r\nCSeq: {cseq} {method}\r\n"
            "Content-Length: 0\r\n\r\n").encode()


def _caller(method: str, routes: list[str], branch: str) -> bytes:
    return _in_dialog(method, f"sip:alice@{BEHIND_NAT}", routes, branch=branch,
                      from_="<sip:+14155550199@127.0.0.9>;tag=caller-tag",
                      to="<sip:1000@127.0.0.1>;tag=a")


def _answered_behind_nat(proxy: Proxy, phone: Hop = PHONE) -> list[str]:
    """A call to the phone registered as ``BEHIND_NAT`` from ``phone``, answered; the
    caller's route set (the 2xx's Record-Route, reversed: §12.1.2)."""
    core, _, link, _ = proxy
    _registered(proxy, contact=BEHIND_NAT, phone=phone)
    core.receive(invite("sip:1000@127.0.0.1:5060", branch="z9hG4bKnat"), CALLER)
    forwarded = [(hop, m) for hop, m in link.take() if isinstance(m, Request)]
    assert [(hop, m.uri) for hop, m in forwarded] == [(phone, f"sip:alice@{BEHIND_NAT}")]
    core.receive(answer(forwarded[0][1], 200, "OK", to_tag="a"), phone)
    ok = _final(link)
    return list(reversed(ok.header_values("record-route")))


def test_the_record_route_of_a_branch_down_a_flow_names_the_flow_under_the_token(
        proxy: Proxy) -> None:
    routes = _answered_behind_nat(proxy)
    # The phone's 2xx carries the Record-Route it got in the INVITE: no rewriting.
    assert routes == [f"<sip:127.0.0.1:5060;transport=udp;lr;vpf={FLOW};vpt={FLOW_TOKEN}>"]


def test_the_callers_ack_and_bye_go_down_the_flow_not_to_the_contact(proxy: Proxy) -> None:
    core, _, link, _ = proxy
    routes = _answered_behind_nat(proxy)
    core.receive(_caller("ACK", routes, "z9hG4bKnatack"), CALLER)
    core.receive(_caller("BYE", routes, "z9hG4bKnatbye"), CALLER)
    sent = [(hop, m) for hop, m in link.take() if isinstance(m, Request)]
    assert [(hop, m.method, m.uri) for hop, m in sent] == [
        (PHONE, "ACK", f"sip:alice@{BEHIND_NAT}"), (PHONE, "BYE", f"sip:alice@{BEHIND_NAT}")]
    assert all(m.header("route") is None for _, m in sent)


def test_a_phone_registered_over_tcp_gets_the_callers_bye_over_its_own_connection(
        proxy: Proxy) -> None:
    core, _, link, _ = proxy
    phone = Hop("TCP", "127.0.0.50", 40312)  # its connection's port, not its Contact's
    routes = _answered_behind_nat(proxy, phone)
    # RFC 5658: UDP towards the caller, TCP towards the phone; both entries name the flow.
    token = TOKENS.mint("call-1@127.0.0.9", "caller-tag", "tcp-127.0.0.50-40312")
    assert routes == [
        f"<sip:127.0.0.1:5060;transport=udp;lr;vpf=tcp-127.0.0.50-40312;vpt={token}>",
        f"<sip:127.0.0.1:5060;transport=tcp;lr;vpf=tcp-127.0.0.50-40312;vpt={token}>"]
    core.receive(_caller("BYE", routes, "z9hG4bKtcpbye"), CALLER)
    assert [(hop, m.method) for hop, m in link.take() if isinstance(m, Request)] == [
        (phone, "BYE")]


@pytest.mark.parametrize("hop", [Hop("UDP", "127.0.0.50", 5070), Hop("TCP", "::1", 40312),
                                 Hop("UDP", "2001:db8::7", 5060)])
def test_a_flow_value_names_the_transport_address_and_nothing_else(hop: Hop) -> None:
    value = flow_value(hop)
    assert value.replace("-", "").replace("_", "").replace(".", "").isalnum()  # §25.1
    assert flow_hop(value) == hop
    assert hop_for_uri(parse_uri(flow_uri(hop))) == hop


@pytest.mark.parametrize("value", ["", "udp-127.0.0.50", "sctp-127.0.0.50-5070",
                                   "udp-example.com-5070", "udp-127.0.0.50-0",
                                   "udp-127.0.0.50-70000", "udp-127.0.0.50-5070-1"])
def test_a_malformed_flow_value_names_no_address(value: str) -> None:
    assert flow_hop(value) is None


def test_a_flow_the_token_does_not_cover_is_refused(proxy: Proxy) -> None:
    core, _, link, _ = proxy
    routes = _answered_behind_nat(proxy)
    elsewhere = [routes[0].replace(FLOW, "udp-127.0.0.66-5090")]
    added = [f"<sip:127.0.0.1:5060;transport=udp;lr;vpf=udp-127.0.0.66-5090;"
             f"vpt={TOKENS.mint('call-1@127.0.0.9', 'caller-tag')}>"]
    for index, forged in enumerate((elsewhere, added)):
        core.receive(_caller("BYE", forged, f"z9hG4bKforged{index}"), CALLER)
        sent = link.take()
        assert not [m for _, m in sent if isinstance(m, Request)]
        assert [(m.status, m.reason) for _, m in sent if isinstance(m, Response)] == [
            (403, "Forbidden (route set not issued by this proxy)")]
    assert core.stats["refused_route_token"] == 2


def test_requests_from_the_phone_follow_the_callers_contact_as_before(proxy: Proxy) -> None:
    core, _, link, _ = proxy
    routes = list(reversed(_answered_behind_nat(proxy)))  # the phone's route set: §12.1.1
    bye = _in_dialog("BYE", "sip:carol@127.0.0.9:5090", routes, branch="z9hG4bKphonebye",
                     from_="<sip:1000@127.0.0.1>;tag=a", via="127.0.0.200:9",
                     to="<sip:+14155550199@127.0.0.9>;tag=caller-tag", cseq=1)
    core.receive(bye, PHONE)
    assert [(hop, m.method) for hop, m in link.take() if isinstance(m, Request)] == [
        (CALLER, "BYE")]


# --- a phone behind a NAT places the call: the callee's requests go down its flow ------

BOB = Hop("UDP", "127.0.0.77", 5080)
CALLER_FLOW_TOKEN = TOKENS.mint("call-1@127.0.0.9", "caller-tag", "", FLOW)


def _from_phone(branch: str, extra: str = "", contact: str = BEHIND_NAT) -> bytes:
    """Alice's INVITE to bob's line 2000, its Via and Contact as the phone wrote them."""
    return invite("sip:2000@127.0.0.1:5060", branch=branch, extra=extra).replace(
        b"sip:+14155550199@127.0.0.9", b"sip:1000@vipproxy.test").replace(
        b"127.0.0.9:5090", contact.encode())


def _placed_behind_nat(proxy: Proxy, phone: Hop = PHONE, contact: str = BEHIND_NAT,
                       ) -> list[str]:
    """Alice's phone (registered, Contact ``contact``) calls bob from ``phone``; bob
    answers. Bob's route set (the INVITE's Record-Route as is: §12.1.1)."""
    core, _, link, _ = proxy
    _registered(proxy, contact=contact, phone=phone)
    over = f"SIP/2.0/{phone.transport}".encode()
    core.receive(_from_phone("z9hG4bKout1", contact=contact).replace(b"SIP/2.0/UDP", over),
                 phone)
    challenge = _md5_challenge(_final(link), "proxy-authenticate")
    credentials = _answer_challenge(challenge, "alice", "alice-secret", "INVITE",
                                    "sip:2000@127.0.0.1:5060", "Proxy-Authorization")
    core.receive(_from_phone("z9hG4bKout2", credentials, contact).replace(
        b"SIP/2.0/UDP", over), phone)
    forwarded = [(hop, m) for hop, m in link.take() if isinstance(m, Request)]
    assert [(hop, m.method) for hop, m in forwarded] == [(BOB, "INVITE")]
    core.receive(answer(forwarded[0][1], 200, "OK", to_tag="b"), BOB)
    assert _final(link).status == 200
    return forwarded[0][1].header_values("record-route")


def _from_bob(method: str, routes: list[str], branch: str) -> bytes:
    return _in_dialog(method, f"sip:alice@{BEHIND_NAT}", routes, branch=branch,
                      from_="<sip:2000@127.0.0.1>;tag=b", via="127.0.0.77:5080",
                      to="<sip:1000@vipproxy.test>;tag=caller-tag", cseq=1)


def test_a_call_placed_from_behind_a_nat_names_the_callers_flow_under_the_token(
        proxy: Proxy) -> None:
    routes = _placed_behind_nat(proxy)
    assert routes == [f"<sip:127.0.0.1:5060;transport=udp;lr;vpc={FLOW};"
                      f"vpt={CALLER_FLOW_TOKEN}>"]


def test_the_callees_bye_and_reinvite_go_down_the_callers_flow(proxy: Proxy) -> None:
    core, _, link, _ = proxy
    routes = _placed_behind_nat(proxy)
    core.receive(_from_bob("BYE", routes, "z9hG4bKbobbye"), BOB)
    core.receive(_from_bob("INVITE", routes, "z9hG4bKbobreinvite"), BOB)
    sent = [(hop, m) for hop, m in link.take() if isinstance(m, Request)]
    assert [(hop, m.method, m.uri) for hop, m in sent] == [
        (PHONE, "BYE", f"sip:alice@{BEHIND_NAT}"), (PHONE, "INVITE", f"sip:alice@{BEHIND_NAT}")]
    assert all(m.header("route") is None for _, m in sent)


def test_a_phone_calling_over_tcp_gets_the_callees_bye_over_its_own_connection(
        proxy: Proxy) -> None:
    core, _, link, _ = proxy
    phone = Hop("TCP", "127.0.0.50", 40312)
    routes = _placed_behind_nat(proxy, phone)
    # RFC 5658: TCP towards the phone, UDP towards bob; both entries name the flow.
    flow = "tcp-127.0.0.50-40312"
    token = TOKENS.mint("call-1@127.0.0.9", "caller-tag", "", flow)
    assert routes == [f"<sip:127.0.0.1:5060;transport=udp;lr;vpc={flow};vpt={token}>",
                      f"<sip:127.0.0.1:5060;transport=tcp;lr;vpc={flow};vpt={token}>"]
    core.receive(_from_bob("BYE", routes, "z9hG4bKbobtcpbye"), BOB)
    assert [(hop, m.method) for hop, m in link.take() if isinstance(m, Request)] == [
        (phone, "BYE")]


def test_a_phone_whose_contact_is_where_it_calls_from_gets_the_record_route_as_before(
        proxy: Proxy) -> None:
    routes = _placed_behind_nat(proxy, contact="127.0.0.50:5070")
    token = TOKENS.mint("call-1@127.0.0.9", "caller-tag")
    assert routes == [f"<sip:127.0.0.1:5060;transport=udp;lr;vpt={token}>"]


def test_a_caller_flow_the_token_does_not_cover_is_refused(proxy: Proxy) -> None:
    core, _, link, _ = proxy
    routes = _placed_behind_nat(proxy)
    elsewhere = [routes[0].replace(FLOW, "udp-127.0.0.66-5090")]
    added = [f"<sip:127.0.0.1:5060;transport=udp;lr;vpc=udp-127.0.0.66-5090;"
             f"vpt={TOKENS.mint('call-1@127.0.0.9', 'caller-tag')}>"]
    swapped = [routes[0].replace("vpc=", "vpf=")]  # the caller's flow claimed as the callee's
    for index, forged in enumerate((elsewhere, added, swapped)):
        core.receive(_from_bob("BYE", forged, f"z9hG4bKforgedc{index}"), BOB)
        sent = link.take()
        assert not [m for _, m in sent if isinstance(m, Request)]
        assert [(m.status, m.reason) for _, m in sent if isinstance(m, Response)] == [
            (403, "Forbidden (route set not issued by this proxy)")]
    assert core.stats["refused_route_token"] == 3


def test_requests_from_the_calling_phone_follow_the_callees_contact_as_before(
        proxy: Proxy) -> None:
    core, _, link, _ = proxy
    routes = _placed_behind_nat(proxy)
    bye = _in_dialog("BYE", "sip:b@127.0.0.2:5070", list(reversed(routes)),
                     branch="z9hG4bKalicebye", from_="<sip:1000@vipproxy.test>;tag=caller-tag",
                     to="<sip:2000@127.0.0.1>;tag=b", via=BEHIND_NAT)
    core.receive(bye, PHONE)
    assert [(hop, m.method, m.uri) for hop, m in link.take() if isinstance(m, Request)] == [
        (Hop("UDP", "127.0.0.2", 5070), "BYE", "sip:b@127.0.0.2:5070")]


def test_an_unauthenticated_caller_gets_no_callers_flow(proxy: Proxy) -> None:
    core, _, link, _ = proxy
    # A trusted peer whose Contact is elsewhere: nothing says it is a phone behind a NAT.
    core.receive(invite(branch="z9hG4bKpeer").replace(b"Contact: <sip:carol@127.0.0.9:5090>",
                                                       b"Contact: <sip:carol@127.0.0.8:5090>"),
                 CALLER)
    forwarded = [m for _, m in link.take() if isinstance(m, Request)]
    token = TOKENS.mint("call-1@127.0.0.9", "caller-tag")
    assert forwarded[0].header_values("record-route") == [
        f"<sip:127.0.0.1:5060;transport=udp;lr;vpt={token}>"]


def test_a_held_caller_behind_a_nat_is_picked_up_down_its_flow(proxy: Proxy) -> None:
    core, _, link, _ = proxy
    tracker = DialogTracker(parse_config(CONFIG).directory)
    core.events.subscribe(tracker.observe)  # type: ignore[arg-type]
    core._classifier = replace(core._classifier, dialogs=tracker)  # type: ignore[attr-defined]
    routes = _placed_behind_nat(proxy)
    sdp = "v=0\r\nc=IN IP4 127.0.0.77\r\nm=audio 4000 RTP/AVP 0\r\na=sendonly\r\n"
    hold = _from_bob("INVITE", routes, "z9hG4bKbobholds").replace(
        b"Content-Length: 0\r\n", f"Content-Type: application/sdp\r\n"
                                  f"Content-Length: {len(sdp)}\r\n".encode()) + sdp.encode()
    core.receive(hold, BOB)
    [(hop, held)] = [(hop, m) for hop, m in link.take() if isinstance(m, Request)]
    core.receive(answer(held, 200, "OK"), hop)
    link.take()

    # Bob seizes the held call from his other phone key: his line, to his line.
    seize = invite("sip:2000@127.0.0.1:5060", branch="z9hG4bKseize").replace(
        b"sip:+14155550199@127.0.0.9", b"sip:2000@127.0.0.1").replace(
        b"call-1@", b"seize-1@").replace(b"127.0.0.9:5090", b"127.0.0.77:5080")
    core.receive(seize, BOB)

    [(hop, pickup)] = [(hop, m) for hop, m in link.take() if isinstance(m, Request)]
    assert (hop, pickup.uri) == (PHONE, f"sip:carol@{BEHIND_NAT}")  # down the flow
    assert pickup.header("replaces") == "call-1@127.0.0.9;to-tag=caller-tag;from-tag=b"
    [record_route] = pickup.header_values("record-route")
    assert f"vpf={FLOW};" in record_route  # the ACK and BYE follow it down the flow
