"""Registration and digest authentication end to end: the real vipproxy, phones
that register (SIPp, baresip, hand-written REGISTERs from UDP probes), calls
routed to what they registered.

Alice (``users.alice``: line 1000, ``endpoints: [registered]``, digest
credentials alice / alice-secret) lives in the domain and realm ``vipproxy.test``.
A phone registers ``sip:alice@vipproxy.test``; a call to line 1000 rings every
contact she registered, at the address the REGISTER came from.

What the peers can answer decides what the proxy must offer (see
``registration_support``): SIPp 3.6.1 joins every WWW-Authenticate value into
one string and reads realm, nonce, qop and algorithm from the first, answering
only MD5; baresip 1.0.0 (libre 1.1.0) gives up on any challenge that is not MD5
and on a second challenge for the same realm. The SIPp tests therefore ask for
``auth.algorithms: [MD5, SHA-256]`` and the baresip tests for ``[MD5]``; the
hand-written clients take the proxy's default. linphonec (liblinphone 5.1) answers
SHA-256: ``test_linphone.py`` offers it alone.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from postgres_server import postgres_url, wipe_postgres

from proxy.defaults import FLOW_TIMER_TCP_SECONDS

from .baresip import Registration
from .conftest import OpenProbe, StartPhone, StartProxy
from .digest import challenges, credentials, offered
from .loopback import Endpoint, LoopbackAllocator, Transport, wait_until
from .proxy_process import REPO_ROOT, ProxyProcess
from .registration_support import (
    ALICE,
    ALICE_PASSWORD,
    ANSWER_TIMEOUT,
    BARESIP_ALGORITHMS,
    DOMAIN,
    LINE,
    REALM,
    REGISTER_EXPIRES,
    SIPP_ALGORITHMS,
    Registrant,
    contact_expires,
    contact_uris,
    register_with_sipp,
    registering_user,
    registration_directory,
    sipp_contact,
)
from .sip_trace import TracedMessage, only
from .sipp import SippLauncher, SippResult, assert_all_passed
from .test_delegation import NOT_RUNG, assert_from_proxy, assert_never_rung
from .test_security import CALLEE_TAG, QUIET, acknowledge, ask, invite_text, response_from
from .udp_probe import request_text, response_text

pytestmark = pytest.mark.e2e

# The proxies reload the location table from a shared store about every second.
SHARED_RELOAD = 3.0
# Slack on a loaded machine for a phone's first REGISTER exchange.
PHONE_REGISTERS_WITHIN = 10.0
# A call whose only phone's connection has closed reaches the mailbox within
# PROMPTLY seconds: far less than the ring timeout of a phone rung in vain, or
# Timer B (32 s with the tests' T1).
FLOW_RING_TIMEOUT = "10s"
PROMPTLY = 4.0
# RFC 8760: SHA-512-256 is offered where Python has the real FIPS 180-4 hash.
_SHA512_256_OF_ABC = "53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23"
# The proxy's failure throttle: this many wrong answers from one address in 60 s.
MAX_FAILURES = 20
# A phone's Contact as written behind a NAT: an address where nothing listens.
UNREACHABLE_CONTACT = "127.0.0.200:9"


def default_algorithms() -> set[str]:
    """The algorithms the proxy offers by default on this Python."""
    try:
        real = hashlib.new("sha512_256", b"abc").hexdigest() == _SHA512_256_OF_ABC
    except ValueError:
        real = False
    return {"SHA-256", "MD5"} | ({"SHA-512-256"} if real else set())


def assert_challenge_fields(message: TracedMessage, header: str = "WWW-Authenticate") -> None:
    """Every challenge names the realm, offers qop="auth" and carries a nonce."""
    found = challenges(message, header)
    assert found, f"no {header}:\n{message.text}"
    for challenge in found:
        assert challenge.params.get("realm") == REALM, challenge.value
        assert challenge.params.get("qop") == "auth", challenge.value
        assert challenge.params.get("nonce"), challenge.value
        assert "stale" not in challenge.params, challenge.value


def header_names(message: TracedMessage) -> list[str]:
    """The header field names of a message, in order, lower-cased."""
    head = re.split(r"\r?\n\r?\n", message.text, maxsplit=1)[0]
    return [line.split(":", 1)[0].strip().lower() for line in head.splitlines()[1:] if ":" in line]


def rung_contact(result: SippResult) -> str:
    """The Request-URI of the one INVITE a SIPp callee received."""
    return only(result.received("INVITE"), f"INVITE at {result.name}").start_line.split()[1]


# --- 1 and 2. the REGISTER exchange --------------------------------------------------------


def test_sipp_registers_with_md5_digest_and_the_200_lists_its_contact(
    vipproxy: StartProxy, sipp: SippLauncher, loopback: LoopbackAllocator
) -> None:
    proxy = vipproxy({}, registration_directory(algorithms=SIPP_ALGORITHMS))
    spot = loopback.endpoint()

    result = register_with_sipp(sipp, proxy, spot)

    challenge, ok = result.final_responses("REGISTER")
    assert (challenge.status, challenge.reason) == (401, "Unauthorized"), challenge.text
    assert [c.algorithm for c in challenges(challenge)] == list(SIPP_ALGORITHMS), challenge.text
    assert_challenge_fields(challenge)
    answered = result.sent("REGISTER")[-1].header("Authorization")
    assert 'username="alice"' in answered and "algorithm=MD5" in answered, answered
    assert ok.status == 200, ok.text
    expires = contact_expires(ok)
    assert list(expires) == [sipp_contact(spot)], ok.text
    assert 0 < expires[sipp_contact(spot)] <= REGISTER_EXPIRES, ok.text
    # The location table, as `vipproxy registrations` reads it from the store (the
    # binding is written behind, within a fraction of a second).
    assert wait_until(lambda: sipp_contact(spot) in registrations_listed(proxy), 3.0), (
        registrations_listed(proxy))


def registrations_listed(proxy: ProxyProcess) -> str:
    """What `vipproxy registrations` prints for the proxy's configuration."""
    listed = subprocess.run(
        [sys.executable, "-m", "proxy", "registrations", "--config", str(proxy.config_path)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=30, check=True)
    return listed.stdout


def test_challenge_offers_each_algorithm_and_sha_256_credentials_register(
    vipproxy: StartProxy, udp_probe: OpenProbe
) -> None:
    proxy = vipproxy({}, registration_directory())
    phone = udp_probe()
    registrant = Registrant(phone, proxy)
    contact = phone.endpoint.sip_uri(ALICE)

    challenge = registrant.challenge(contact=contact, expires=REGISTER_EXPIRES)
    ok = registrant.send(contact=contact, expires=REGISTER_EXPIRES,
                         authorization=registrant.answer(challenge, algorithm="SHA-256"))
    removed = registrant.register(contact=contact, expires=0)

    algorithms = [c.algorithm for c in challenges(challenge)]
    assert sorted(algorithms) == sorted(default_algorithms()), challenge.text
    assert_challenge_fields(challenge)
    assert ok.status == 200, ok.text
    assert 0 < contact_expires(ok)[contact] <= REGISTER_EXPIRES, ok.text
    assert removed.status == 200 and contact_uris(removed) == [], removed.text


def test_wrong_password_and_unknown_user_get_the_same_challenge(
    vipproxy: StartProxy, udp_probe: OpenProbe
) -> None:
    proxy = vipproxy({}, registration_directory())
    phone = udp_probe()
    alice = Registrant(phone, proxy)
    mallory = Registrant(phone, proxy, aor_user="mallory", username="mallory")

    wrong = alice.send(authorization=alice.answer(alice.challenge(), password="not-her-password"))
    unknown = mallory.send(authorization=mallory.answer(mallory.challenge()))

    for answer in (wrong, unknown):
        assert (answer.status, answer.reason) == (401, "Unauthorized"), answer.text
        assert_challenge_fields(answer)
    assert header_names(wrong) == header_names(unknown), (wrong.text, unknown.text)
    assert [c.without_nonce() for c in challenges(wrong)] == [
        c.without_nonce() for c in challenges(unknown)], (wrong.text, unknown.text)


# --- 3. calls to a registered contact ------------------------------------------------------


def test_call_rings_the_registered_contact_until_it_unregisters_then_voicemail(
    vipproxy: StartProxy, sipp: SippLauncher, loopback: LoopbackAllocator
) -> None:
    spot = loopback.endpoint()
    mailbox = sipp.uas("vm", "uas_answer.xml")
    # Alice's only phone is the registered one: without it her stage is skipped
    # and the plan goes on to her mailbox.
    delegation = {"vip_delegation": {"enabled": True, "vip_callers": "ring_me_only",
                                     "other_callers": "ring_me_only"},
                  "ring_timeout": "5s", "voicemail": mailbox.uri("vm-alice")}
    proxy = vipproxy({}, registration_directory(algorithms=SIPP_ALGORITHMS,
                                                delegations={ALICE: delegation}))

    register_with_sipp(sipp, proxy, spot)
    phone = sipp.uas("alice", "uas_answer.xml", local=spot)
    first_caller, phone_result = sipp.finish(
        sipp.uac("first-call", "uac_call.xml", remote=proxy.endpoint, service=LINE), phone)
    assert_all_passed(first_caller, phone_result)
    assert not mailbox.received_so_far("INVITE"), "the mailbox rang while Alice's phone was there"

    removed = register_with_sipp(sipp, proxy, spot, expires=0, name="unregister")
    gone = sipp.uas("alice-gone", "uas_reject.xml", fill=NOT_RUNG, local=spot)
    second_caller, mailbox_result = sipp.finish(
        sipp.uac("second-call", "uac_call.xml", remote=proxy.endpoint, service=LINE), mailbox)
    assert_never_rung(gone)

    assert rung_contact(phone_result) == sipp_contact(spot)
    assert_from_proxy(only(phone_result.received("INVITE"), "INVITE at Alice"), proxy)
    assert contact_uris(removed.final_responses("REGISTER")[-1]) == [], removed.flow()
    assert_all_passed(second_caller, mailbox_result)
    assert second_caller.final_status() == 200
    assert len(mailbox_result.received("INVITE")) == 1, mailbox_result.flow()


def took_a_connection(listener: socket.socket) -> bool:
    """Whether a connection waits on ``listener`` (closed at once if so)."""
    listener.setblocking(False)
    try:
        connection, _ = listener.accept()
    except BlockingIOError:
        return False
    connection.close()
    return True


def test_a_phone_on_tcp_is_rung_over_its_connection_and_skipped_once_it_closed(
    vipproxy: StartProxy, sipp: SippLauncher, loopback: LoopbackAllocator,
    udp_probe: OpenProbe,
) -> None:
    """RFC 5626 §5.3: a phone that registered over its own TCP connection (with
    outbound, §6) is rung over that connection; once the connection has closed its
    contact is not tried until it registers again, and the call goes on to the
    mailbox at once."""
    spot = loopback.endpoint()
    mailbox = sipp.uas("vm", "uas_answer.xml")
    delegation = {"vip_delegation": {"enabled": True, "vip_callers": "ring_me_only",
                                     "other_callers": "ring_me_only"},
                  "ring_timeout": FLOW_RING_TIMEOUT, "voicemail": mailbox.uri("vm-alice")}
    proxy = vipproxy({}, registration_directory(algorithms=SIPP_ALGORITHMS,
                                                delegations={ALICE: delegation}))
    contact = f"sip:{ALICE}@{spot};transport=TCP"
    # SIPp hands the phone only the INVITE of the Call-ID it registered with.
    call_id = f"flow-{spot.host}"

    phone = sipp.uac("phone", "uac_register_then_answer.xml", remote=proxy.endpoint,
                     service=ALICE, transport="tcp", local=spot, timeout=30, call_id=call_id,
                     keys={"domain": DOMAIN, "expires": str(REGISTER_EXPIRES),
                           "contact": str(spot)})
    Registrant(udp_probe(), proxy).wait_for(lambda found: contact in found,
                                            PHONE_REGISTERS_WITHIN)
    first_caller, phone_result = sipp.finish(
        sipp.uac("first-call", "uac_call.xml", remote=proxy.endpoint, service=LINE,
                 call_id=call_id), phone)
    assert_all_passed(first_caller, phone_result)
    assert not mailbox.received_so_far("INVITE"), "the mailbox rang while Alice's phone was there"
    registered = phone_result.final_responses("REGISTER")[-1]
    rport = re.search(r"rport=(\d+)", registered.header("Via"))
    assert rport, registered.text  # the port of the phone's end of the connection
    # SIPp has exited and its connection is closed. Something listening where it was
    # would take a connection the proxy opened to the dead contact, and the call would
    # ring there for the ring timeout instead of going on at once.
    with socket.socket() as where_the_phone_was:
        where_the_phone_was.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        where_the_phone_was.bind((spot.host, int(rport[1])))
        where_the_phone_was.listen()
        second_caller, mailbox_result = sipp.finish(
            sipp.uac("second-call", "uac_call.xml", remote=proxy.endpoint, service=LINE),
            mailbox)
        dialled_the_dead_contact = took_a_connection(where_the_phone_was)

    assert (registered.status, registered.header("Require"),
            registered.header("Flow-Timer")) == (200, "outbound", str(FLOW_TIMER_TCP_SECONDS)), (
        registered.text)
    invite = only(phone_result.received("INVITE"), "INVITE at Alice's phone")
    assert (invite.transport, rung_contact(phone_result)) == ("TCP", contact)
    assert not dialled_the_dead_contact, "the proxy opened a connection to the closed flow"
    assert_all_passed(second_caller, mailbox_result)
    assert second_caller.final_status() == 200
    assert len(mailbox_result.received("INVITE")) == 1, mailbox_result.flow()
    took = second_caller.final_responses()[-1].time - second_caller.sent("INVITE")[0].time
    assert took < PROMPTLY, f"the call reached the mailbox after {took:.1f} s"
    [skipped] = proxy.events("route.unregistered")
    assert skipped["users"] == [f"{ALICE}: no registered phone"], skipped


def test_a_phone_behind_a_nat_gets_the_callers_ack_and_bye_where_it_registered_from(
    vipproxy: StartProxy, sipp: SippLauncher, loopback: LoopbackAllocator,
    udp_probe: OpenProbe,
) -> None:
    """RFC 5626 §5.3: a phone whose Contact names an address where nothing listens
    (its private address behind a NAT) is rung where its REGISTER came from, and so
    are the caller's ACK and BYE: the proxy's Record-Route names that flow."""
    spot = loopback.endpoint()
    proxy = vipproxy({}, registration_directory(algorithms=SIPP_ALGORITHMS))
    contact = f"sip:{ALICE}@{UNREACHABLE_CONTACT};transport=UDP"
    call_id = f"nat-{spot.host}"  # SIPp hands the phone only its REGISTER's Call-ID

    phone = sipp.uac("phone", "uac_register_then_answer.xml", remote=proxy.endpoint,
                     service=ALICE, local=spot, timeout=30, call_id=call_id,
                     keys={"domain": DOMAIN, "expires": str(REGISTER_EXPIRES),
                           "contact": UNREACHABLE_CONTACT})
    Registrant(udp_probe(), proxy).wait_for(lambda found: contact in found,
                                            PHONE_REGISTERS_WITHIN)
    caller, phone_result = sipp.finish(
        sipp.uac("caller", "uac_call.xml", remote=proxy.endpoint, service=LINE,
                 call_id=call_id), phone)

    assert_all_passed(caller, phone_result)  # the phone got the ACK and the BYE
    for method in ("INVITE", "ACK", "BYE"):
        request = only(phone_result.received(method), f"{method} at Alice's phone")
        assert request.start_line.split()[1] == contact, request.text
    # The caller routed its ACK and BYE by the Record-Route the phone copied into its
    # 200, unchanged: the flow under the route token.
    route = only(caller.sent("BYE"), "the caller's BYE").header("Route")
    assert f";vpf=udp-{spot.host}-{spot.port};vpt=" in route, route


def test_a_phone_behind_a_nat_that_places_a_call_gets_the_callees_requests_where_it_called_from(
    vipproxy: StartProxy, sipp: SippLauncher, loopback: LoopbackAllocator,
) -> None:
    """RFC 3581, RFC 5626 §5.3: a phone whose Contact names an address where nothing
    listens places a call; the callee's re-INVITEs and BYE reach the socket the
    INVITE came from: the proxy's Record-Route names that flow."""
    spot = loopback.endpoint()
    callee = sipp.uas("bob", "uas_answer_hold.xml", pause_ms=200, timeout=20.0)
    bob = {"name": "Bob", "lines": ["1001"], "endpoints": [callee.uri("bob")]}
    proxy = vipproxy({}, registration_directory({ALICE: registering_user(), "bob": bob},
                                                algorithms=SIPP_ALGORITHMS,
                                                untrusted_calls="refuse"))
    phone = sipp.uac("phone", "uac_call_auth_until_bye.xml", remote=proxy.endpoint,
                     service="1001", local=spot, timeout=20.0,
                     keys={"caller": LINE, "caller_name": "Alice",
                           "contact": UNREACHABLE_CONTACT},
                     credentials=(ALICE, ALICE_PASSWORD), auth_uri=f"1001@{proxy.endpoint}")
    phone_result, callee_result = sipp.finish(phone, callee)

    assert_all_passed(phone_result, callee_result)  # hold, resume and BYE reached the phone
    requests = [*phone_result.received("INVITE"), *phone_result.received("BYE")]
    assert len(requests) == 3, phone_result.flow()
    for request in requests:
        assert request.start_line.split()[1].startswith(
            f"sip:{LINE}@{UNREACHABLE_CONTACT}"), request.text
    # The callee routed them by the Record-Route of the INVITE: the phone's flow under
    # the route token.
    route = only(callee_result.sent("BYE"), "the callee's BYE").header("Route")
    assert f";vpc=udp-{spot.host}-{spot.port};vpt=" in route, route


# --- 4. a real phone ------------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_baresip_registers_with_digest_and_answers_a_call_to_her_line(
    vipproxy: StartProxy, sipp: SippLauncher, baresip: StartPhone, udp_probe: OpenProbe,
    transport: Transport,
) -> None:
    proxy = vipproxy({}, registration_directory(algorithms=BARESIP_ALGORITHMS))
    phone = baresip(ALICE, Registration(DOMAIN, proxy.endpoint, ALICE, ALICE_PASSWORD,
                                        transport=transport))
    contacts = Registrant(udp_probe(), proxy).wait_for(bool, PHONE_REGISTERS_WITHIN)

    result = sipp.uac("caller", "uac_call.xml", remote=proxy.endpoint, service=LINE).wait()
    phone.stop()  # baresip writes its log when it exits

    [contact] = contacts
    assert phone.endpoint.host in contact, contacts
    assert ("transport=tcp" in contact.lower()) is (transport == "tcp"), contacts
    result.assert_passed()
    answer = only(result.final_responses(), "final response")
    assert answer.status == 200 and "baresip" in answer.header("Server"), answer.text
    assert "Call established" in phone.output(), phone.output()


