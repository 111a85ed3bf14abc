"""Users change their delegation through the management API, end to end: the real
vipproxy, a real HTTP client, SIPp phones. Alice (line 1000) delegates to Bob, who
answers her calls and manages her VIP contacts; she invites Dana; Erin is nobody's
delegate. Each change takes effect for the next call, without a restart.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml

from .conftest import StartProxy
from .delegation_support import LINE, office, route_decisions, vipproxy_cli
from .loopback import Endpoint, LoopbackAllocator, wait_until
from .notice_receivers import MailReceiver, WebhookReceiver
from .proxy_process import ProxyProcess
from .sip_trace import only
from .sipp import SippLauncher, SippProcess, assert_all_passed

pytestmark = pytest.mark.e2e

ADMIN_TOKEN = "test-admin-token-0123456789"
OTHER_CALLER = "4155550123"
NEW_VIP = "14155550142"  # Victor, whom Bob adds as Alice's VIP contact
# Users who exist only to fill Alice's delegation up to its limit of 15.
EXTRAS = tuple(f"extra{index:02d}" for index in range(13))
BOB = {"privileges": ["answer_calls", "manage_vip_contacts"], "status": "accepted"}


def directory(phones: dict[str, str], api: Endpoint) -> dict[str, Any]:
    """Alice's office with Dana and Erin, everybody with a password (their API login)."""
    sections = office(phones, vip_callers="ring_me_only", other_callers="ring_delegates_only",
                      delegates={"bob": BOB})
    users = sections["users"]
    for index, user in enumerate(EXTRAS):
        users[user] = {"lines": [f"20{index:02d}"], "endpoints": ["sip:nobody@127.0.0.1:9"]}
    for user, entry in users.items():
        entry["auth"] = {"password": f"{user}-secret"}
    sections["auth"] = {"realm": "vipproxy.test", "algorithms": ["MD5"]}
    sections["api"] = {"listen": f"{api.host}:{api.port}", "admin_token": ADMIN_TOKEN}
    return sections


def as_user(api: Endpoint, user: str) -> httpx.Client:
    return httpx.Client(base_url=f"http://{api}", timeout=5.0, auth=(user, f"{user}-secret"))


def call(sipp: SippLauncher, proxy: ProxyProcess, name: str, caller: str) -> SippProcess:
    return sipp.uac(name, "uac_call.xml", remote=proxy.endpoint, service=LINE,
                    keys={"caller": caller})


def phone_again(sipp: SippLauncher, phone: SippProcess, name: str, scenario: str) -> SippProcess:
    """A new SIPp callee where ``phone`` was (each SIPp callee takes one call)."""
    return sipp.uas(name, scenario, local=phone.endpoint)


def rang(phone: SippProcess) -> bool:
    return bool(phone.received_so_far("INVITE"))


@pytest.fixture
def webhook(loopback: LoopbackAllocator) -> Iterator[WebhookReceiver]:
    """An HTTP receiver whose first answer is 503: the proxy must try again."""
    receiver = WebhookReceiver(loopback.endpoint(), failures=1)
    yield receiver
    receiver.stop()


@pytest.fixture
def mailbox(loopback: LoopbackAllocator) -> Iterator[MailReceiver]:
    receiver = MailReceiver(loopback.endpoint())
    yield receiver
    receiver.stop()


