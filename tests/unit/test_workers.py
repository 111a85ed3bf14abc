"""Several workers on one port: which worker serves what, how a worker advertises
itself, the handoff to the first worker and the ``workers`` section."""

from __future__ import annotations

import asyncio

import pytest
from fakelink import CALLER, TOKENS, invite, make_core
from sipfactory import response

from proxy.config.errors import ConfigError
from proxy.config.loader import parse_config
from proxy.core.local import Interface, LocalAddresses
from proxy.core.workers import first_worker_serves
from proxy.policy.trust import TrustModel
from proxy.sip.hop import Hop
from proxy.sip.message import Request, Response, parse_message
from proxy.transport.handoff import HandoffReceiver, HandoffSender, handoff_pair

CONFIG = """
listen: [{transport: udp, host: 127.0.0.1, port: 5060}]
workers: {count: 2, first_port: 5070}
untrusted_calls: local_lines
trusted_peers: ["127.0.0.9/32"]
users:
  alice: {name: Alice, lines: ["1000"], endpoints: ["sip:alice@127.0.0.5:5060"]}
routes:
  "2000":
    stages:
      - {targets: ["sip:a@127.0.0.2:5070"], timeout: 20s}
"""
# The second worker's view of the listener, and the first worker's.
SECOND = Interface("UDP", "127.0.0.1", 5060, own_port=5070)
FIRST = Interface("UDP", "127.0.0.1", 5060, first_worker=True)
LOCAL = LocalAddresses((SECOND,))
PHONE = Hop("UDP", "127.0.0.5", 5060)  # alice's static phone


def _request(data: bytes) -> Request:
    request = parse_message(data)
    assert isinstance(request, Request)
    return request


def _serves_first(data: bytes, source: Hop = CALLER) -> bool:
    config = parse_config(CONFIG)
    trust = TrustModel(config.directory, config.untrusted_calls)
    return first_worker_serves(_request(data), trust.source(source), LOCAL, config.directory)


def _in_dialog(method: str, route: str) -> bytes:
    return (f"{method} sip:a@127.0.0.2:5070 SIP/2.0\r\n"
            "Via: SIP/2.0/UDP 127.0.0.9:5090;branch=z9hG4bKdialog1\r\n"
            f"Route: {route}\r\nMax-Forwards: 70\r\n"
            "From: <sip:carol@127.0.0.9>;tag=caller-tag\r\n"
            "To: <sip:2000@127.0.0.1>;tag=a\r\nCall-ID: call-1@127.0.0.9\r\n"
            f"CSeq: 2 {method}\r\nContent-Length: 0\r\n\r\n").encode()


def _record_route(interface: Interface) -> str:
    return interface.record_route(TOKENS.mint("call-1@127.0.0.9", "caller-tag", "", ""))


def test_a_call_to_a_static_route_stays_with_the_worker_that_got_it() -> None:
    call = invite()
    assert not _serves_first(call)
    cancel = call.replace(b"INVITE sip", b"CANCEL sip").replace(b"1 INVITE", b"1 CANCEL")
    assert not _serves_first(cancel)


@pytest.mark.parametrize(("data", "source"), [
    (invite("sip:1000@127.0.0.1:5060"), CALLER),  # a user's line: its state is the first's
    (invite(), PHONE),  # placed by a user's phone: it may be on the phone's line
    (invite(extra="Proxy-Authorization: Digest username=\"alice\"\r\n"), CALLER),
    (invite("sip:5555@127.0.0.1:5060"), CALLER),  # no route: the first says so
    (invite(extra="Route: <sip:127.0.0.7;lr>\r\n"), CALLER),  # a Route set of its own
    (invite().replace(b"INVITE sip", b"OPTIONS sip").replace(b"1 INVITE", b"1 OPTIONS"),
     CALLER),
    (invite().replace(b"INVITE sip", b"REGISTER sip").replace(b"1 INVITE", b"1 REGISTER"),
     CALLER),
    (invite().replace(b"INVITE sip", b"SUBSCRIBE sip").replace(b"1 INVITE", b"1 SUBSCRIBE"),
     CALLER),
])
def test_everything_else_goes_to_the_first_worker(data: bytes, source: Hop) -> None:
    assert _serves_first(data, source)


def test_in_dialog_requests_go_to_the_worker_whose_record_route_they_carry() -> None:
    assert not _serves_first(_in_dialog("BYE", _record_route(SECOND)))
    assert not _serves_first(_in_dialog("ACK", _record_route(SECOND)))
    # A dialog the first worker followed (a user's line) is marked: its BYE must reach
    # the line state, whichever worker the kernel gave it to.
    assert _serves_first(_in_dialog("BYE", _record_route(FIRST)))
    assert _serves_first(_in_dialog("ACK", _record_route(FIRST)))


def test_a_worker_names_its_own_port_in_its_via_and_the_shared_port_in_its_record_route() -> None:
    # The second worker's requests leave from its own port, and their responses come
    # back there; the first worker's leave from the shared port, as a single
    # process's do, for the phones behind NATs that registered there.
    assert SECOND.via("z9hG4bKx") == "SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKx;rport"
    assert FIRST.via("z9hG4bKx") == "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKx;rport"
    assert _record_route(SECOND).startswith("<sip:127.0.0.1:5060;transport=udp;lr;vpt=")
    assert _record_route(FIRST).startswith("<sip:127.0.0.1:5060;transport=udp;lr;vpw=0;vpt=")


