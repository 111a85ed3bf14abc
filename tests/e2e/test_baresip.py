"""A real softphone behind the proxy: baresip answers a SIPp call automatically."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from .baresip import BaresipPhone
from .conftest import StartProxy
from .sip_trace import via_sent_by
from .sipp import SippLauncher

pytestmark = pytest.mark.e2e


def test_baresip_answers_a_call_through_the_proxy(
    vipproxy: StartProxy, sipp: SippLauncher, baresip: Callable[[str], BaresipPhone]
) -> None:
    phone = baresip("phone")
    proxy = vipproxy({"2000": {"stages": [{"targets": [phone.uri], "timeout": "10s"}]}})

    caller = sipp.uac("caller", "uac_call.xml", remote=proxy.endpoint, service="2000")
    result = caller.wait()

    result.assert_passed()
    answer = result.final_responses()[0]
    assert answer.status == 200, result.flow()
    assert "baresip" in answer.header("Server"), answer.text
    assert str(proxy.endpoint) in answer.header("Record-Route"), answer.text
    # The proxy removed its own Via: only the caller's is left (RFC 3261 §16.7 step 3).
    assert [via_sent_by(via) for via in answer.vias()] == [str(caller.endpoint)], answer.text
    bye_answers = [m.status for m in result.received_responses("BYE")]
    assert bye_answers == [200], bye_answers
    phone.stop()  # baresip writes its log when it exits
    output = phone.output()
    assert "Call established" in output and "terminated" in output, output
