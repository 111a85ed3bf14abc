"""The security model end to end (README, "Security model"): the real vipproxy
between hand-written UDP peers, each on a 127.x address of its own.

Each test also plays the attacker: a third address that sends what a real peer
would (a Route to somewhere else, a 200 or a CANCEL with a branch it learnt, an
in-dialog request with a made-up route token, a Via ``maddr``), next to a
listener of the test's own where nothing may arrive. Silence is proved by
reading that listener for ``QUIET`` seconds after the proxy has answered the
request: the proxy decides and sends in one step, so anything it was going to
send is already on its way when the answer arrives.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from .conftest import OpenProbe, StartProxy
from .loopback import Endpoint, LoopbackAllocator
from .proxy_process import ProxyProcess
from .sip_trace import TracedMessage, via_sent_by
from .test_forking import NUMBER, route, stage
from .udp_probe import UdpProbe, request_text, response_text

pytestmark = pytest.mark.e2e

# How long a peer waits for an answer the proxy owes it; generous for a loaded machine.
ANSWER_TIMEOUT = 5.0
# How long a listener is read to show that nothing arrived.
QUIET = 0.5
MISSING_NUMBER = "9999"
FORBIDDEN = (403, "Forbidden")
CALLEE_TAG = "callee"


def untrusted_calls(mode: str, **sections: Any) -> dict[str, Any]:
    """The directory sections of a test: ``untrusted_calls`` and any others."""
    return {"untrusted_calls": mode, **sections}


def ask(probe: UdpProbe, proxy: ProxyProcess, text: str) -> TracedMessage:
    """Send a request to the proxy and return the final answer it owes."""
    probe.send(text, proxy.endpoint)
    answer = probe.final_response(ANSWER_TIMEOUT)
    assert answer is not None, f"no answer to: {text.splitlines()[0]}"
    return answer


def acknowledge(caller: UdpProbe, proxy: ProxyProcess, branch: str, number: str,
                final: TracedMessage) -> None:
    """The ACK for a failure answer to the INVITE of :func:`invite_text` (RFC 3261
    §17.1.1.3): the INVITE's Via, From and Call-ID, the answer's To."""
    ack = request_text("ACK", proxy.endpoint, caller.endpoint, user=number, branch=branch,
                       headers={"To": final.header("To"), "CSeq": "1 ACK"})
    caller.send(ack, proxy.endpoint)


def assert_nothing_arrives(listener: UdpProbe, what: str) -> None:
    """``listener`` receives no datagram for ``QUIET`` seconds."""
    message = listener.receive(QUIET)
    assert message is None, f"{what}: arrived at {listener.endpoint}:\n{message.text}"


def stopped_stats(proxy: ProxyProcess) -> dict[str, Any]:
    """Stop the proxy (it must exit 0) and return the counters of its ``proxy.stopped``."""
    assert proxy.stop() == 0, proxy.stderr()
    stopped = proxy.events("proxy.stopped")
    assert stopped, f"no proxy.stopped in the log:\n{proxy.stderr()}"
    return stopped[-1]


def response_from(probe: UdpProbe, status: int, timeout: float = ANSWER_TIMEOUT) -> TracedMessage:
    """The first response with ``status`` that ``probe`` receives (others are skipped)."""
    message = probe.first(lambda m: not m.is_request and m.status == status, timeout)
    assert message is not None, f"{probe.endpoint} got no {status} within {timeout}s"
    return message


@contextmanager
def tcp_listener(endpoint: Endpoint) -> Iterator[socket.socket]:
    """A listening TCP socket on ``endpoint``, closed afterwards."""
    with socket.create_server((endpoint.host, endpoint.port)) as listener:
        yield listener


def assert_no_connection(listener: socket.socket, what: str) -> None:
    """Nobody connects to ``listener`` within ``QUIET`` seconds."""
    listener.settimeout(QUIET)
    try:
        connection, peer = listener.accept()
    except TimeoutError:
        return
    connection.close()
    raise AssertionError(f"{what}: {peer} connected to {listener.getsockname()}")


# --- calls between a caller probe and a callee probe ----------------------------------------


def invite_text(proxy: ProxyProcess, caller: UdpProbe, branch: str, number: str = NUMBER) -> str:
    """A caller's INVITE for ``number`` at the proxy (its Call-ID is made of ``branch``)."""
    contact = {"Contact": f"<sip:probe@{caller.endpoint}>"}
    return request_text("INVITE", proxy.endpoint, caller.endpoint, user=number, branch=branch,
                        headers=contact)