def test_invitation_acceptance_and_vip_contacts_apply_to_the_next_call(
    vipproxy: StartProxy, sipp: SippLauncher, loopback: LoopbackAllocator,
    webhook: WebhookReceiver, mailbox: MailReceiver,
) -> None:
    api = loopback.endpoint()
    alice = sipp.uas("alice", "uas_answer.xml")
    bob = sipp.uas("bob", "uas_answer.xml")
    dana = sipp.uas("dana", "uas_answer.xml")
    sections = directory({"alice": alice.uri("alice"), "bob": bob.uri("bob"),
                          "dana": dana.uri("dana"), "erin": "sip:erin@127.0.0.1:9"}, api)
    for user in ("alice", "dana"):
        sections["users"][user]["email"] = f"{user}@example.com"
    sections["notifications"] = {
        "webhook": {"url": webhook.url, "attempts": 3},
        "email": {"smtp": str(mailbox.endpoint), "sender": "vipproxy@example.com"}}
    proxy = vipproxy({}, directory=sections)

    with as_user(api, "alice") as alice_api:
        invited = alice_api.put("/delegations/alice/delegates/dana",
                                json={"privileges": ["answer_calls"]})
    assert invited.status_code == 200, invited.text
    with as_user(api, "dana") as dana_api:
        assert dana_api.get("/invitations").json() == [
            {"delegator": "alice", "privileges": ["answer_calls"], "status": "pending"}]
    # Dana is told, by webhook (after one 503) and by e-mail.
    assert wait_until(lambda: webhook.events() == ["delegation.invited"], 5.0), webhook.received
    assert webhook.attempts == 2
    assert webhook.received[0]["delegate"] == "dana"
    assert wait_until(lambda: len(mailbox.mail()) == 1, 5.0), proxy.stderr()
    assert mailbox.mail() == [("dana@example.com", "alice invites you to act as their delegate")]

    # Pending: the call rings Bob alone, not Dana.
    first = call(sipp, proxy, "call1", OTHER_CALLER)
    first_result, bob_result = sipp.finish(first, bob)
    assert_all_passed(first_result, bob_result)
    assert not rang(dana), "a pending delegate must not ring"

    with as_user(api, "dana") as dana_api:
        accepted = dana_api.post("/invitations/alice/accept")
    assert accepted.status_code == 200, accepted.text
    assert wait_until(lambda: len(mailbox.mail()) == 2, 5.0), proxy.stderr()
    assert mailbox.mail()[1] == ("alice@example.com", "dana accepted your invitation")

    # Accepted: the next call rings Bob and Dana together; Dana answers.
    bob = phone_again(sipp, bob, "bob-2", "uas_ring_until_cancel.xml")
    second = call(sipp, proxy, "call2", OTHER_CALLER)
    second_result, dana_result, bob_result = sipp.finish(second, dana, bob)
    assert_all_passed(second_result, dana_result, bob_result)
    only(dana_result.received("INVITE"), "INVITE at dana")
    only(bob_result.received("INVITE"), "INVITE at bob")

    # Bob manages Alice's VIP contacts: Victor's next call follows the VIP policy.
    contact = {"first_name": "Victor", "company": "Acme", "email": "victor@example.com",
               "numbers": [{"number": "+1 (415) 555-0142", "label": "mobile"}]}
    with as_user(api, "bob") as bob_api:
        added = bob_api.post("/delegations/alice/vip_contacts", json=contact)
    assert added.status_code == 201, added.text
    assert contact in added.json()["vip_contacts"], added.text  # the label kept
    with as_user(api, "erin") as erin_api:
        refused = erin_api.post("/delegations/alice/vip_contacts", json=contact)
    assert refused.status_code == 403 and "manage_vip_contacts" in refused.json()["detail"]
    bob = phone_again(sipp, bob, "bob-3", "uas_answer.xml")
    third = call(sipp, proxy, "call3", NEW_VIP)
    third_result, alice_result = sipp.finish(third, alice)
    assert_all_passed(third_result, alice_result)
    assert not rang(bob), "the VIP policy rings Alice only"
    decisions = [(event["policy"], event["vip"]) for event in route_decisions(proxy)]
    assert decisions == [("ring_delegates_only", False), ("ring_delegates_only", False),
                         ("ring_me_only", True)], decisions

    with as_user(api, "alice") as alice_api:
        assert alice_api.delete("/delegations/alice/delegates/dana").status_code == 200
    assert wait_until(lambda: webhook.events() == [
        "delegation.invited", "delegation.accepted", "delegation.removed"], 5.0), webhook.received
    assert wait_until(lambda: len(mailbox.mail()) == 3, 5.0), proxy.stderr()
    assert mailbox.mail()[2] == ("dana@example.com", "alice removed you as their delegate")


