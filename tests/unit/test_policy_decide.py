"""The routing decision, table-driven: every policy x VIP/other caller x delegates."""

from __future__ import annotations

import ipaddress
from dataclasses import replace

import pytest

from proxy.policy.decide import CallInfo, Decision, decide
from proxy.policy.directory import (
    Delegate,
    Delegation,
    DelegationStatus,
    Directory,
    Policy,
    Privilege,
    User,
    VipContact,
    VipDelegation,
)
from proxy.policy.plan import RoutingPlan, Stage, Target, TargetRole

ALICE_LINE = "+14155550100"
VIP_NUMBER = "+1 (415) 555-0199"  # Carol, as written in the directory
STRANGER = "+14155550777"
VOICEMAIL = "sip:vm-alice@127.0.0.20:5060"
RING_TIMEOUT = 15.0
TRUSTED_PEER = "10.1.2.3"
UNTRUSTED_PEER = "203.0.113.5"

USERS = {
    user.id: user
    for user in (
        User(
            "alice",
            "Alice Chen",
            (ALICE_LINE, "1000"),
            ("sip:alice@127.0.0.10:5060", "sip:alice-mobile@127.0.0.10:5062"),
        ),
        User("bob", "Bob Diaz", ("1001",), ("sip:bob@127.0.0.11:5060",)),
        User("dan", "Dan Ek", ("1004",), ("sip:dan@127.0.0.14:5060", "sip:dan2@127.0.0.14:5062")),
        User("carl", "Carl Fox", ("1002",), ("sip:carl@127.0.0.12:5060",)),
        User("erin", "Erin Gil", ("1003",), ("sip:erin@127.0.0.13:5060",)),
    )
}
ALL_PRIVILEGES = frozenset(Privilege)
ANSWERING = (
    Delegate("bob", ALL_PRIVILEGES, DelegationStatus.ACCEPTED),
    Delegate("dan", frozenset({Privilege.ANSWER_CALLS}), DelegationStatus.ACCEPTED),
)
NOT_ANSWERING = (
    Delegate("carl", ALL_PRIVILEGES, DelegationStatus.PENDING),
    Delegate("erin", ALL_PRIVILEGES - {Privilege.ANSWER_CALLS}, DelegationStatus.ACCEPTED),
)
EXPECTED_SKIPPED = (("carl", "pending"), ("erin", "no answer_calls"))
CAROL = VipContact("Carol", "Ng", "Acme", "carol@acme.example", (VIP_NUMBER,))


def make_directory(
    *,
    vip_delegation: VipDelegation | None = None,
    answering: bool = True,
    voicemail: str | None = VOICEMAIL,
    other_display_prefix: str = "",
) -> Directory:
    delegation = Delegation(
        delegator="alice",
        delegates=(ANSWERING if answering else ()) + NOT_ANSWERING,
        vip_delegation=vip_delegation,
        vip_contacts=(CAROL,),
        ring_timeout=RING_TIMEOUT,
        voicemail=voicemail,
        other_display_prefix=other_display_prefix,
    )
    routes = {
        "2000": RoutingPlan((Stage((Target("sip:a@127.0.0.2:5070", TargetRole.ROUTE),), 5.0),)),
        "+14155550123": RoutingPlan(
            (Stage((Target("sip:b@127.0.0.3:5070", TargetRole.ROUTE),), 5.0),)
        ),
    }
    return Directory(
        users=USERS,
        delegations={"alice": delegation},
        routes=routes,
        trusted_peers=(ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("fd00::/8")),
        default_country_code="1",
    )


def call(
    to_line: str | None = ALICE_LINE,
    caller: str | None = STRANGER,
    *,
    asserted: str | None = None,
    peer: str = UNTRUSTED_PEER,
    to_header: str | None = None,
) -> CallInfo:
    return CallInfo(
        request_uri_user=to_line,
        to_user=to_header,
        from_user=caller,
        asserted_user=asserted,
        source_ip=peer,
    )