def place_call(
    proxy: ProxyProcess, caller: UdpProbe, callee: UdpProbe, branch: str
) -> TracedMessage:
    """The caller calls NUMBER; the INVITE as the callee received it from the proxy."""
    caller.send(invite_text(proxy, caller, branch), proxy.endpoint)
    invite = callee.next_request("INVITE", ANSWER_TIMEOUT)
    assert invite is not None, "the call never reached the callee"
    return invite


def ring(proxy: ProxyProcess, caller: UdpProbe, callee: UdpProbe, branch: str) -> TracedMessage:
    """Call NUMBER until the caller hears the callee's 180; the INVITE the callee got."""
    invite = place_call(proxy, caller, callee, branch)
    callee.send(response_text(invite, 180, "Ringing", to_tag=CALLEE_TAG), proxy.endpoint)
    response_from(caller, 180)
    return invite


def answer(proxy: ProxyProcess, callee: UdpProbe, invite: TracedMessage) -> None:
    """The callee answers ``invite`` with a 200 whose Contact is the callee itself."""
    contact = f"<{callee.endpoint.sip_uri(NUMBER)}>"
    callee.send(response_text(invite, 200, "OK", to_tag=CALLEE_TAG, contact=contact),
                proxy.endpoint)


def tag_of(message: TracedMessage, header: str = "To") -> str:
    """The tag parameter of ``header``, or ""."""
    match = re.search(r";\s*tag=([^;\s]+)", message.header(header))
    return match[1] if match else ""


@dataclass(frozen=True)
class Dialog:
    """What the caller knows of an established call (RFC 3261 §12.1.2)."""

    call_id: str
    local: str  # the caller's From, tag included
    remote: str  # the callee's To, tag included
    route_set: list[str]  # the 200's Record-Route, reversed
    target: Endpoint  # the callee's Contact


def in_dialog(dialog: Dialog, method: str, caller: UdpProbe, branch: str, cseq: int) -> str:
    """A request of the caller inside ``dialog`` (§12.2.1.1): to the callee's Contact
    along the route set."""
    headers = {
        "From": dialog.local,
        "To": dialog.remote,
        "Call-ID": dialog.call_id,
        "CSeq": f"{cseq} {method}",
        "Route": ", ".join(dialog.route_set),
    }
    return request_text(method, dialog.target, caller.endpoint, user=NUMBER, branch=branch,
                        headers=headers)


def establish_call(
    proxy: ProxyProcess, caller: UdpProbe, callee: UdpProbe, branch: str
) -> Dialog:
    """A call from ``caller`` to NUMBER answered by ``callee`` and ACKed through the proxy."""
    invite = place_call(proxy, caller, callee, branch)
    answer(proxy, callee, invite)
    ok = response_from(caller, 200)
    record_route = [value for line in ok.header_lines("Record-Route") for value in line.split(",")]
    assert record_route, f"the proxy did not Record-Route:\n{ok.text}"
    dialog = Dialog(ok.header("Call-ID"), ok.header("From"), ok.header("To"),
                    [value.strip() for value in reversed(record_route)], callee.endpoint)
    caller.send(in_dialog(dialog, "ACK", caller, f"{branch}-ack", 1), proxy.endpoint)
    assert callee.next_request("ACK", ANSWER_TIMEOUT) is not None, "the ACK never arrived"
    return dialog


def assert_from_proxy(message: TracedMessage, proxy: ProxyProcess) -> None:
    """The request was forwarded by the proxy: its top Via is the proxy's."""
    top = message.vias()[0]
    assert via_sent_by(top) == str(proxy.endpoint), f"{message.start_line}: top Via {top!r}"


# --- 1. routes to addresses the proxy does not serve ----------------------------------------


