"""What ``GET /me`` tells a user they may do, per delegation, and why not: the same
answers as the routes' checks and the file's rule for the policies."""

from __future__ import annotations

from typing import Any

import pytest

from proxy.admin.access import ADMIN, Caller
from proxy.admin.rights import policy_choices, rights_json
from proxy.config.loader import validate_document
from proxy.policy.directory import Directory


def office(delegates: dict[str, Any], *, voicemail: bool = False) -> Directory:
    """Alice delegating to ``delegates``; Bob, Eve and Erin are users."""
    users = {user: {"lines": [line], "endpoints": [f"sip:{user}@127.0.0.1"]}
             for user, line in (("alice", "1000"), ("bob", "1001"), ("eve", "1005"),
                                ("erin", "1003"))}
    alice: dict[str, Any] = {"delegates": delegates}
    if voicemail:
        alice["voicemail"] = "sip:vm@127.0.0.20"
    document = {"listen": [{"host": "127.0.0.1"}], "users": users,
                "delegations": {"alice": alice}}
    return validate_document(document, environ={}).directory


BOB = {"privileges": ["answer_calls", "manage_vip_contacts"], "status": "accepted"}
EVE = {"privileges": ["answer_calls"], "status": "accepted"}
ERIN_INVITED = {"privileges": ["manage_vip_contacts"], "status": "pending"}


def rights(directory: Directory, user: str | None, *locked: str) -> dict[str, Any]:
    caller = ADMIN if user is None else Caller(user)
    return rights_json(directory, caller, lambda delegator: delegator in locked)


def delegation(answer: dict[str, Any], delegator: str) -> dict[str, Any]:
    found: dict[str, Any] = next(entry for entry in answer["delegations"]
                                 if entry["delegator"] == delegator)
    return found


def allowed(choices: list[dict[str, Any]]) -> dict[str, bool]:
    return {choice["policy"]: choice["allowed"] for choice in choices}


def test_the_delegator_manages_everything_of_their_own_delegation() -> None:
    alice = delegation(rights(office({"bob": BOB}), "alice"), "alice")
    assert alice["role"] == "delegator"
    assert alice["manage_delegation"] == {"allowed": True, "reason": None}
    assert alice["manage_vip_contacts"] == {"allowed": True, "reason": None}


def test_a_delegate_with_manage_vip_contacts_manages_the_contacts_only() -> None:
    answer = rights(office({"bob": BOB, "eve": EVE}), "bob")
    assert [(entry["delegator"], entry["role"]) for entry in answer["delegations"]] == [
        ("bob", "delegator"), ("alice", "delegate")]
    alice = delegation(answer, "alice")
    assert alice["manage_vip_contacts"] == {"allowed": True, "reason": None}
    assert alice["manage_delegation"] == {
        "allowed": False,
        "reason": "only alice (or the administrator) changes alice's delegates, policies and"
                  " ring timeout"}


def test_a_delegate_without_the_privilege_is_told_which_one_is_missing() -> None:
    eve = delegation(rights(office({"bob": BOB, "eve": EVE}), "eve"), "alice")
    assert eve["manage_vip_contacts"] == {
        "allowed": False,
        "reason": "eve is not an accepted delegate of alice with the manage_vip_contacts"
                  " privilege"}


def test_a_pending_invitation_is_not_a_delegation_to_manage_yet() -> None:
    answer = rights(office({"bob": BOB, "erin": ERIN_INVITED}), "erin")
    assert [entry["delegator"] for entry in answer["delegations"]] == ["erin"]


def test_a_locked_delegation_refuses_everyone_with_the_administrators_reason() -> None:
    answer = rights(office({"bob": BOB}), "alice", "alice")
    alice = delegation(answer, "alice")
    reason = ("the administrator locked alice's delegation: it is changed in the"
              " configuration file")
    assert alice["locked"] is True
    assert alice["manage_delegation"] == {"allowed": False, "reason": reason}
    assert alice["manage_vip_contacts"] == {"allowed": False, "reason": reason}
    assert delegation(rights(office({"bob": BOB}), "bob", "alice"), "alice")[
        "manage_vip_contacts"]["reason"] == reason


def test_the_administrator_takes_part_in_every_delegation() -> None:
    answer = rights(office({"bob": BOB}), None)
    assert answer["user"] is None and answer["admin"] is True
    assert [(entry["delegator"], entry["role"], entry["manage_delegation"]["allowed"])
            for entry in answer["delegations"]] == [("alice", "admin", True)]


def test_vip_callers_choose_between_the_two_vip_policies_only() -> None:
    choices = policy_choices(office({"bob": BOB}).delegations["alice"])
    assert allowed(choices["vip_callers"]) == {"ring_me_only": True,
                                               "ring_me_then_delegates": True}


@pytest.mark.parametrize("delegates", [{}, {"bob": {**BOB, "status": "pending"}},
                                       {"bob": {**BOB, "privileges": ["manage_vip_contacts"]}}])
def test_without_an_answering_delegate_the_delegates_choices_are_refused_with_the_reason(
    delegates: dict[str, Any]
) -> None:
    choices = policy_choices(office(delegates).delegations["alice"])
    assert allowed(choices["other_callers"]) == {
        "ring_me_only": True, "ring_all": False, "ring_me_then_delegates": False,
        "ring_delegates_then_me": False, "ring_delegates_only": False, "voicemail": False}
    ring_all = next(c for c in choices["other_callers"] if c["policy"] == "ring_all")
    assert ring_all["reason"] == (
        "ring_all needs at least one delegate with status accepted and the answer_calls"
        " privilege, and there is none; without one allowed: ring_me_only, voicemail")
    assert allowed(choices["vip_callers"]) == {"ring_me_only": True,
                                               "ring_me_then_delegates": False}


def test_voicemail_is_a_choice_only_with_a_mailbox() -> None:
    without = policy_choices(office({"bob": BOB}).delegations["alice"])
    assert [c["reason"] for c in without["other_callers"] if c["policy"] == "voicemail"] == [
        "voicemail needs a mailbox: set voicemail (a sip: URI) in this delegation"]
    with_mailbox = policy_choices(office({}, voicemail=True).delegations["alice"])
    assert allowed(with_mailbox["other_callers"])["voicemail"] is True


def test_a_user_without_a_delegation_yet_may_start_one() -> None:
    erin = delegation(rights(office({"bob": BOB}), "erin"), "erin")
    assert erin["manage_delegation"]["allowed"] is True
    assert allowed(erin["policy_choices"]["other_callers"])["ring_all"] is False