def endpoints(*names: str) -> tuple[str, ...]:
    return tuple(uri for name in names for uri in USERS[name].endpoints)


def stage_uris(decision: Decision) -> list[tuple[str, ...]]:
    assert decision.plan is not None
    return [tuple(target.uri for target in stage.targets) for stage in decision.plan.stages]


# Who rings in each stage, written from the policy list. "delegates" means
# the answering ones; a group with nobody in it leaves its stage out.
ME, DELEGATES, MAILBOX = ("alice",), ("bob", "dan"), ("mailbox",)
POLICY_STAGES: dict[Policy, list[tuple[str, ...]]] = {
    Policy.RING_ME_ONLY: [ME],
    Policy.RING_ALL: [ME + DELEGATES],
    Policy.RING_ME_THEN_DELEGATES: [ME, DELEGATES],
    Policy.RING_DELEGATES_THEN_ME: [DELEGATES, ME],
    Policy.RING_DELEGATES_ONLY: [DELEGATES],
    Policy.VOICEMAIL: [MAILBOX],
}


def expected_stages(policy: Policy, answering: bool) -> list[tuple[str, ...]]:
    stages: list[tuple[str, ...]] = []
    for names in POLICY_STAGES[policy]:
        uris: tuple[str, ...] = ()
        for name in names:
            if name == "mailbox":
                uris += (VOICEMAIL,)
            elif name == "alice" or answering:
                uris += endpoints(name)
        if uris:
            stages.append(uris)
    return stages


# (label, vip_delegation, caller, answering delegates present, expected policy, VIP?)
ROWS = [
    *[
        (
            f"vip {policy.value} {'with' if answering else 'without'} delegates",
            VipDelegation(policy, Policy.RING_DELEGATES_ONLY),
            "14155550199",
            answering,
            policy,
            True,
        )
        for policy in (Policy.RING_ME_ONLY, Policy.RING_ME_THEN_DELEGATES)
        for answering in (True, False)
    ],
    *[
        (
            f"other {policy.value} {'with' if answering else 'without'} delegates",
            VipDelegation(Policy.RING_ME_THEN_DELEGATES, policy),
            STRANGER,
            answering,
            policy,
            False,
        )
        for policy in Policy
        for answering in (True, False)
    ],
    ("disabled, vip caller, with delegates", None, "4155550199", True, Policy.RING_ALL, False),
    ("disabled, other caller, with delegates", None, STRANGER, True, Policy.RING_ALL, False),
    ("disabled, vip caller, no delegates", None, "4155550199", False, Policy.RING_ME_ONLY, False),
    ("disabled, other caller, no delegates", None, STRANGER, False, Policy.RING_ME_ONLY, False),
]


@pytest.mark.parametrize(
    ("vip_delegation", "caller", "answering", "policy", "is_vip"),
    [row[1:] for row in ROWS],
    ids=[row[0] for row in ROWS],
)
def test_policy_table(
    vip_delegation: VipDelegation | None,
    caller: str,
    answering: bool,
    policy: Policy,
    is_vip: bool,
) -> None:
    directory = make_directory(vip_delegation=vip_delegation, answering=answering)
    decision = decide(call(caller=caller), directory, now=0.0)

    assert decision.policy == policy.value
    assert decision.delegator == "alice"
    assert decision.vip == (CAROL if is_vip else None)
    assert decision.vip_checked is (vip_delegation is not None)
    assert decision.skipped == EXPECTED_SKIPPED
    assert stage_uris(decision) == expected_stages(policy, answering)
    plan = decision.plan
    assert plan is not None
    assert plan.decline_moves_on is True
    assert all(stage.timeout == RING_TIMEOUT for stage in plan.stages)
    if policy is Policy.VOICEMAIL:
        assert plan.fallback is None  # the mailbox is the plan itself
    else:
        assert plan.fallback == Stage(
            (Target(VOICEMAIL, TargetRole.VOICEMAIL, user="alice"),), RING_TIMEOUT
        )
    for stage in plan.stages:
        for target in stage.targets:
            if target.user == "alice" and target.role is not TargetRole.VOICEMAIL:
                assert (target.role, target.display_prefix) == (TargetRole.DELEGATOR, "")
            elif target.role is TargetRole.DELEGATE:
                assert target.user in ("bob", "dan")
                assert target.display_prefix == ("[VIP] " if is_vip else "")
            else:
                assert (target.uri, target.role) == (VOICEMAIL, TargetRole.VOICEMAIL)