def foreign_route_requests(proxy: ProxyProcess, sender: UdpProbe, elsewhere: Endpoint) -> list[str]:
    """OPTIONS, MESSAGE and an in-dialog BYE, each with a Route to ``elsewhere`` over
    UDP and over TCP: what an attacker sends to use the proxy as a relay."""
    requests = []
    for transport in ("udp", "tcp"):
        for method, to_tag in (("OPTIONS", ""), ("MESSAGE", ""), ("BYE", ";tag=victim")):
            branch = f"z9hG4bK-foreign-{method.lower()}-{transport}"
            headers = {
                "Route": f"<sip:{elsewhere};transport={transport};lr>",
                "To": f"<sip:{NUMBER}@{proxy.endpoint.host}>{to_tag}",
            }
            requests.append(request_text(method, proxy.endpoint, sender.endpoint,
                                         branch=branch, headers=headers))
    return requests


@pytest.mark.parametrize("mode", ["refuse", "local_lines"])
def test_route_to_an_unconfigured_address_is_refused_and_nothing_is_sent_there(
    vipproxy: StartProxy, udp_probe: OpenProbe, loopback: LoopbackAllocator, mode: str
) -> None:
    elsewhere = loopback.endpoint()
    listener, sender = udp_probe(elsewhere), udp_probe()
    with tcp_listener(elsewhere) as stream_listener:
        proxy = vipproxy(route(stage(loopback.endpoint().sip_uri("a"))), untrusted_calls(mode))

        answers = [
            (text.split("\r\n", 1)[0], ask(sender, proxy, text).start_line)
            for text in foreign_route_requests(proxy, sender, elsewhere)
        ]

        assert all(status.startswith("SIP/2.0 403 ") for _, status in answers), answers
        assert_nothing_arrives(listener, "a request the proxy refused")
        assert_no_connection(stream_listener, "a request the proxy refused")


# --- 2 and 3. responses and CANCELs from a third address --------------------------------------


def test_forged_200_from_a_third_address_is_not_relayed(
    vipproxy: StartProxy, udp_probe: OpenProbe
) -> None:
    caller, callee, attacker = udp_probe(), udp_probe(), udp_probe()
    proxy = vipproxy(route(stage(callee.endpoint.sip_uri("a"))))
    invite = ring(proxy, caller, callee, "z9hG4bK-forged-200")

    # The attacker learnt the branch (it is in every Via the callee saw) and answers first.
    attacker.send(response_text(invite, 200, "OK", to_tag="forged",
                                contact=f"<sip:forger@{attacker.endpoint}>"), proxy.endpoint)
    answer(proxy, callee, invite)
    final = caller.final_response(ANSWER_TIMEOUT)

    assert final is not None, "the real 200 never reached the caller"
    # Over loopback the forged 200 reaches the proxy first: relayed, it would be first here.
    assert (final.status, tag_of(final)) == (200, CALLEE_TAG), final.text
    stopped = stopped_stats(proxy)
    assert stopped.get("dropped_foreign_response") == 1
    # Stopped at once, the proxy still held the call's INVITE transactions, which
    # linger 64*T1 after the 2xx (RFC 6026 §8.7): its exit dump says so at warning.
    assert stopped["level"] == "warning", stopped
    assert (stopped["left_server_transactions"], stopped["left_client_transactions"]) == (
        1, 1), stopped


def test_cancel_from_a_third_address_does_not_end_the_ringing_call(
    vipproxy: StartProxy, udp_probe: OpenProbe
) -> None:
    caller, callee, attacker = udp_probe(), udp_probe(), udp_probe()
    proxy = vipproxy(route(stage(callee.endpoint.sip_uri("a"))))
    branch = "z9hG4bK-forged-cancel"
    invite = ring(proxy, caller, callee, branch)

    # The CANCEL the caller would send (§9.1: its INVITE's Via, From, To, Call-ID,
    # CSeq number), sent from the attacker's address.
    cancel = request_text("CANCEL", proxy.endpoint, caller.endpoint, branch=branch,
                          headers={"CSeq": "1 CANCEL"})
    refused = ask(attacker, proxy, cancel)
    cancelled = callee.next_request("CANCEL", QUIET)
    answer(proxy, callee, invite)
    final = caller.final_response(ANSWER_TIMEOUT)

    assert refused.status == 481, refused.start_line
    assert cancelled is None, f"the forged CANCEL was forwarded:\n{cancelled.text}"
    assert final is not None and final.status == 200, "the call did not go on"
    assert stopped_stats(proxy).get("refused_foreign_cancel") == 1


