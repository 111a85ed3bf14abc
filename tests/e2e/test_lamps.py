"""Busy lamps end to end: the real vipproxy, a SIPp watcher subscribed to a line's
dialogs (RFC 6665, RFC 4235) and SIPp phones making the calls it watches.

Alice owns line 1000; Bob and Erin are her accepted delegates; Dana is nobody's.
Bob's and Dana's phones authenticate with digest (SIPp answers MD5 only, so the
proxy offers MD5 first). The watcher (``uac_watch.xml``) answers every NOTIFY
200, unsubscribes after the NOTIFY that shows a call hung up, and stops at the
NOTIFY that ends its subscription; each NOTIFY body is parsed here as XML.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

import pytest

from .conftest import StartProxy
from .loopback import LoopbackAllocator, Transport, wait_until
from .proxy_process import ProxyProcess
from .registration_support import DOMAIN, REALM, SIPP_ALGORITHMS
from .sip_trace import TracedMessage
from .sipp import SippLauncher, SippProcess, SippResult, assert_all_passed

pytestmark = pytest.mark.e2e

LINE = "1000"
NS = {"d": "urn:ietf:params:xml:ns:dialog-info"}
PASSWORDS = {"bob": "bob-secret", "dana": "dana-secret"}
# How long a watcher may take to get its first NOTIFY on a loaded machine.
SUBSCRIBED_WITHIN = 10.0
# The states a lamp shows, busiest first.
_LAMP_ORDER = ("held", "confirmed", "early", "trying", "terminated")


def lamp_office(phones: Mapping[str, str], other_callers: str) -> dict[str, Any]:
    """Alice (line 1000) delegating to Bob and Erin, Dana on her own; ``phones``
    maps each user to the SIP URI their calls ring."""
    lines = {"alice": LINE, "bob": "1001", "dana": "1002", "erin": "1003"}
    users: dict[str, Any] = {
        user: {"name": user.title(), "lines": [lines[user]], "endpoints": [uri]}
        for user, uri in phones.items()}
    for user, password in PASSWORDS.items():
        users[user]["auth"] = {"username": user, "password": password}
    return {
        "domain": DOMAIN,
        "auth": {"realm": REALM, "algorithms": list(SIPP_ALGORITHMS)},
        "users": users,
        "delegations": {"alice": {
            "delegates": {user: {"privileges": ["answer_calls"], "status": "accepted"}
                          for user in ("bob", "erin")},
            "vip_delegation": {"enabled": True, "vip_callers": "ring_me_only",
                               "other_callers": other_callers},
            "ring_timeout": "10s",
        }},
    }


def start_office(vipproxy: StartProxy, loopback: LoopbackAllocator, other_callers: str,
                 **phones: str) -> ProxyProcess:
    """The proxy, with a spare address for every user whose phone the test does not run."""
    everyone = {user: phones.get(user) or loopback.endpoint().sip_uri(user)
                for user in ("alice", "bob", "dana", "erin")}
    return vipproxy({}, lamp_office(everyone, other_callers))


def watch(sipp: SippLauncher, proxy: ProxyProcess, user: str = "bob", *,
          at_once: bool = False, transport: Transport = "udp") -> SippProcess:
    """A watcher subscribed as ``user`` to line 1000; returns once it has its first
    NOTIFY (or its SUBSCRIBE was refused)."""
    watcher = sipp.uac(f"watcher-{user}", "uac_watch.xml", remote=proxy.endpoint, service=LINE,
                       transport=transport,
                       keys={"domain": DOMAIN, "watcher": user, "expires": "600"},
                       variables={"at_once": "yes"} if at_once else {},
                       credentials=(user, PASSWORDS[user]), auth_uri=f"{LINE}@{DOMAIN}",
                       timeout=30.0)
    wait_until(lambda: bool(watcher.received_so_far("NOTIFY")) or not watcher.running(),
               SUBSCRIBED_WITHIN)
    return watcher


def body(notify: TracedMessage) -> ET.Element:
    text = re.split(r"\r?\n\r?\n", notify.text, maxsplit=1)[1].strip()
    return ET.fromstring(text)


def calls(notify: TracedMessage) -> list[ET.Element]:
    """The real dialogs of a NOTIFY (not the placeholder of an idle line)."""
    return [element for element in body(notify).findall("d:dialog", NS)
            if element.get("call-id")]


def held(dialog: ET.Element) -> bool:
    """RFC 4235 §4.1.6.2: a side that does not render the media holds the call."""
    return any(param.get("pname") == "+sip.rendering" and param.get("pvalue") == "no"
               for param in dialog.iterfind("d:*/d:target/d:param", NS))


def state(dialog: ET.Element) -> str:
    shown = dialog.findtext("d:state", namespaces=NS) or ""
    return "held" if shown == "confirmed" and held(dialog) else shown


def ended_by(dialog: ET.Element) -> str | None:
    """Why a terminated dialog ended: the ``event`` of its ``state``."""
    shown = dialog.find("d:state", NS)
    return shown.get("event") if shown is not None else None


def lamp(notify: TracedMessage) -> str:
    """What a lamp shows for a NOTIFY: its busiest dialog, or idle."""
    states = {state(dialog) for dialog in calls(notify)}
    return next((wanted for wanted in _LAMP_ORDER if wanted in states), "idle")


def lamps(notifies: list[TracedMessage]) -> list[str]:
    """The lamp of each NOTIFY, repeats and the brief ``trying`` left out."""
    shown = [lamp(notify) for notify in notifies if lamp(notify) != "trying"]
    return [value for index, value in enumerate(shown) if index == 0 or value != shown[index - 1]]


def target_host(dialog: ET.Element) -> str:
    target = dialog.find("d:local/d:target", NS)
    uri = target.get("uri", "") if target is not None else ""
    return uri.split("@")[-1].split(":")[0]


def assert_in_order(notifies: list[TracedMessage]) -> None:
    """RFC 4235 §4.1: version counts up by one; CSeq never goes backwards; every
    NOTIFY but the last is active with the remaining expiry."""
    versions = [int(body(notify).get("version", "-1")) for notify in notifies]
    assert versions == list(range(len(notifies))), versions
    cseqs = [int(notify.header("CSeq").split()[0]) for notify in notifies]
    assert cseqs == sorted(set(cseqs)), cseqs
    for notify in notifies[:-1]:
        expires = re.fullmatch(r"active;expires=(\d+)", notify.header("Subscription-State"))
        assert expires and 0 < int(expires[1]) <= 600, notify.header("Subscription-State")
    for notify in notifies:
        assert notify.header("Event") == "dialog"
        assert notify.header("Content-Type") == "application/dialog-info+xml"
        assert body(notify).get("state") == "full"


def subscribe_answers(result: SippResult) -> list[int]:
    return [response.status for response in result.final_responses("SUBSCRIBE")]


def test_a_delegate_sees_a_call_alice_answers_holds_resumes_and_ends(
    vipproxy: StartProxy, sipp: SippLauncher, loopback: LoopbackAllocator
) -> None:
    alice = sipp.uas("alice", "uas_answer_hold.xml", pause_ms=500, timeout=20.0)
    proxy = start_office(vipproxy, loopback, "ring_me_only", alice=alice.uri("alice"))
    watcher = watch(sipp, proxy)
    caller = sipp.uac("caller", "uac_call_held.xml", remote=proxy.endpoint, service=LINE,
                      timeout=20.0)

    results = sipp.finish(caller, alice)
    watched = watcher.wait()

    assert_all_passed(*results, watched)
    notifies = watched.received("NOTIFY")
    assert lamps(notifies) == ["idle", "early", "confirmed", "held", "confirmed", "terminated",
                               "idle"], [n.text for n in notifies]
    assert_in_order(notifies)
    assert notifies[-1].header("Subscription-State") == "terminated;reason=timeout"
    assert subscribe_answers(watched) == [401, 200, 200]  # the unsubscribe too
    # What a phone needs to pick the call up, on the answered dialog.
    answered = next(dialog for notify in notifies for dialog in calls(notify)
                    if state(dialog) == "confirmed")
    assert {"id", "call-id", "local-tag", "remote-tag", "direction"} <= set(answered.attrib)
    assert answered.get("direction") == "recipient"
    for side in ("local", "remote"):
        assert answered.findtext(f"d:{side}/d:identity", namespaces=NS), side
        assert answered.find(f"d:{side}/d:target", NS) is not None, side
    assert target_host(answered) == alice.endpoint.host
    # The ended call is shown once as terminated, by Alice's BYE.
    ended = [dialog for dialog in calls(notifies[-2]) if state(dialog) == "terminated"]
    assert [ended_by(dialog) for dialog in ended] == ["local-bye"]

    assert proxy.stop() == 0
    stopped = proxy.events("proxy.stopped")[-1]
    assert (stopped["notify_sent"], stopped.get("notify_failed", 0)) == (len(notifies), 0)
    assert stopped["notify_delay_p99_ms"] >= 0


def test_a_watcher_who_is_not_a_delegate_gets_403(
    vipproxy: StartProxy, sipp: SippLauncher, loopback: LoopbackAllocator
) -> None:
    proxy = start_office(vipproxy, loopback, "ring_me_only")

    result = watch(sipp, proxy, "dana").wait()

    result.assert_passed()
    assert subscribe_answers(result) == [401, 403]
    assert result.received("NOTIFY") == []


def test_ring_all_shows_every_branch_ringing_and_exactly_one_confirmed(
    vipproxy: StartProxy, sipp: SippLauncher, loopback: LoopbackAllocator
) -> None:
    alice = sipp.uas("alice", "uas_ring_until_cancel.xml")
    bob = sipp.uas("bob", "uas_ring_until_cancel.xml")
    erin = sipp.uas("erin", "uas_answer.xml", pause_ms=1000)
    proxy = start_office(vipproxy, loopback, "ring_all", alice=alice.uri("alice"),
                         bob=bob.uri("bob"), erin=erin.uri("erin"))
    watcher = watch(sipp, proxy)
    caller = sipp.uac("caller", "uac_call.xml", remote=proxy.endpoint, service=LINE)

    results = sipp.finish(caller, alice, bob, erin)
    watched = watcher.wait()

    assert_all_passed(*results, watched)
    notifies = watched.received("NOTIFY")
    assert_in_order(notifies)
    ringing = [{target_host(d) for d in calls(notify) if state(d) == "early"}
               for notify in notifies]
    phones = {process.endpoint.host for process in (alice, bob, erin)}
    assert phones in ringing, ringing  # the three branches ringing at once, apart
    confirmed = {(dialog.get("id"), target_host(dialog)) for notify in notifies
                 for dialog in calls(notify) if state(dialog) == "confirmed"}
    assert [host for _, host in confirmed] == [erin.endpoint.host], confirmed  # one dialog
    # No dialog comes back once terminated, and the losing branches end cancelled.
    rank = {"trying": 0, "early": 1, "confirmed": 2, "terminated": 3}
    seen: dict[str, int] = {}
    for notify in notifies:
        for dialog in calls(notify):
            now = rank[state(dialog)]
            assert now >= seen.get(dialog.get("id", ""), 0), [n.text for n in notifies]
            seen[dialog.get("id", "")] = now
    # An ended dialog is named by its id alone: whose phone it was, the NOTIFYs
    # that showed it ringing said.
    phone_of = {dialog.get("id"): target_host(dialog) for notify in notifies
                for dialog in calls(notify) if state(dialog) != "terminated"}
    cancelled = {phone_of[dialog.get("id")] for notify in notifies for dialog in calls(notify)
                 if ended_by(dialog) == "cancelled"}
    assert cancelled == {alice.endpoint.host, bob.endpoint.host}


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_unsubscribing_gets_the_final_notify(
    vipproxy: StartProxy, sipp: SippLauncher, loopback: LoopbackAllocator, transport: Transport
) -> None:
    proxy = start_office(vipproxy, loopback, "ring_me_only")

    # Over TCP the NOTIFYs come back on the watcher's own connection.
    result = watch(sipp, proxy, at_once=True, transport=transport).wait()

    result.assert_passed()
    notifies = result.received("NOTIFY")
    assert [lamp(notify) for notify in notifies] == ["idle", "idle"]
    assert [n.header("Subscription-State") for n in notifies] == [
        "active;expires=600", "terminated;reason=timeout"]
    unsubscribe = result.sent("SUBSCRIBE")[-1]
    assert unsubscribe.header("Expires") == "0" and ";tag=" in unsubscribe.header("To")


def test_a_stopping_proxy_ends_subscriptions_so_phones_subscribe_again(
    vipproxy: StartProxy, sipp: SippLauncher, loopback: LoopbackAllocator
) -> None:
    proxy = start_office(vipproxy, loopback, "ring_me_only")
    watcher = watch(sipp, proxy)

    proxy.terminate()
    result = watcher.wait()

    assert proxy.wait_exit() == 0
    result.assert_passed()
    notifies = result.received("NOTIFY")
    # RFC 6665 §4.1.3: deactivated asks the phone to subscribe again at once.
    assert [n.header("Subscription-State") for n in notifies] == [
        "active;expires=600", "terminated;reason=deactivated"]