def test_every_policy_is_in_the_table() -> None:
    assert {row[4] for row in ROWS} == set(Policy)


def test_without_voicemail_there_is_no_fallback() -> None:
    directory = make_directory(
        vip_delegation=VipDelegation(Policy.RING_ME_ONLY, Policy.RING_DELEGATES_THEN_ME),
        voicemail=None,
    )
    decision = decide(call(), directory, now=0.0)
    assert decision.plan is not None
    assert decision.plan.fallback is None
    assert stage_uris(decision) == [endpoints("bob", "dan"), endpoints("alice")]


def test_display_prefix_for_other_callers_is_configurable() -> None:
    directory = make_directory(
        vip_delegation=VipDelegation(Policy.RING_ME_ONLY, Policy.RING_DELEGATES_ONLY),
        other_display_prefix="[Alice] ",
    )
    decision = decide(call(), directory, now=0.0)
    assert decision.plan is not None
    prefixes = {target.display_prefix for target in decision.plan.stages[0].targets}
    assert prefixes == {"[Alice] "}


@pytest.mark.parametrize(
    ("status", "privileges", "reason"),
    [
        (DelegationStatus.PENDING, ALL_PRIVILEGES, "pending"),
        (DelegationStatus.DECLINED, ALL_PRIVILEGES, "declined"),
        (DelegationStatus.ACCEPTED, frozenset({Privilege.PLACE_CALLS}), "no answer_calls"),
        (DelegationStatus.PENDING, frozenset(), "pending"),
    ],
)
def test_delegate_not_rung_and_why(
    status: DelegationStatus, privileges: frozenset[Privilege], reason: str
) -> None:
    directory = make_directory(vip_delegation=VipDelegation(Policy.RING_ME_ONLY, Policy.RING_ALL))
    delegation = replace(
        directory.delegations["alice"], delegates=(Delegate("bob", privileges, status),)
    )
    directory = replace(directory, delegations={"alice": delegation})
    decision = decide(call(), directory, now=0.0)
    assert decision.skipped == (("bob", reason),)
    assert stage_uris(decision) == [endpoints("alice")]


@pytest.mark.parametrize(
    "caller",
    [
        "+14155550199",
        "14155550199",
        "4155550199",
        "+1-415-555-0199",
        "(415) 555.0199",
        "+1-415-555-0199;phone-context=example.com",
    ],
)
def test_vip_matches_however_the_number_is_written(caller: str) -> None:
    directory = make_directory(
        vip_delegation=VipDelegation(Policy.RING_ME_ONLY, Policy.RING_DELEGATES_ONLY)
    )
    decision = decide(call(caller=caller), directory, now=0.0)
    assert decision.vip == CAROL
    assert decision.caller == "+14155550199"
    assert decision.policy == "ring_me_only"


@pytest.mark.parametrize("caller", ["1001", "+14155550198", "anonymous", None])
def test_not_a_vip(caller: str | None) -> None:
    """A delegate (bob, line 1001) calling the delegator is an ordinary caller."""
    directory = make_directory(
        vip_delegation=VipDelegation(Policy.RING_ME_ONLY, Policy.RING_DELEGATES_ONLY)
    )
    decision = decide(call(caller=caller), directory, now=0.0)
    assert decision.vip is None
    assert decision.vip_checked is True
    assert decision.policy == "ring_delegates_only"