# --- 4 and 5. route tokens ------------------------------------------------------------------


def without_token(dialog: Dialog) -> Dialog:
    return replace(dialog, route_set=[re.sub(r";vpt=[^;>]*", "", r) for r in dialog.route_set])


def with_made_up_token(dialog: Dialog) -> Dialog:
    return replace(dialog, route_set=[re.sub(r";vpt=[^;>]*", ";vpt=" + "0" * 20, r)
                                      for r in dialog.route_set])


def of_another_call(dialog: Dialog) -> Dialog:
    """The token of this call presented in another one: it is bound to the Call-ID."""
    return replace(dialog, call_id="another-call@attacker")


@pytest.mark.parametrize("tamper", [without_token, with_made_up_token, of_another_call])
def test_bye_with_our_route_but_no_valid_token_is_refused(
    vipproxy: StartProxy, udp_probe: OpenProbe, tamper: Callable[[Dialog], Dialog]
) -> None:
    caller, callee = udp_probe(), udp_probe()
    proxy = vipproxy(route(stage(callee.endpoint.sip_uri("a"))))
    dialog = establish_call(proxy, caller, callee, "z9hG4bK-token")
    assert all(";vpt=" in value for value in dialog.route_set), dialog.route_set

    refused = ask(caller, proxy, in_dialog(tamper(dialog), "BYE", caller, "z9hG4bK-token-bye", 2))
    forwarded = callee.next_request("BYE", QUIET)

    assert (refused.status, refused.reason) == (
        403, "Forbidden (route set not issued by this proxy)"), refused.start_line
    assert forwarded is None, f"forwarded anyway:\n{forwarded.text}"
    assert stopped_stats(proxy).get("refused_route_token") == 1


@dataclass(frozen=True)
class Restarted:
    """A call set up through one proxy, and the proxy started again in its place."""

    proxy: ProxyProcess
    caller: UdpProbe
    callee: UdpProbe
    dialog: Dialog


def restart_during_call(
    vipproxy: StartProxy, udp_probe: OpenProbe, loopback: LoopbackAllocator, tmp_path: Path,
    *, same_state_dir: bool,
) -> Restarted:
    """Establish a call, stop the proxy (SIGTERM) and start a new one on the same
    endpoint, with the same ``state_dir`` (the same route-token secret) or a new one."""
    caller, callee = udp_probe(), udp_probe()
    routes, endpoint = route(stage(callee.endpoint.sip_uri("a"))), loopback.endpoint()
    first = vipproxy(routes, {"state_dir": str(tmp_path / "state")}, endpoint=endpoint)
    dialog = establish_call(first, caller, callee, "z9hG4bK-restart")
    assert first.stop() == 0, first.stderr()
    state_dir = tmp_path / ("state" if same_state_dir else "new-state")
    second = vipproxy(routes, {"state_dir": str(state_dir)}, endpoint=endpoint)
    return Restarted(second, caller, callee, dialog)


def test_established_call_ends_with_bye_after_a_restart(
    vipproxy: StartProxy, udp_probe: OpenProbe, loopback: LoopbackAllocator, tmp_path: Path
) -> None:
    call = restart_during_call(vipproxy, udp_probe, loopback, tmp_path, same_state_dir=True)

    call.caller.send(in_dialog(call.dialog, "BYE", call.caller, "z9hG4bK-restart-bye", 2),
                     call.proxy.endpoint)
    bye = call.callee.next_request("BYE", ANSWER_TIMEOUT)
    assert bye is not None, "the BYE never reached the callee after the restart"
    assert_from_proxy(bye, call.proxy)
    call.callee.send(response_text(bye, 200, "OK", to_tag=CALLEE_TAG), call.proxy.endpoint)
    final = call.caller.final_response(ANSWER_TIMEOUT)

    assert final is not None and final.status == 200, "the callee's 200 did not come back"