# --- 5 and 6. registrations kept in the store ----------------------------------------------


def call_reaches_the_registered_phone(
    sipp: SippLauncher, proxy: ProxyProcess, spot: Endpoint
) -> None:
    """A call to Alice's line through ``proxy`` is answered by a SIPp callee at ``spot``."""
    phone = sipp.uas("alice", "uas_answer.xml", local=spot)
    caller = sipp.uac("caller", "uac_call.xml", remote=proxy.endpoint, service=LINE)
    caller_result, phone_result = sipp.finish(caller, phone)
    assert_all_passed(caller_result, phone_result)
    assert rung_contact(phone_result) == sipp_contact(spot)
    assert_from_proxy(only(phone_result.received("INVITE"), "INVITE at Alice"), proxy)


def test_registration_survives_a_restart_with_the_same_state_dir(
    vipproxy: StartProxy, sipp: SippLauncher, loopback: LoopbackAllocator, tmp_path: Path
) -> None:
    endpoint, spot = loopback.endpoint(), loopback.endpoint()
    directory = registration_directory(algorithms=SIPP_ALGORITHMS,
                                       state_dir=str(tmp_path / "state"))
    first = vipproxy({}, directory, endpoint=endpoint)
    register_with_sipp(sipp, first, spot)
    assert first.stop() == 0, first.stderr()

    second = vipproxy({}, directory, endpoint=endpoint)

    call_reaches_the_registered_phone(sipp, second, spot)