def test_the_second_worker_forwards_a_route_call_and_hands_over_a_line_call() -> None:
    handed: list[tuple[bytes, Hop]] = []
    core, _, link = make_core(CONFIG, (SECOND,), first_worker=lambda data, hop: handed.append(
        (data, hop)))
    core.receive(invite(), CALLER)
    sent = link.take()
    forwarded = [message for _, message in sent if isinstance(message, Request)]
    assert [message.method for message in forwarded] == ["INVITE"]
    assert forwarded[0].via.port == 5070
    assert handed == []
    line_call = invite("sip:1000@127.0.0.1:5060", branch="z9hG4bKcaller2")
    core.receive(line_call, CALLER)
    assert link.take() == []  # not even a 100 Trying: the first worker answers
    assert handed == [(line_call, CALLER)]
    assert core.stats["handed_to_first_worker"] == 1
    assert core.live_server_transactions == 1  # the route call's only


def test_a_response_to_a_request_of_the_first_worker_is_handed_over() -> None:
    """The first worker's requests leave from the shared port, and the kernel may
    give their answers to the second worker: it knows no such transaction."""
    handed: list[tuple[bytes, Hop]] = []
    core, _, link = make_core(CONFIG, (SECOND,), first_worker=lambda data, hop: handed.append(
        (data, hop)))
    core.receive(invite(), CALLER)
    branch = next(message for _, message in link.take() if isinstance(message, Request))
    ours = response(branch, 180).serialize()
    theirs = ours.replace(branch.via.branch.encode(), b"z9hG4bKfirst.worker.1")
    callee = Hop("UDP", "127.0.0.2", 5070)
    core.receive(ours, callee)
    core.receive(theirs, callee)
    assert [status_of(message) for _, message in link.take()] == [180]  # ours, upstream
    assert handed == [(theirs, callee)]
    assert core.stats["responses_handed_to_first_worker"] == 1
    # A single process has nobody to hand it to: a response it does not know is dropped.
    alone, _, link = make_core(CONFIG, (Interface("UDP", "127.0.0.1", 5060),))
    alone.receive(theirs, callee)
    assert link.take() == [] and alone.stats["dropped_stray_response"] == 1


def status_of(message: object) -> int:
    assert isinstance(message, Response)
    return message.status


def test_the_first_worker_gets_the_datagram_and_its_sender() -> None:
    async def hand_over() -> list[tuple[bytes, Hop]]:
        received: list[tuple[bytes, Hop]] = []
        arrived = asyncio.Event()

        def receive(data: bytes, hop: Hop) -> None:
            received.append((data, hop))
            arrived.set()

        first_end, other_end = handoff_pair()
        receiver = HandoffReceiver(receive, asyncio.get_running_loop(), _Log())
        receiver.add(first_end)
        sender = HandoffSender(other_end, _Log())
        sender.send(invite(), Hop("UDP", "::1", 40000))
        sender.send(invite(), CALLER)
        await asyncio.wait_for(arrived.wait(), 5)
        while len(received) < 2:
            await asyncio.sleep(0.01)
        sender.close()
        receiver.close()
        return received

    assert asyncio.run(hand_over()) == [(invite(), Hop("UDP", "::1", 40000)),
                                        (invite(), CALLER)]


def test_the_end_of_a_worker_that_is_gone_is_closed() -> None:
    async def add_then_remove() -> int:
        first_end, other_end = handoff_pair()
        receiver = HandoffReceiver(lambda data, hop: None, asyncio.get_running_loop(), _Log())
        receiver.add(first_end)
        receiver.remove(first_end)
        other_end.close()
        receiver.close()  # closes the others: none is left
        return first_end.fileno()

    assert asyncio.run(add_then_remove()) == -1  # closed: a restarted worker leaks no socket


def test_a_handoff_the_first_worker_has_no_room_for_is_dropped_and_counted() -> None:
    first_end, other_end = handoff_pair()
    sender = HandoffSender(other_end, _Log())
    for _ in range(10_000):  # nobody reads: the queue fills
        sender.send(invite(), CALLER)
    assert 0 < sender.dropped < 10_000
    sender.close()
    first_end.close()


@pytest.mark.parametrize(("workers", "path", "fragment"), [
    ("{count: 2}", "workers", "2 workers need 'first_port'"),
    ("{count: 17, first_port: 5070}", "workers.count", "allowed: 1 to 16"),
    ("{count: 3, first_port: 5059}", "workers.first_port", "include 5060, a listener's port"),
    ("{count: 3, first_port: 65535}", "workers", "allowed: at most 65534"),
    ("{count: 2, first_port: 5070, ports: 3}", "workers.ports", "unknown key"),
])
def test_a_bad_workers_section_names_the_path_and_what_is_allowed(
        workers: str, path: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(f"listen: [{{host: 127.0.0.1, port: 5060}}]\nworkers: {workers}\n")
    problems = {problem.path: problem.message for problem in raised.value.problems}
    assert path in problems and fragment in problems[path], problems


def test_workers_ports_by_index_and_none_for_one_process() -> None:
    listen = "listen: [{host: 127.0.0.1, port: 5060}]\n"
    assert parse_config(listen).worker_ports == ()
    assert parse_config(listen + "workers: {count: 1, first_port: 5070}").worker_ports == ()
    assert parse_config(listen + "workers: {count: 3, first_port: 5070}").worker_ports == (
        5070, 5071)  # the second worker's and the third's: the first uses the listener's


class _Log:
    def warning(self, event: str, **fields: object) -> None:
        raise AssertionError(f"unexpected warning {event}: {fields}")

