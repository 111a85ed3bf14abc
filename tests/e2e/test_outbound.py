"""Calling out for the delegator end to end: the real vipproxy, SIPp phones that
authenticate with digest, and a SIPp UAS as the outbound gateway (a trusted peer).

Bob (accepted, place_calls) calls +1 212 555 0147 from Alice's line: the gateway
sees Alice's line in P-Asserted-Identity and From and no P-Preferred-Identity,
and the history records the call on Alice's line made by Bob. Dan (pending) and
Eve (no place_calls) get 403 naming why, and nothing reaches the gateway.
"""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import StartProxy
from .delegation_support import vipproxy_cli
from .loopback import LoopbackAllocator, wait_until
from .proxy_process import ProxyProcess
from .sipp import SippLauncher, assert_all_passed
from .test_history import history

pytestmark = pytest.mark.e2e

ALICE_LINE = "+14155550100"
DIALLED = "+12125550147"
PASSWORD = "secret-of-"
REALM = "vipproxy.test"


def _directory(gateway: str) -> dict[str, Any]:
    def phone(line: str, user: str) -> dict[str, Any]:
        return {"lines": [line], "endpoints": ["registered"],
                "auth": {"username": user, "password": PASSWORD + user}}

    return {
        "domain": REALM,
        # SIPp answers only the first challenge, and only MD5.
        "auth": {"realm": REALM, "algorithms": ["MD5", "SHA-256"]},
        "numbering": {"default_country_code": "1"},
        "users": {
            "alice": {"name": "Alice Chen", **phone(ALICE_LINE, "alice")},
            "bob": phone("1001", "bob"), "dan": phone("1004", "dan"), "eve": phone("1005", "eve"),
        },
        "delegations": {"alice": {"delegates": {
            "bob": {"privileges": ["answer_calls", "place_calls"], "status": "accepted"},
            "dan": {"privileges": ["place_calls"], "status": "pending"},
            "eve": {"privileges": ["answer_calls"], "status": "accepted"},
        }}},
        "outbound": [{"prefix": "+44", "gateway": "sip:127.0.0.1:9"},
                     {"prefix": "+1", "gateway": gateway}],
    }


def _call(sipp: SippLauncher, proxy: ProxyProcess, user: str, *, caller: str = ALICE_LINE,
          extra: str = "Subject: calling out") -> Any:
    return sipp.uac(user, "uac_call_auth.xml", remote=proxy.endpoint, service=DIALLED,
                    keys={"caller": caller, "caller_name": user.title(), "extra_header": extra},
                    credentials=(user, PASSWORD + user),
                    auth_uri=f"{DIALLED}@{proxy.endpoint}")


def test_a_delegate_calls_out_on_the_delegators_line(
        vipproxy: StartProxy, sipp: SippLauncher, loopback: LoopbackAllocator) -> None:
    endpoint = loopback.endpoint()
    gateway = sipp.uas("gateway", "uas_answer.xml", local=endpoint)
    proxy = vipproxy({}, _directory(f"sip:{endpoint}"))
    caller, callee = sipp.finish(_call(sipp, proxy, "bob"), gateway)
    assert_all_passed(caller, callee)
    [invite] = callee.received("INVITE")
    assert invite.start_line.split()[1] == f"sip:{DIALLED}@{endpoint}"
    assert invite.header("P-Asserted-Identity").startswith(
        f'"Alice Chen" <sip:{ALICE_LINE}@')
    assert invite.header("From").startswith(f'"Alice Chen" <sip:{ALICE_LINE}@')
    assert not invite.has_header("P-Preferred-Identity")
    # The caller got its own From back.
    assert caller.final_responses()[-1].header("From").startswith('"Bob" <sip:')
    assert wait_until(lambda: bool(history(proxy, "--user", "bob")), 5.0), "not in the history"
    [row] = history(proxy, "--user", "bob")
    assert (row["line"], row["delegator"], row["made_by"], row["direction"], row["callee"],
            row["policy"]) == (ALICE_LINE, "alice", "bob", "outgoing", DIALLED, "outbound")


def test_a_delegate_selects_the_line_by_p_preferred_identity(
        vipproxy: StartProxy, sipp: SippLauncher, loopback: LoopbackAllocator) -> None:
    endpoint = loopback.endpoint()
    gateway = sipp.uas("gateway", "uas_answer.xml", local=endpoint)
    proxy = vipproxy({}, _directory(f"sip:{endpoint}"))
    caller, callee = sipp.finish(
        _call(sipp, proxy, "bob", caller="1001",
              extra=f"P-Preferred-Identity: <sip:{ALICE_LINE}@{REALM}>"), gateway)
    assert_all_passed(caller, callee)
    [invite] = callee.received("INVITE")
    assert invite.header("P-Asserted-Identity").startswith(f'"Alice Chen" <sip:{ALICE_LINE}@')
    assert not invite.has_header("P-Preferred-Identity")


@pytest.mark.parametrize(("user", "reason"), [
    ("dan", "Forbidden (dan's delegation from alice is pending, not accepted)"),
    ("eve", "Forbidden (eve lacks the place_calls privilege from alice)"),
])
def test_others_get_403_naming_what_is_missing(
        vipproxy: StartProxy, sipp: SippLauncher, loopback: LoopbackAllocator,
        user: str, reason: str) -> None:
    endpoint = loopback.endpoint()
    proxy = vipproxy({}, _directory(f"sip:{endpoint}"))
    result = _call(sipp, proxy, user).wait()
    result.assert_passed()
    final = result.final_responses()[-1]
    assert (final.status, final.reason) == (403, reason)


def test_explain_shows_the_gateway_and_the_rule(
        vipproxy: StartProxy, loopback: LoopbackAllocator) -> None:
    endpoint = loopback.endpoint()
    proxy = vipproxy({}, _directory(f"sip:{endpoint}"))
    printed = vipproxy_cli("explain", "--config", str(proxy.config_path), "--user", "bob",
                           "--from", ALICE_LINE, "--to", "(212) 555-0147")
    assert printed.returncode == 0, printed.stderr
    assert (f"outbound rule: outbound[1] (prefix '+1'), the first that matches;"
            f" gateway sip:{endpoint}") in printed.stdout
    assert f"stage 1: sip:{DIALLED}@{endpoint} [gateway]" in printed.stdout
    assert "placed by bob for alice" in printed.stdout
