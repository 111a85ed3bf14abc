"""The SIPp scenarios against each other, with no proxy in between.

When a proxy test fails, these tell whether the scenarios themselves still
work on this machine's SIPp: a caller scenario talks straight to the callee
scenario it is paired with in the proxy tests.
"""

from __future__ import annotations

import pytest

from .loopback import Transport
from .sipp import SippLauncher, assert_all_passed

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("transport", ["udp", "tcp"])
@pytest.mark.parametrize("reinvite", ["no", "yes"])
def test_call_scenarios_complete_a_call(
    sipp: SippLauncher, transport: Transport, reinvite: str
) -> None:
    callee = sipp.uas("callee", "uas_answer.xml", transport=transport, pause_ms=100)
    caller = sipp.uac(
        "caller",
        "uac_call.xml",
        remote=callee.endpoint,
        service="2000",
        transport=transport,
        variables={"reinvite": reinvite},
    )
    results = sipp.finish(caller, callee)

    assert_all_passed(*results)
    assert len(results[1].received("INVITE")) == (2 if reinvite == "yes" else 1)
    assert len(results[1].received("BYE")) == 1


def test_failure_scenarios_exchange_the_code_and_the_ack(sipp: SippLauncher) -> None:
    callee = sipp.uas("callee", "uas_reject.xml", fill={"status": "486", "reason": "Busy Here"})
    caller = sipp.uac("caller", "uac_expect_failure.xml", remote=callee.endpoint, service="2000")
    results = sipp.finish(caller, callee)

    assert_all_passed(*results)
    assert results[0].final_status() == 486
    ack = results[1].received("ACK")[0]
    invite = results[1].received("INVITE")[0]
    # RFC 3261 §17.1.1.3: the ACK for a failure belongs to the INVITE transaction.
    assert ack.vias() == invite.vias()


def test_cancel_scenarios_cancel_a_ringing_call(sipp: SippLauncher) -> None:
    callee = sipp.uas("callee", "uas_ring_until_cancel.xml")
    caller = sipp.uac(
        "caller", "uac_cancel.xml", remote=callee.endpoint, service="2000", pause_ms=100
    )
    results = sipp.finish(caller, callee)

    assert_all_passed(*results)
    assert results[0].final_status() == 487
    assert results[0].final_status("CANCEL") == 200