def test_untrusted_asserted_identity_is_ignored_and_flagged_for_removal() -> None:
    directory = make_directory(
        vip_delegation=VipDelegation(Policy.RING_ME_ONLY, Policy.RING_DELEGATES_ONLY)
    )
    spoofed = call(caller=STRANGER, asserted=VIP_NUMBER, peer=UNTRUSTED_PEER)
    decision = decide(spoofed, directory, now=0.0)
    assert decision.trust_asserted_identity is False
    assert decision.asserted_identity_ignored is True
    assert (decision.caller, decision.caller_source) == (STRANGER, "from")
    assert decision.vip is None
    assert decision.policy == "ring_delegates_only"
    assert decision.log_fields()["pai_ignored"] is True
    assert "from untrusted peer 203.0.113.5 ignored and removed" in decision.explain()


@pytest.mark.parametrize("peer", [TRUSTED_PEER, "::ffff:10.9.9.9", "fd00::1"])
def test_trusted_asserted_identity_is_used(peer: str) -> None:
    directory = make_directory(
        vip_delegation=VipDelegation(Policy.RING_ME_ONLY, Policy.RING_DELEGATES_ONLY)
    )
    decision = decide(call(caller="anonymous", asserted="4155550199", peer=peer), directory, 0.0)
    assert decision.trust_asserted_identity is True
    assert decision.asserted_identity_ignored is False
    assert (decision.caller, decision.caller_source) == ("+14155550199", "p-asserted-identity")
    assert decision.vip == CAROL
    assert "P-Asserted-Identity from trusted peer" in decision.explain()


def test_trusted_peer_without_asserted_identity_uses_from() -> None:
    decision = decide(call(caller="4155550199", peer=TRUSTED_PEER), make_directory(), 0.0)
    assert (decision.caller, decision.caller_source) == ("+14155550199", "from")
    assert decision.trust_asserted_identity is True


@pytest.mark.parametrize("peer", ["not-an-address", "", "11.0.0.1"])
def test_untrusted_peers(peer: str) -> None:
    decision = decide(call(asserted="1001", peer=peer), make_directory(), 0.0)
    assert decision.trust_asserted_identity is False
    assert decision.caller_source == "from"


def test_request_uri_user_wins_over_to() -> None:
    decision = decide(call(to_line="1001", to_header=ALICE_LINE), make_directory(), 0.0)
    assert (decision.line, decision.line_source) == ("1001", "request-uri")
    assert decision.policy == "user-line"


def test_to_user_when_the_request_uri_has_no_user() -> None:
    decision = decide(call(to_line=None, to_header="(415) 555-0100"), make_directory(), 0.0)
    assert (decision.line, decision.line_source) == (ALICE_LINE, "to")
    assert decision.delegator == "alice"


def test_no_called_user_at_all() -> None:
    decision = decide(call(to_line=None, to_header=None), make_directory(), 0.0)
    assert decision.plan is None
    assert decision.line is None
    assert decision.policy == "not-found"


@pytest.mark.parametrize("dialled", ["9999", "alice", "+14155550999"])
def test_unknown_number_has_no_plan(dialled: str) -> None:
    decision = decide(call(to_line=dialled), make_directory(), 0.0)
    assert decision.plan is None
    assert decision.policy == "not-found"
    assert decision.delegator is None
    assert "404" in decision.explain()
    assert decision.log_fields()["stages"] is None


def test_a_users_line_without_delegation_rings_that_user() -> None:
    decision = decide(call(to_line="1004"), make_directory(), 0.0)
    assert decision.policy == "user-line"
    assert decision.delegator is None
    assert decision.plan is not None
    assert stage_uris(decision) == [endpoints("dan")]
    assert {target.role for target in decision.plan.stages[0].targets} == {TargetRole.DELEGATOR}
    assert decision.plan.fallback is None
    assert decision.plan.decline_moves_on is False