def test_two_proxies_sharing_postgresql_route_to_a_phone_registered_at_either(
    vipproxy: StartProxy, sipp: SippLauncher, loopback: LoopbackAllocator,
    udp_probe: OpenProbe,
) -> None:
    url = postgres_url("the shared-registration test")
    asyncio.run(wipe_postgres(url))
    directory = registration_directory(algorithms=SIPP_ALGORITHMS, store={"url": url})
    registrar, router = vipproxy({}, directory), vipproxy({}, directory)
    spot = loopback.endpoint()

    register_with_sipp(sipp, registrar, spot)
    Registrant(udp_probe(), router).wait_for(lambda found: sipp_contact(spot) in found,
                                            SHARED_RELOAD)

    call_reaches_the_registered_phone(sipp, router, spot)


# --- 7. guessing passwords ------------------------------------------------------------------


def test_twenty_wrong_passwords_block_that_address_only(
    vipproxy: StartProxy, udp_probe: OpenProbe
) -> None:
    proxy = vipproxy({}, registration_directory())
    guesser = Registrant(udp_probe(), proxy)
    statuses = []
    challenge = guesser.challenge()
    for attempt in range(MAX_FAILURES):
        answer = guesser.send(authorization=guesser.answer(challenge, password=f"guess-{attempt}"))
        statuses.append(answer.status)
        if answer.status == 401:
            challenge = answer

    right_password = guesser.send(authorization=guesser.answer(challenge))
    no_credentials = guesser.send()
    neighbour = Registrant(udp_probe(), proxy)
    neighbour_challenge = neighbour.send()
    neighbour_query = neighbour.register()

    assert statuses[:-1] == [401] * (MAX_FAILURES - 1), statuses
    assert statuses[-1] in (401, 403), statuses
    for blocked in (right_password, no_credentials):
        assert (blocked.status, blocked.reason.split(" (")[0]) == (403, "Forbidden"), blocked.text
        assert not blocked.has_header("WWW-Authenticate"), blocked.text
    assert neighbour_challenge.status == 401, neighbour_challenge.text
    assert neighbour_query.status == 200, neighbour_query.text


