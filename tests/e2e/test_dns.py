"""A gateway named by a host name, end to end: the real vipproxy resolves it (RFC
3263: NAPTR, then SRV, then A) at a DNS server on loopback that the test runs,
and fails over from the first SRV target, which takes the INVITE and never
answers (Timer B), to the second, a SIPp UAS that answers; asks again over TCP
when the UDP answer is truncated; and follows an answer that changed once its
TTL ran out.
"""

from __future__ import annotations

import socket
from collections.abc import Generator

import pytest

from .conftest import StartProxy
from .dns_server import DnsServer
from .loopback import Endpoint, LoopbackAllocator, wait_until
from .proxy_process import ProxyProcess
from .sipp import SippLauncher, assert_all_passed
from .test_outbound import DIALLED, _call, _directory

pytestmark = pytest.mark.e2e

GATEWAY = "gw.vipproxy.test"
# Timer B is 64*T1: 3.2 s instead of 32 s, so the failover comes within the call's time.
FAST_TIMERS = {"t1": "50ms", "t2": "4s", "t4": "5s"}


@pytest.fixture
def silent(loopback: LoopbackAllocator) -> Generator[socket.socket, None, None]:
    """A UDP socket that takes every request and answers none."""
    endpoint = loopback.endpoint()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((endpoint.host, endpoint.port))
    yield sock
    sock.close()


def test_a_gateway_host_name_is_resolved_and_fails_over_to_the_second_srv_target(
        vipproxy: StartProxy, sipp: SippLauncher, loopback: LoopbackAllocator,
        silent: socket.socket) -> None:
    first_host, first_port = silent.getsockname()
    second = loopback.endpoint()
    gateway = sipp.uas("gateway", "uas_answer.xml", local=second)
    server = DnsServer(loopback.endpoint(), {
        (f"{GATEWAY}.", "NAPTR"): [f'10 10 "s" "SIP+D2U" "" _sip._udp.{GATEWAY}.'],
        (f"_sip._udp.{GATEWAY}.", "SRV"): [f"10 0 {first_port} first.{GATEWAY}.",
                                           f"20 0 {second.port} second.{GATEWAY}."],
        (f"first.{GATEWAY}.", "A"): [first_host],
        (f"second.{GATEWAY}.", "A"): [second.host],
    })
    try:
        directory = {**_directory(f"sip:{GATEWAY}"), "timers": FAST_TIMERS,
                     "dns": {"servers": [f"{server.endpoint.host}:{server.endpoint.port}"]}}
        proxy = vipproxy({}, directory)
        assert (f"{GATEWAY}.", "NAPTR") in server.queries
        caller, callee = sipp.finish(_call(sipp, proxy, "bob"), gateway)
    finally:
        server.stop()
    assert_all_passed(caller, callee)
    silent.settimeout(0.5)
    first_invite = silent.recv(65536)
    assert first_invite.startswith(f"INVITE sip:{DIALLED}@{GATEWAY} SIP/2.0".encode())
    [invite] = callee.received("INVITE")
    assert invite.start_line.split()[1] == f"sip:{DIALLED}@{GATEWAY}"
    # A gateway is a trusted peer by the addresses its name resolved to.
    assert invite.header("P-Asserted-Identity").startswith('"Alice Chen" <sip:')
    [failover] = proxy.events("branch.failover")
    assert (failover["failed"], failover["failure"]) == (f"{first_host}:{first_port}", "timeout")


def test_a_name_that_does_not_resolve_gets_503_naming_it(
        vipproxy: StartProxy, sipp: SippLauncher, loopback: LoopbackAllocator) -> None:
    server = DnsServer(loopback.endpoint(), {})
    try:
        directory = {**_directory(f"sip:{GATEWAY}"),
                     "dns": {"servers": [f"{server.endpoint.host}:{server.endpoint.port}"]}}
        proxy = vipproxy({}, directory)
        result = _call(sipp, proxy, "bob").wait()
    finally:
        server.stop()
    final = result.final_responses()[-1]
    assert final.status == 503
    assert GATEWAY in final.reason and "did not resolve" in final.reason
    assert proxy.events("dns.unresolved")


def _srv_to(target: Endpoint, name: str) -> dict[tuple[str, str], list[str]]:
    """The gateway's records: its NAPTR to UDP SRV, one SRV target ``name`` at ``target``."""
    return {
        (f"{GATEWAY}.", "NAPTR"): [f'10 10 "s" "SIP+D2U" "" _sip._udp.{GATEWAY}.'],
        (f"_sip._udp.{GATEWAY}.", "SRV"): [f"10 0 {target.port} {name}.{GATEWAY}."],
        (f"{name}.{GATEWAY}.", "A"): [target.host],
    }


def _start_on_dns(vipproxy: StartProxy, server: DnsServer) -> ProxyProcess:
    return vipproxy({}, {**_directory(f"sip:{GATEWAY}"),
                         "dns": {"servers": [f"{server.endpoint.host}:{server.endpoint.port}"]}})


def test_a_truncated_udp_answer_is_asked_again_over_tcp(
        vipproxy: StartProxy, sipp: SippLauncher, loopback: LoopbackAllocator) -> None:
    # Every UDP answer has TC set and no records: only TCP gives the records.
    target = loopback.endpoint()
    gateway = sipp.uas("gateway", "uas_answer.xml", local=target)
    server = DnsServer(loopback.endpoint(), _srv_to(target, "only"), truncate_udp=True)
    try:
        proxy = _start_on_dns(vipproxy, server)
        caller, callee = sipp.finish(_call(sipp, proxy, "bob"), gateway)
    finally:
        server.stop()
    assert_all_passed(caller, callee)
    [invite] = callee.received("INVITE")
    assert invite.start_line.split()[1] == f"sip:{DIALLED}@{GATEWAY}"
    asked = [(f"{GATEWAY}.", "NAPTR"), (f"_sip._udp.{GATEWAY}.", "SRV"), (f"only.{GATEWAY}.", "A")]
    assert all(query in server.tcp_queries for query in asked), server.queries


def test_a_changed_answer_is_followed_once_its_ttl_runs_out(
        vipproxy: StartProxy, sipp: SippLauncher, loopback: LoopbackAllocator) -> None:
    # A TTL of 1 s: the proxy asks again after its floor of 5 s (proxy.names.cache).
    old, new = loopback.endpoint(), loopback.endpoint()
    old_gateway = sipp.uas("old", "uas_answer.xml", local=old)
    new_gateway = sipp.uas("new", "uas_answer.xml", local=new, timeout=30.0)
    server = DnsServer(loopback.endpoint(), _srv_to(old, "old"), ttl=1)
    try:
        proxy = _start_on_dns(vipproxy, server)
        first = sipp.finish(_call(sipp, proxy, "bob"), old_gateway)
        server.serve(_srv_to(new, "new"))
        moved = f"udp:{new.host}:{new.port}"
        assert wait_until(lambda: any(moved in event["hops"]
                                      for event in proxy.events("dns.resolved")), 15.0), \
            proxy.events("dns.resolved")
        second = sipp.finish(_call(sipp, proxy, "bob"), new_gateway)
    finally:
        server.stop()
    assert_all_passed(*first, *second)
    assert len(first[1].received("INVITE")) == 1 and len(second[1].received("INVITE")) == 1
