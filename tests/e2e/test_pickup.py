"""Picking up a held call end to end: the real vipproxy between SIPp phones.

A caller rings Alice's line 1000; Alice (``uas_answer_hold_await.xml``) answers and
holds the call (re-INVITE with a=sendonly). Bob, her accepted delegate with
``pickup_held_calls``, takes it from his phone (SIPp, digest): with an INVITE
carrying the Replaces his busy lamp's NOTIFY gives (call-id, tags, the held
party's target), or with the line's "seize the held call" INVITE (from the line
to the line), for which the proxy writes the Replaces. The held party (SIPp:
``uac_call_held_replaced.xml`` with ``uas_replaced.xml`` for the new dialog) gets
the INVITE with Replaces, answers it, and ends Alice's dialog with a BYE; Bob
talks, then hangs up. The lamp shows the line in use by Bob's phone and the
history one call answered by Bob, held by Alice. Erin (answer_calls only) gets
403 and the call resumes with Alice, but she may pick up a call ringing on the
line (directed pick-up: the caller replaces its early dialog and CANCELs its
INVITE). A line at ``lines.max_calls`` refuses a call placed from it with 403.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest

from .conftest import StartProxy
from .loopback import Endpoint, LoopbackAllocator, wait_until
from .proxy_process import ProxyProcess
from .registration_support import DOMAIN, REALM, SIPP_ALGORITHMS
from .sipp import SippLauncher, SippProcess, SippResult, assert_all_passed
from .test_history import history
from .test_lamps import NS, PASSWORDS, calls, state, target_host, watch

pytestmark = pytest.mark.e2e

LINE = "1000"
ERIN_PASSWORD = "erin-secret"
# How long a phone may take to see the call held on a loaded machine (Alice holds
# it half a second after answering; she waits 8 s for a pick-up before resuming).
HELD_WITHIN = 6.0
HISTORY_WITHIN = 5.0


class Office:
    """Alice's line with her phone (SIPp) at a static endpoint; Bob's and Erin's
    phones at static endpoints of their own, with digest credentials."""

    def __init__(self, vipproxy: StartProxy, sipp: SippLauncher, loopback: LoopbackAllocator,
                 *, max_calls: int = 2, alice: str = "uas_answer_hold_await.xml") -> None:
        self.sipp = sipp
        self.alice = sipp.uas("alice", alice, timeout=30.0)
        self.phones: dict[str, Endpoint] = {"bob": loopback.endpoint(),
                                            "erin": loopback.endpoint()}
        self.proxy = vipproxy({}, self._directory(max_calls))

    def _directory(self, max_calls: int) -> dict[str, Any]:
        def phone(user: str, line: str, password: str) -> dict[str, Any]:
            return {"name": user.title(), "lines": [line],
                    "endpoints": [self.phones[user].sip_uri(user)],
                    "auth": {"username": user, "password": password}}

        return {
            "domain": DOMAIN,
            "auth": {"realm": REALM, "algorithms": list(SIPP_ALGORITHMS)},
            "lines": {"max_calls": max_calls},
            "users": {
                "alice": {"name": "Alice", "lines": [LINE],
                          "endpoints": [self.alice.uri("alice")]},
                "bob": phone("bob", "1001", PASSWORDS["bob"]),
                "erin": phone("erin", "1003", ERIN_PASSWORD),
            },
            "delegations": {"alice": {
                "delegates": {
                    "bob": {"privileges": ["answer_calls", "place_calls", "pickup_held_calls"],
                            "status": "accepted"},
                    "erin": {"privileges": ["answer_calls"], "status": "accepted"},
                },
                "vip_delegation": {"enabled": True, "vip_callers": "ring_me_only",
                                   "other_callers": "ring_me_only"},
            }},
        }

    def call(self, scenario: str, **options: Any) -> SippProcess:
        """The caller: it rings line 1000 and Alice answers and holds."""
        return self.sipp.uac("caller", scenario, remote=self.proxy.endpoint, service=LINE,
                             timeout=30.0, **options)

    def phone(self, user: str, target: str, *, caller: str, extra_header: str,
              password: str) -> SippProcess:
        """``user``'s phone sends its INVITE to ``sip:target`` from ``caller`` (a line)."""
        return self.sipp.uac(user, "uac_pickup.xml", remote=self.proxy.endpoint, service=LINE,
                             local=self.phones[user], pause_ms=1000, timeout=20.0,
                             keys={"target": target, "caller": caller,
                                   "caller_name": user.title(), "extra_header": extra_header},
                             credentials=(user, password), auth_uri=target)