def test_bye_after_a_restart_with_a_new_secret_is_refused(
    vipproxy: StartProxy, udp_probe: OpenProbe, loopback: LoopbackAllocator, tmp_path: Path
) -> None:
    call = restart_during_call(vipproxy, udp_probe, loopback, tmp_path, same_state_dir=False)

    refused = ask(call.caller, call.proxy,
                  in_dialog(call.dialog, "BYE", call.caller, "z9hG4bK-restart-bye", 2))
    forwarded = call.callee.next_request("BYE", QUIET)

    assert refused.status == 403, refused.start_line
    assert forwarded is None, f"forwarded anyway:\n{forwarded.text}"


# --- 6. enumeration ---------------------------------------------------------------------------


def test_refuse_gives_existing_and_missing_numbers_the_same_answer(
    vipproxy: StartProxy, udp_probe: OpenProbe
) -> None:
    caller, callee = udp_probe(), udp_probe()
    alice = {"name": "Alice", "lines": ["1000"], "endpoints": [callee.endpoint.sip_uri("alice")]}
    proxy = vipproxy(route(stage(callee.endpoint.sip_uri("a"))),
                     untrusted_calls("refuse", users={"alice": alice}))

    answers = {}
    for number in ("1000", NUMBER, MISSING_NUMBER):  # a user's line, a route, nothing
        branch = f"z9hG4bK-enumerate-{number}"
        final = ask(caller, proxy, invite_text(proxy, caller, branch, number))
        acknowledge(caller, proxy, branch, number, final)
        answers[number] = (final.status, final.reason)

    assert set(answers.values()) == {FORBIDDEN}, answers
    assert_nothing_arrives(callee, "a call from an untrusted source under refuse")


def test_local_lines_rings_a_line_but_refuses_a_route_elsewhere(
    vipproxy: StartProxy, udp_probe: OpenProbe, loopback: LoopbackAllocator
) -> None:
    caller, callee, listener = udp_probe(), udp_probe(), udp_probe()
    proxy = vipproxy(route(stage(callee.endpoint.sip_uri("a"))), untrusted_calls("local_lines"))

    branch = "z9hG4bK-local-line"
    rung = place_call(proxy, caller, callee, branch)
    callee.send(response_text(rung, 486, "Busy Here", to_tag=CALLEE_TAG), proxy.endpoint)
    busy = response_from(caller, 486)
    acknowledge(caller, proxy, branch, NUMBER, busy)
    message = request_text("MESSAGE", proxy.endpoint, caller.endpoint,
                           branch="z9hG4bK-local-elsewhere",
                           headers={"Route": f"<sip:{listener.endpoint};lr>"})
    refused = ask(caller, proxy, message)

    assert_from_proxy(rung, proxy)
    assert refused.status == 403, refused.start_line
    assert_nothing_arrives(listener, "a MESSAGE routed to an address the proxy does not serve")


# --- 7. Via maddr -----------------------------------------------------------------------------


@pytest.mark.parametrize("trusted", [False, True], ids=["untrusted", "trusted-peer"])
def test_via_maddr_is_honoured_for_trusted_peers_only(
    vipproxy: StartProxy, udp_probe: OpenProbe, loopback: LoopbackAllocator, trusted: bool
) -> None:
    sender, listener = udp_probe(), udp_probe()
    peers = [f"{sender.endpoint.host}/32"] if trusted else []
    proxy = vipproxy(route(stage(loopback.endpoint().sip_uri("a"))), {"trusted_peers": peers})
    # §18.2.2: with maddr, the answer would go to maddr at the sent-by port: the listener.
    via = (f"SIP/2.0/UDP {listener.endpoint};branch=z9hG4bK-maddr;rport;"
           f"maddr={listener.endpoint.host}")
    options = request_text("OPTIONS", proxy.endpoint, sender.endpoint, user=MISSING_NUMBER,
                           branch="z9hG4bK-maddr", headers={"Via": via})

    sender.send(options, proxy.endpoint)
    answered, silent = (listener, sender) if trusted else (sender, listener)
    answer_there = answered.final_response(ANSWER_TIMEOUT)
    stray = silent.receive(QUIET)

    assert answer_there is not None, f"no answer at {answered.endpoint}"
    assert stray is None, f"answered at {silent.endpoint} too:\n{stray.text}"