def test_changes_that_break_the_rules_get_a_clear_4xx_and_change_nothing(
    vipproxy: StartProxy, loopback: LoopbackAllocator
) -> None:
    api = loopback.endpoint()
    proxy = vipproxy({}, directory=directory(
        {user: f"sip:{user}@127.0.0.1:9" for user in ("alice", "bob", "dana", "erin")}, api))
    with as_user(api, "alice") as alice:
        for user in ("dana", *EXTRAS):  # Bob and these 14: the 15 allowed
            assert alice.put(f"/delegations/alice/delegates/{user}",
                             json={"privileges": []}).status_code == 200
        before = alice.get("/delegations/alice").json()
        assert len(before["delegates"]) == 15

        sixteenth = alice.put("/delegations/alice/delegates/erin", json={"privileges": []})
        assert sixteenth.status_code == 422, sixteenth.text
        assert sixteenth.json()["detail"] == [
            "delegations.alice.delegates: 16 delegates; at most 15 allowed per delegator"]

        malformed = alice.put("/delegations/alice/delegates/erin", content=b"{not json",
                              headers={"Content-Type": "application/json"})
        assert malformed.status_code == 422, malformed.text
        assert malformed.json()["detail"] == [
            "body: not valid JSON at character 1 (Expecting property name enclosed in double"
            " quotes)"]

        unknown = alice.patch("/delegations/alice", json={"voicemail": "sip:vm@127.0.0.1"})
        assert unknown.status_code == 422
        assert "voicemail: unknown key; allowed: vip_delegation, ring_timeout" in unknown.text

        bad_privilege = alice.put("/delegations/alice/delegates/dana",
                                  json={"privileges": ["fly"]})
        assert bad_privilege.status_code == 422
        assert "delegations.alice.delegates.dana.privileges[0]" in bad_privilege.text
        assert alice.get("/delegations/alice").json() == before

    with as_user(api, "erin") as erin:
        nobody_answers = erin.patch("/delegations/erin", json={"vip_delegation": {
            "enabled": True, "vip_callers": "ring_me_only",
            "other_callers": "ring_delegates_only"}})
        assert nobody_answers.status_code == 422, nobody_answers.text
        problem = nobody_answers.json()["detail"][0]
        assert problem.startswith("delegations.erin.vip_delegation.other_callers: "
                                  "ring_delegates_only needs at least one delegate"), problem
        assert "vip_delegation" not in erin.get("/delegations/erin").json()
        assert erin.patch("/delegations/alice", json={"ring_timeout": "5s"}).status_code == 403

    # Locked by the administrator: the file's delegation is the one in force again,
    # and Alice's own changes are refused.
    config = proxy.configuration()
    config["delegations"]["alice"]["locked"] = True
    proxy.rewrite(config)
    with httpx.Client(base_url=f"http://{api}", timeout=5.0,
                      headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as admin:
        assert admin.post("/admin/reload").status_code == 200
    with as_user(api, "alice") as alice:
        locked = alice.patch("/delegations/alice", json={"ring_timeout": "5s"})
        assert locked.status_code == 403 and "locked" in locked.json()["detail"], locked.text
        assert alice.get("/delegations/alice").json()["delegates"] == {"bob": BOB}


def test_users_changes_outlive_a_restart_and_are_exported(
    vipproxy: StartProxy, loopback: LoopbackAllocator
) -> None:
    api = loopback.endpoint()
    phones = {user: f"sip:{user}@127.0.0.1:9" for user in ("alice", "bob", "dana", "erin")}
    first = vipproxy({}, directory=directory(phones, api))
    with as_user(api, "alice") as alice:
        assert alice.put("/delegations/alice/delegates/dana",
                         json={"privileges": ["answer_calls"]}).status_code == 200
    first.stop()
    assert wait_until(lambda: not first.running(), 5.0)
    # The file in force, as YAML: Alice's delegation now has Dana's invitation.
    exported = vipproxy_cli("export", "--config", str(first.config_path))
    assert exported.returncode == 0, exported.stderr
    delegates = yaml.safe_load(exported.stdout)["delegations"]["alice"]["delegates"]
    assert delegates == {"bob": BOB, "dana": {"privileges": ["answer_calls"],
                                               "status": "pending"}}, exported.stdout
    state_dir = first.configuration()["state_dir"]
    vipproxy({}, directory={**directory(phones, api), "state_dir": state_dir})
    with as_user(api, "dana") as dana:
        assert dana.get("/invitations").json() == [
            {"delegator": "alice", "privileges": ["answer_calls"], "status": "pending"}]


def test_a_change_through_one_proxy_applies_in_another_sharing_the_store(
    vipproxy: StartProxy, loopback: LoopbackAllocator
) -> None:
    phones = {user: f"sip:{user}@127.0.0.1:9" for user in ("alice", "bob", "dana", "erin")}
    first_api, second_api = loopback.endpoint(), loopback.endpoint()
    first = vipproxy({}, directory=directory(phones, first_api))
    state_dir = first.configuration()["state_dir"]
    second = vipproxy({}, directory={**directory(phones, second_api), "state_dir": state_dir})
    with as_user(first_api, "alice") as alice:
        assert alice.put("/delegations/alice/delegates/dana",
                         json={"privileges": ["answer_calls"]}).status_code == 200
        assert alice.post("/delegations/alice/vip_contacts",
                          json={"numbers": [NEW_VIP]}).status_code == 201

    def second_sees_it() -> bool:
        with as_user(second_api, "dana") as dana:
            return bool(dana.get("/invitations").json())

    assert wait_until(second_sees_it, 5.0), second.stderr()
    with as_user(second_api, "alice") as alice:
        explained = alice.get("/explain", params={"from": NEW_VIP, "to": LINE}).json()
    assert explained["policy"] == "ring_me_only" and "VIP" in explained["explanation"]
    assert second.events("delegation.refreshed"), second.stderr()
