"""A request too large for UDP, end to end (RFC 3261 §18.1.1): the real vipproxy
between a SIPp caller over UDP and a SIPp callee named by a URI without a
transport, which says UDP. Over 1300 bytes, with the path MTU unknown, the proxy
sends the INVITE over TCP; a callee that takes no TCP connection gets it over
UDP, as §18.1.1 allows when the connection is refused."""

from __future__ import annotations

import pytest

from .conftest import StartProxy
from .proxy_process import ProxyProcess
from .sip_trace import only
from .sipp import SippLauncher, SippProcess, SippResult, assert_all_passed

pytestmark = pytest.mark.e2e

NUMBER = "2000"
# With it the caller's INVITE is about 1,750 bytes, the forwarded one larger still.
LARGE_OFFER = {"extra_header": f"X-Offer: {'a' * 1400}"}


def _large_call(vipproxy: StartProxy, sipp: SippLauncher, callee: SippProcess,
                target: str) -> tuple[ProxyProcess, SippResult]:
    """A caller over UDP places a large call to ``target`` (at ``callee``), which
    answers; the proxy and what the callee saw, once both ends passed."""
    proxy = vipproxy({NUMBER: {"stages": [{"targets": [target], "timeout": "10s"}]}})
    caller = sipp.uac("caller", "uac_call.xml", remote=proxy.endpoint, service=NUMBER,
                      keys=LARGE_OFFER)
    caller_result, callee_result = sipp.finish(caller, callee)
    assert_all_passed(caller_result, callee_result)
    assert caller_result.final_status() == 200
    return proxy, callee_result


def test_a_large_invite_to_a_udp_target_goes_over_tcp(
        vipproxy: StartProxy, sipp: SippLauncher) -> None:
    callee = sipp.uas("callee", "uas_answer.xml", transport="tcp")
    proxy, callee_result = _large_call(vipproxy, sipp, callee,
                                       callee.endpoint.sip_uri("desk"))  # no ;transport=tcp

    invite = only(callee_result.received("INVITE"), "INVITE at the callee")
    assert invite.transport == "TCP"
    assert invite.vias()[0].startswith("SIP/2.0/TCP ")
    assert len(invite.text.encode()) > 1300
    # The dialog follows: the caller's BYE reaches the callee over the proxy's TCP.
    assert only(callee_result.received("BYE"), "BYE at the callee").transport == "TCP"
    assert not proxy.events("branch.failover")


def test_a_target_that_refuses_the_connection_gets_the_invite_over_udp(
        vipproxy: StartProxy, sipp: SippLauncher) -> None:
    callee = sipp.uas("callee", "uas_answer.xml")  # UDP only: a TCP connect is refused
    proxy, callee_result = _large_call(vipproxy, sipp, callee, callee.uri("desk"))

    invite = only(callee_result.received("INVITE"), "INVITE at the callee")
    assert invite.transport == "UDP"
    assert invite.vias()[0].startswith("SIP/2.0/UDP ")
    [failover] = proxy.events("branch.failover")
    assert (failover["failure"], failover["next_transport"]) == ("transport_error", "UDP")