# --- 8. calls from untrusted sources under refuse ------------------------------------------


def test_invite_under_refuse_is_challenged_407_and_routed_with_credentials(
    vipproxy: StartProxy, udp_probe: OpenProbe
) -> None:
    caller, callee = udp_probe(), udp_probe()
    bob = {"name": "Bob", "lines": ["1001"], "endpoints": [callee.endpoint.sip_uri("bob")]}
    proxy = vipproxy({}, registration_directory({ALICE: registering_user(), "bob": bob},
                                                untrusted_calls="refuse"))
    branch = "z9hG4bK-authenticated-invite"
    call_id = f"{branch}@{caller.endpoint.host}"

    challenge = ask(caller, proxy, invite_text(proxy, caller, branch, "1001"))
    acknowledge(caller, proxy, branch, "1001", challenge)
    nothing = callee.receive(QUIET)
    uri = f"sip:1001@{proxy.endpoint}"
    authorization = credentials(offered(challenge, "SHA-256", "Proxy-Authenticate"),
                                username=ALICE, password=ALICE_PASSWORD, method="INVITE", uri=uri)
    # The From names the authenticated user (one of her lines would do too): a From
    # that claims somebody else's identity is refused.
    retry = request_text("INVITE", proxy.endpoint, caller.endpoint, user="1001",
                         branch=f"{branch}-2",
                         headers={"Contact": f"<sip:probe@{caller.endpoint}>", "Call-ID": call_id,
                                  "CSeq": "2 INVITE", "Proxy-Authorization": authorization,
                                  "From": f"<sip:{ALICE}@{DOMAIN}>;tag=probe-tag"})
    caller.send(retry, proxy.endpoint)
    invite = callee.next_request("INVITE", ANSWER_TIMEOUT)
    assert invite is not None, "the authenticated INVITE never reached Bob's phone"
    callee.send(response_text(invite, 486, "Busy Here", to_tag=CALLEE_TAG), proxy.endpoint)
    busy = response_from(caller, 486)
    caller.send(request_text("ACK", proxy.endpoint, caller.endpoint, user="1001",
                             branch=f"{branch}-2", headers={"To": busy.header("To"),
                                                            "Call-ID": call_id,
                                                            "CSeq": "2 ACK"}), proxy.endpoint)

    assert (challenge.status, challenge.reason) == (407, "Proxy Authentication Required"), (
        challenge.text)
    assert not challenge.has_header("WWW-Authenticate"), challenge.text
    assert_challenge_fields(challenge, "Proxy-Authenticate")
    assert nothing is None, f"the unauthenticated INVITE was forwarded:\n{nothing.text}"
    assert_from_proxy(invite, proxy)