def _held_dialog(watcher: SippProcess) -> ET.Element:
    """The held dialog, from the first NOTIFY that shows it."""
    assert wait_until(lambda: any(state(dialog) == "held"
                                  for notify in watcher.received_so_far("NOTIFY")
                                  for dialog in calls(notify)), HELD_WITHIN), "never held"
    return next(dialog for notify in watcher.received_so_far("NOTIFY")
                for dialog in calls(notify) if state(dialog) == "held")


def _held(caller: SippProcess) -> None:
    """The caller has ACKed nothing but the hold: the proxy saw its 200 go by."""
    assert wait_until(lambda: bool(caller.received_so_far("ACK")), HELD_WITHIN), "never held"


def _one_call(proxy: ProxyProcess) -> dict[str, Any]:
    assert wait_until(lambda: bool(history(proxy, "--line", LINE)), HISTORY_WITHIN)
    [row] = history(proxy, "--line", LINE)
    return row


def _assert_picked_up_by_bob(office: Office, caller: SippResult, alice: SippResult,
                             watched: SippResult) -> None:
    """The held party got the INVITE with Replaces in a new dialog and ended
    Alice's; the lamp showed Bob's phone on the line; one call in the history."""
    [replacing] = [invite for invite in caller.received("INVITE")
                   if invite.has_header("Replaces")]
    assert replacing.header("Call-ID") != caller.sent("INVITE")[0].header("Call-ID")
    [bye] = caller.sent("BYE")
    assert alice.received("BYE") and alice.received("BYE")[0].header("Call-ID") == bye.header(
        "Call-ID")  # Alice's leg ended by the held party
    assert not alice.sent("BYE")  # and never by Alice
    bob_host = office.phones["bob"].host
    shown = [dialog for notify in watched.received("NOTIFY") for dialog in calls(notify)
             if state(dialog) == "confirmed" and target_host(dialog) == bob_host]
    assert shown, "the lamp never showed the line in use by Bob's phone"
    assert shown[0].findtext("d:remote/d:identity", namespaces=NS)
    row = _one_call(office.proxy)
    assert (row["answered_by"], row["held_by"], row["outcome"]) == ("bob", "alice", "answered")
    assert row["answered_phone"].split("@")[-1].split(":")[0] == bob_host
    assert (row["hung_up_by"], row["end_reason"]) == ("bob", "bye")
    assert row["started"] <= row["answered"] <= row["held_at"] <= row["ended"]


def test_a_delegate_picks_up_the_held_call_with_the_replaces_of_his_lamp(
        vipproxy: StartProxy, sipp: SippLauncher, loopback: LoopbackAllocator) -> None:
    office = Office(vipproxy, sipp, loopback)
    watcher = watch(sipp, office.proxy)
    caller = office.call("uac_call_held_replaced.xml", out_of_call="uas_replaced.xml")
    held = _held_dialog(watcher)

    # What a phone builds from the lamp (RFC 3891 §3): the held party's own tag
    # (the remote tag, seen from the line) is the to-tag.
    target = held.find("d:remote/d:target", NS)
    assert target is not None
    replaces = (f"Replaces: {held.get('call-id')};to-tag={held.get('remote-tag')}"
                f";from-tag={held.get('local-tag')}")
    bob = office.phone("bob", target.get("uri", "").removeprefix("sip:"), caller="1001",
                       extra_header=replaces, password=PASSWORDS["bob"])

    results = sipp.finish(bob, caller, office.alice)
    watched = watcher.wait()

    assert_all_passed(*results, watched)
    _assert_picked_up_by_bob(office, results[1], results[2], watched)


def test_a_delegate_seizes_the_held_call_and_the_proxy_adds_the_replaces(
        vipproxy: StartProxy, sipp: SippLauncher, loopback: LoopbackAllocator) -> None:
    office = Office(vipproxy, sipp, loopback)
    watcher = watch(sipp, office.proxy)
    caller = office.call("uac_call_held_replaced.xml", out_of_call="uas_replaced.xml")
    held = _held_dialog(watcher)
    bob = office.phone("bob", f"{LINE}@{office.proxy.endpoint}", caller=LINE,
                       extra_header="Subject: seize the held call", password=PASSWORDS["bob"])

    results = sipp.finish(bob, caller, office.alice)
    watched = watcher.wait()

    assert_all_passed(*results, watched)
    [replacing] = [invite for invite in results[1].received("INVITE")
                   if invite.has_header("Replaces")]
    assert replacing.header("Replaces") == (f"{held.get('call-id')};to-tag="
                                            f"{held.get('remote-tag')};from-tag="
                                            f"{held.get('local-tag')}")
    assert replacing.header("Require") == "replaces"
    _assert_picked_up_by_bob(office, results[1], results[2], watched)


