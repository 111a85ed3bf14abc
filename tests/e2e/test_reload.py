"""Reloading the configuration file in the running proxy, end to end.

The real vipproxy between SIPp phones: Alice (line 1000) delegates to Bob. The
tests rewrite the proxy's file while it runs and reload it with ``vipproxy
reload`` (the command a person runs) or a bare SIGHUP (what a service manager
sends), then place the next call and look at who rang.
"""

from __future__ import annotations

import pytest

from .conftest import StartProxy
from .delegation_support import LINE, office, route_decisions, vipproxy_cli
from .loopback import wait_until
from .proxy_process import ProxyProcess
from .sip_trace import only
from .sipp import SippLauncher, SippProcess, assert_all_passed

pytestmark = pytest.mark.e2e

OTHER_CALLER = "4155550123"
# Alice's own stage rings this long before Bob's: long enough to reload meanwhile.
RING_TIMEOUT = 3.0
CLOCK_SLACK = 0.5


def call_the_line(sipp: SippLauncher, proxy: ProxyProcess, name: str) -> SippProcess:
    return sipp.uac(name, "uac_call.xml", remote=proxy.endpoint, service=LINE,
                    keys={"caller": OTHER_CALLER})


def reload(proxy: ProxyProcess) -> tuple[int, str]:
    """``vipproxy reload`` for ``proxy``'s file: exit status and everything printed."""
    done = vipproxy_cli("reload", "--config", str(proxy.config_path))
    return done.returncode, done.stdout + done.stderr


def test_a_valid_change_applies_to_the_next_call_while_a_ringing_call_keeps_its_plan(
    vipproxy: StartProxy, sipp: SippLauncher
) -> None:
    alice = sipp.uas("alice", "uas_ring_until_cancel.xml")
    bob = sipp.uas("bob", "uas_answer.xml")
    directory = office(
        {"alice": alice.uri("alice"), "bob": bob.uri("bob")},
        vip_callers="ring_me_only", other_callers="ring_me_then_delegates",
        ring_timeout=f"{RING_TIMEOUT:g}s")
    # Locked: the file's entry is the delegation, so the file may change its policy.
    directory["delegations"]["alice"]["locked"] = True
    proxy = vipproxy({}, directory=directory)
    first = call_the_line(sipp, proxy, "caller1")
    assert wait_until(lambda: bool(alice.received_so_far("INVITE")), 5.0), "alice never rang"

    # Alice now answers on another phone, and other callers ring only her.
    alice_desk = sipp.uas("alice-desk", "uas_answer.xml")
    config = proxy.configuration()
    config["users"]["alice"]["endpoints"] = [alice_desk.uri("alice")]
    config["delegations"]["alice"]["vip_delegation"]["other_callers"] = "ring_me_only"
    config["shutdown_grace"] = "1s"
    proxy.rewrite(config)
    status, printed = reload(proxy)
    assert status == 0, printed
    assert "reloaded" in printed and "shutdown_grace: changed; takes effect after a restart" \
        in printed, printed

    # The ringing call keeps the plan it was given: Alice's old phone, then Bob.
    first_result, alice_result, bob_result = sipp.finish(first, alice, bob)
    assert_all_passed(first_result, alice_result, bob_result)
    assert first_result.final_status() == 200
    rang_alice = only(alice_result.received("INVITE"), "INVITE at alice").time
    rang_bob = only(bob_result.received("INVITE"), "INVITE at bob").time
    assert rang_bob - rang_alice >= RING_TIMEOUT - CLOCK_SLACK, (rang_alice, rang_bob)

    # The next call follows the file: Alice's desk phone alone.
    second = call_the_line(sipp, proxy, "caller2")
    second_result, desk_result = sipp.finish(second, alice_desk)
    assert_all_passed(second_result, desk_result)
    assert second_result.final_status() == 200
    policies = [event["policy"] for event in route_decisions(proxy)]
    assert policies == ["ring_me_then_delegates", "ring_me_only"], policies
    reloaded = proxy.events("config.reloaded")
    assert len(reloaded) == 1 and reloaded[0]["restart_needed"] == [
        "shutdown_grace: changed; takes effect after a restart"], reloaded


def test_an_edit_of_what_users_own_is_not_applied_and_the_reload_says_so(
    vipproxy: StartProxy, sipp: SippLauncher
) -> None:
    """The file seeded the store at start; from then on the store is the truth for
    an unlocked delegator, and the reload names the edit it did not apply."""
    alice = sipp.uas("alice", "uas_answer.xml")
    bob = sipp.uas("bob", "uas_answer.xml")
    proxy = vipproxy({}, directory=office(
        {"alice": alice.uri("alice"), "bob": bob.uri("bob")},
        vip_callers="ring_me_only", other_callers="ring_me_only"))
    assert proxy.events("delegation.seeded")[0]["delegators"] == ["alice"]
    config = proxy.configuration()
    config["delegations"]["alice"]["vip_delegation"]["other_callers"] = "ring_delegates_only"
    proxy.rewrite(config)
    status, printed = reload(proxy)
    assert status == 0, printed
    assert "delegations.alice: the users' settings" in printed, printed

    call = call_the_line(sipp, proxy, "caller")
    call_result, alice_result = sipp.finish(call, alice)
    assert_all_passed(call_result, alice_result)
    assert [event["policy"] for event in route_decisions(proxy)] == ["ring_me_only"]
    assert not bob.received_so_far("INVITE")


BROKEN_PATHS = (
    "delegations.alice.vip_delegation.other_callers",
    "delegations.alice.delegates.zed",
)


def broken(proxy: ProxyProcess) -> dict[str, object]:
    """The proxy's file with two mistakes, each at a path in ``BROKEN_PATHS``."""
    config = proxy.configuration()
    delegation = config["delegations"]["alice"]
    delegation["vip_delegation"]["other_callers"] = "ring_nobody"
    delegation["delegates"]["zed"] = {"privileges": ["answer_calls"], "status": "accepted"}
    return config


def test_a_broken_file_changes_nothing_and_every_error_names_its_path(
    vipproxy: StartProxy, sipp: SippLauncher
) -> None:
    alice = sipp.uas("alice", "uas_answer.xml")
    bob = sipp.uas("bob", "uas_reject.xml", fill={"status": "480",
                                                   "reason": "Temporarily Unavailable"})
    proxy = vipproxy({}, directory=office(
        {"alice": alice.uri("alice"), "bob": bob.uri("bob")},
        vip_callers="ring_me_only", other_callers="ring_me_only"))
    proxy.rewrite(broken(proxy))

    # The command validates first and says what is wrong, signalling nobody.
    status, printed = reload(proxy)
    assert status == 2, printed
    for path in BROKEN_PATHS:
        assert path in printed, printed
    # A bare SIGHUP: the proxy itself refuses the file and logs why.
    proxy.hang_up_signal()
    assert wait_until(lambda: bool(proxy.events("config.reload_failed")), 5.0), proxy.stderr()
    problems = " ".join(proxy.events("config.reload_failed")[0]["problems"])
    for path in BROKEN_PATHS:
        assert path in problems, problems
    assert proxy.running()

    # The next call is routed as before: Alice alone, not Bob.
    caller = call_the_line(sipp, proxy, "caller")
    caller_result, alice_result = sipp.finish(caller, alice)
    assert_all_passed(caller_result, alice_result)
    assert caller_result.final_status() == 200
    bob.stop()
    assert not bob.wait().received(), "bob must not be rung"
    assert [event["policy"] for event in route_decisions(proxy)] == ["ring_me_only"]
    assert not proxy.events("config.reloaded")