def test_every_line_of_the_delegator_is_delegated() -> None:
    decision = decide(call(to_line="1000"), make_directory(), 0.0)
    assert decision.delegator == "alice"


@pytest.mark.parametrize(
    ("dialled", "route"),
    [("2000", "2000"), ("4155550123", "+14155550123"), ("+1 415 555 0123", "+14155550123")],
)
def test_static_routes_by_number_as_written_and_normalised(dialled: str, route: str) -> None:
    directory = make_directory()
    decision = decide(call(to_line=dialled), directory, 0.0)
    assert decision.policy == "route"
    assert decision.plan is directory.routes[route]


def test_explanation_and_log_fields_tell_the_whole_story() -> None:
    directory = make_directory(
        vip_delegation=VipDelegation(Policy.RING_ME_THEN_DELEGATES, Policy.RING_ALL)
    )
    decision = decide(call(caller="4155550199"), directory, 0.0)
    text = decision.explain().splitlines()
    assert text == [
        "called line: +14155550100 (Request-URI user '+14155550100')",
        "caller: +14155550199 (From user '4155550199')",
        "delegator: alice",
        "VIP: yes, Carol Ng (Acme) <carol@acme.example>",
        "policy: ring_me_then_delegates (vip_callers policy for a VIP contact)",
        "stage 1: sip:alice@127.0.0.10:5060 [line owner alice],"
        " sip:alice-mobile@127.0.0.10:5062 [line owner alice]; rings 15s",
        "stage 2: sip:bob@127.0.0.11:5060 [delegate bob, display prefix '[VIP] '],"
        " sip:dan@127.0.0.14:5060 [delegate dan, display prefix '[VIP] '],"
        " sip:dan2@127.0.0.14:5062 [delegate dan, display prefix '[VIP] ']; rings 15s",
        f"fallback: {VOICEMAIL} [voicemail of alice]; rings 15s",
        "busy or decline from every branch of a stage moves on at once",
        "skipped delegate: carl (pending)",
        "skipped delegate: erin (no answer_calls)",
    ]
    assert decision.log_fields() == {
        "line": ALICE_LINE,
        "line_source": "request-uri",
        "caller": "+14155550199",
        "caller_source": "from",
        "peer": UNTRUSTED_PEER,
        "pai_trusted": False,
        "pai_ignored": False,
        "delegator": "alice",
        "vip": True,
        "vip_contact": "Carol Ng (Acme) <carol@acme.example>",
        "policy": "ring_me_then_delegates",
        "reason": "vip_callers policy for a VIP contact",
        "stages": "sip:alice@127.0.0.10:5060,sip:alice-mobile@127.0.0.10:5062/15s"
        " > sip:bob@127.0.0.11:5060,sip:dan@127.0.0.14:5060,sip:dan2@127.0.0.14:5062/15s",
        "fallback": f"{VOICEMAIL}/15s",
        "skipped": "carl: pending, erin: no answer_calls",
        "calling_line": None,
        "placed_by": None,
        "outbound_rule": None,
    }


def test_explanation_when_vip_delegation_is_disabled() -> None:
    decision = decide(call(caller="4155550199"), make_directory(), 0.0)
    assert "VIP: not checked (VIP delegation disabled)" in decision.explain()
    assert decision.reason.startswith("VIP delegation disabled")


def test_the_history_is_shared_with_accepted_delegates_only() -> None:
    directory = make_directory()
    assert directory.history_shared_with("alice") == ("alice",)
    # Accepted, with or without answer_calls (erin only lacks it): they see alice's calls.
    for delegate in ("bob", "dan", "erin"):
        assert directory.history_shared_with(delegate) == (delegate, "alice")
    assert directory.history_shared_with("carl") == ("carl",)  # pending: not yet