def test_a_delegate_without_the_privilege_gets_403_and_the_call_resumes_with_alice(
        vipproxy: StartProxy, sipp: SippLauncher, loopback: LoopbackAllocator) -> None:
    office = Office(vipproxy, sipp, loopback)
    caller = office.call("uac_call_held.xml")
    _held(caller)
    erin = office.phone("erin", f"{LINE}@{office.proxy.endpoint}", caller=LINE,
                        extra_header="Subject: seize the held call", password=ERIN_PASSWORD)

    refused = erin.wait()
    results = sipp.finish(caller, office.alice)

    assert_all_passed(refused, *results)
    final = refused.final_responses()[-1]
    assert (final.status, final.reason) == (
        403, "Forbidden (erin lacks the pickup_held_calls privilege from alice)")
    assert [invite.has_header("Replaces") for invite in results[0].received("INVITE")] == [
        False, False]  # Alice's hold and resume, nothing else
    assert results[1].sent("BYE")  # Alice hung up the call she resumed
    row = _one_call(office.proxy)
    assert (row["answered_by"], row["held_by"], row["hung_up_by"]) == ("alice", "alice",
                                                                      "alice")


def test_a_delegate_with_answer_calls_picks_up_a_call_ringing_on_the_line(
        vipproxy: StartProxy, sipp: SippLauncher, loopback: LoopbackAllocator) -> None:
    office = Office(vipproxy, sipp, loopback, alice="uas_ring_until_cancel.xml")
    watcher = watch(sipp, office.proxy)
    caller = office.call("uac_call_ringing_replaced.xml", out_of_call="uas_replaced.xml")
    assert wait_until(lambda: any(state(dialog) == "early"
                                  for notify in watcher.received_so_far("NOTIFY")
                                  for dialog in calls(notify)), HELD_WITHIN), "never rang"
    ringing = next(dialog for notify in watcher.received_so_far("NOTIFY")
                   for dialog in calls(notify) if state(dialog) == "early")
    target = ringing.find("d:remote/d:target", NS)
    assert target is not None
    erin = office.phone("erin", target.get("uri", "").removeprefix("sip:"), caller="1003",
                        extra_header=(f"Replaces: {ringing.get('call-id')};to-tag="
                                      f"{ringing.get('remote-tag')};from-tag="
                                      f"{ringing.get('local-tag')}"),
                        password=ERIN_PASSWORD)

    results = sipp.finish(erin, caller, office.alice)
    watched = watcher.wait()

    assert_all_passed(*results, watched)
    assert results[1].received_responses("INVITE")[-1].status == 487  # its own CANCEL
    assert results[2].received("CANCEL")  # Alice's phone stopped ringing
    row = _one_call(office.proxy)
    assert (row["answered_by"], row["outcome"], row["status"], row["held_by"]) == (
        "erin", "answered", 200, None)
    assert row["answered_phone"].split("@")[-1].split(":")[0] == office.phones["erin"].host


def test_a_call_placed_from_a_full_line_gets_403(
        vipproxy: StartProxy, sipp: SippLauncher, loopback: LoopbackAllocator) -> None:
    office = Office(vipproxy, sipp, loopback, max_calls=1)
    caller = office.call("uac_call_held.xml")
    _held(caller)
    bob = office.sipp.uac("bob", "uac_call_auth.xml", remote=office.proxy.endpoint,
                          service="1003", local=office.phones["bob"],
                          keys={"caller": LINE, "caller_name": "Bob"},
                          credentials=("bob", PASSWORDS["bob"]),
                          auth_uri=f"1003@{office.proxy.endpoint}")

    refused = bob.wait()
    results = sipp.finish(caller, office.alice)

    assert_all_passed(refused, *results)
    final = refused.final_responses()[-1]
    assert (final.status, final.reason) == (
        403, f"Forbidden (line {LINE} carries its maximum of calls)")
    assert office.proxy.events("request.refused")[-1]["reason"] == final.reason
