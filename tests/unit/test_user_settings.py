"""The users' delegation settings laid over the file (proxy.config.user_settings),
the rules of who changes them (proxy.admin.delegations) and whom a change tells
(proxy.notices)."""

from __future__ import annotations

from typing import Any

import pytest

from proxy.admin.access import ADMIN, Caller
from proxy.admin.delegations import (
    NotAllowed,
    answered,
    check_invitee,
    check_manager,
    check_vip_manager,
    with_delegate,
    with_new_contact,
    without_contact,
)
from proxy.config.loader import validate_document
from proxy.config.user_settings import (
    ignored_in_file,
    seeds,
    user_settings,
    with_user_settings,
)
from proxy.notices import NoticeKind, notices_of
from proxy.policy.directory import DelegationStatus, Directory


def document(**alice: Any) -> dict[str, Any]:
    return {
        "listen": [{"host": "127.0.0.1"}],
        "users": {user: {"lines": [line], "endpoints": [f"sip:{user}@127.0.0.1"]}
                  for user, line in (("alice", "1000"), ("bob", "1001"), ("dana", "1002"))},
        "delegations": {"alice": {
            "delegates": {"bob": {"privileges": ["answer_calls", "manage_vip_contacts"],
                                  "status": "accepted"}},
            "voicemail": "sip:vm@127.0.0.1", **alice}},
    }


def directory(stored: dict[str, Any] | None = None, **alice: Any) -> Directory:
    merged = with_user_settings(document(**alice), stored or {})
    return validate_document(merged, {}).directory


STORED = {"alice": {"delegates": {"dana": {"privileges": ["answer_calls"],
                                           "status": "accepted"}},
                    "voicemail": "sip:elsewhere@127.0.0.1"}}


def test_the_stored_settings_replace_the_users_part_of_the_entry_only() -> None:
    merged = directory(STORED)
    delegation = merged.delegations["alice"]
    assert [delegate.user for delegate in delegation.delegates] == ["dana"]
    assert delegation.voicemail == "sip:vm@127.0.0.1"  # the administrator's, not stored


def test_a_locked_delegation_is_the_files() -> None:
    locked = directory(STORED, locked=True)
    assert [delegate.user for delegate in locked.delegations["alice"].delegates] == ["bob"]
    assert user_settings(document(locked=True), STORED, "alice")["delegates"] == \
        document()["delegations"]["alice"]["delegates"]


def test_users_the_file_no_longer_has_drop_out_of_the_stored_settings() -> None:
    stored = {"alice": {"delegates": {"zed": {"privileges": [], "status": "pending"}}},
              "gone": {"ring_timeout": "5s"}}
    merged = directory(stored)
    assert merged.delegations["alice"].delegates == ()
    assert "gone" not in merged.delegations


def test_an_invitation_is_pending_and_keeps_its_status_when_privileges_change() -> None:
    settings = with_delegate({}, "dana", {"privileges": ["answer_calls"]})
    assert settings["delegates"]["dana"]["status"] == "pending"
    settings = answered(settings, "dana", DelegationStatus.ACCEPTED)
    changed = with_delegate(settings, "dana", {"privileges": []})
    assert changed["delegates"]["dana"] == {"privileges": [], "status": "accepted"}


def test_who_may_change_what() -> None:
    merged = directory({"alice": {"delegates": {
        "bob": {"privileges": ["manage_vip_contacts"], "status": "accepted"},
        "dana": {"privileges": ["manage_vip_contacts"], "status": "pending"}}}})
    check_manager(merged, Caller("alice"), "alice")
    check_manager(merged, ADMIN, "alice")
    check_vip_manager(merged, Caller("bob"), "alice")
    check_invitee(merged, Caller("dana"), "alice")
    for refused in (lambda: check_manager(merged, Caller("bob"), "alice"),
                    lambda: check_vip_manager(merged, Caller("dana"), "alice"),
                    lambda: check_invitee(merged, ADMIN, "alice")):
        with pytest.raises(NotAllowed):
            refused()


def test_contacts_by_index_and_unknown_keys() -> None:
    settings = with_new_contact({}, {"numbers": ["1"]})
    with pytest.raises(NotAllowed) as missing:
        without_contact(settings, 1)
    assert missing.value.status == 404
    assert without_contact(settings, 0) == {"vip_contacts": []}
    with pytest.raises(NotAllowed) as unknown:
        with_delegate({}, "dana", {"status": "accepted"})
    assert unknown.value.status == 422 and "allowed: privileges" in unknown.value.reason


def test_notices_tell_the_invited_the_delegator_and_the_removed() -> None:
    pending = {"delegates": {"dana": {"privileges": ["answer_calls"], "status": "pending"}}}
    accepted = answered(pending, "dana", DelegationStatus.ACCEPTED)
    invited = notices_of("alice", {}, pending)
    assert [(n.kind, n.recipient) for n in invited] == [(NoticeKind.INVITED, "dana")]
    assert invited[0].as_json(5.0) == {
        "event": "delegation.invited", "delegator": "alice", "delegate": "dana",
        "privileges": ["answer_calls"], "recipient": "dana", "at": 5.0}
    assert [(n.kind, n.recipient) for n in notices_of("alice", pending, accepted)] == [
        (NoticeKind.ACCEPTED, "alice")]
    assert [(n.kind, n.recipient) for n in notices_of("alice", accepted, {"delegates": {}})] == [
        (NoticeKind.REMOVED, "dana")]
    # A change of privileges, or of anything else, tells nobody.
    assert notices_of("alice", accepted, with_delegate(accepted, "dana", {"privileges": []})) == []


def test_the_file_seeds_the_store_with_the_unlocked_delegators_it_does_not_hold() -> None:
    file = document(ring_timeout="20s")
    assert seeds(file, {}) == {"alice": user_settings(file, {}, "alice")}
    assert seeds(file, {"alice": {"ring_timeout": "9s"}}) == {}  # held: the store's
    assert seeds(document(locked=True), {}) == {}  # locked: the file's for good


def test_an_edit_of_what_users_own_is_reported_for_the_delegators_the_store_holds() -> None:
    before, after = document(ring_timeout="20s"), document(ring_timeout="30s")
    stored = {"alice": user_settings(before, {}, "alice")}
    assert ignored_in_file(before, after, stored) == ["alice"]
    assert ignored_in_file(before, before, stored) == []  # no edit
    assert ignored_in_file(before, after, {}) == []  # not held yet: the file seeds it
    locked_after = document(ring_timeout="30s", locked=True)
    assert ignored_in_file(before, locked_after, stored) == []  # locked: applied
    # And the store wins over the edit in the configuration in force.
    merged = with_user_settings(after, stored)
    assert user_settings(merged, {}, "alice")["ring_timeout"] == "20s"
