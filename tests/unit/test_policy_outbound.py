"""Acting for the delegator in the policy: the outbound table (first match wins,
numbers normalised) and the line a phone places a call on (its own, or a
delegator's with an accepted delegation holding place_calls)."""

from __future__ import annotations

import ipaddress
import re

import pytest

from proxy.policy.decide import CallInfo, decide
from proxy.policy.decision import POLICY_FORBIDDEN, POLICY_NOT_FOUND, POLICY_OUTBOUND
from proxy.policy.directory import (
    Delegate,
    Delegation,
    DelegationStatus,
    Directory,
    Privilege,
    User,
)
from proxy.policy.outbound import OutboundRule
from proxy.policy.plan import TargetRole

ALICE_LINE = "+14155550100"
US_GATEWAY = "sip:127.0.0.5:5060"
UK_GATEWAY = "sip:127.0.0.6:5060;transport=tcp"
PBX = "sip:127.0.0.7"
TRUSTED_PEER = "10.1.2.3"
STRANGER = "203.0.113.5"
OUTBOUND = (
    OutboundRule(0, UK_GATEWAY, pattern=re.compile(r"^\+44\d{10}$")),
    OutboundRule(1, US_GATEWAY, prefix="+1"),
    OutboundRule(2, PBX, prefix="9"),
    OutboundRule(3, PBX, prefix="+"),
)
USERS = {
    user.id: user
    for user in (
        User("alice", "Alice Chen", (ALICE_LINE, "1000"), ("sip:alice@127.0.0.10:5060",)),
        User("bob", "Bob Diaz", ("1001",), ("sip:bob@127.0.0.11:5060",)),
        User("dan", "Dan Ek", ("1004",), ("sip:dan@127.0.0.14:5060",)),
        User("eve", "Eve Fox", ("1005",), ("sip:eve@127.0.0.15:5060",)),
        User("zoe", "Zoe Gil", ("1006",), ("sip:zoe@127.0.0.16:5060",)),
        User("nol", "No Lines", (), ("sip:nol@127.0.0.17:5060",)),
    )
}
BOTH = frozenset({Privilege.ANSWER_CALLS, Privilege.PLACE_CALLS})
DIRECTORY = Directory(
    users=USERS,
    delegations={"alice": Delegation(
        "alice",
        (Delegate("bob", BOTH, DelegationStatus.ACCEPTED),
         Delegate("dan", BOTH, DelegationStatus.PENDING),
         Delegate("eve", frozenset({Privilege.ANSWER_CALLS}), DelegationStatus.ACCEPTED)),
        None, (), 20.0, None)},
    routes={},
    trusted_peers=(ipaddress.ip_network(TRUSTED_PEER),),
    outbound=OUTBOUND,
)


def call(dialled: str, *, caller: str = "1001", phone: str | None = "bob",
         authenticated: bool = True, preferred: str | None = None,
         peer: str = "127.0.0.11") -> CallInfo:
    return CallInfo(dialled, dialled, caller, None, peer, preferred_user=preferred,
                    phone_user=phone, phone_authenticated=authenticated)


@pytest.mark.parametrize(("dialled", "rule", "uri"), [
    ("+44 20 7946 0000", 0, "sip:+442079460000@127.0.0.6:5060;transport=tcp"),
    ("4155550199", 1, "sip:+14155550199@127.0.0.5:5060"),  # national, normalised
    ("+1-212-555-0147", 1, "sip:+12125550147@127.0.0.5:5060"),
    ("9123", 2, "sip:9123@127.0.0.7"),  # an extension-length number stays digits
    ("+4420794600001", 3, "sip:+4420794600001@127.0.0.7"),  # too long for row 0
])
def test_the_first_matching_row_sends_the_normalised_number_to_its_gateway(
        dialled: str, rule: int, uri: str) -> None:
    decision = decide(call(dialled), DIRECTORY, 0.0)
    assert decision.policy == POLICY_OUTBOUND
    assert decision.outbound is OUTBOUND[rule]
    assert decision.plan is not None
    [stage] = decision.plan.stages
    assert [(t.uri, t.role) for t in stage.targets] == [(uri, TargetRole.GATEWAY)]


def test_lines_and_routes_come_before_the_outbound_table() -> None:
    decision = decide(call(ALICE_LINE, caller="1005", phone="eve"), DIRECTORY, 0.0)
    assert decision.delegator == "alice" and decision.outbound is None


def test_no_matching_row_is_404() -> None:
    decision = decide(call("8123"), DIRECTORY, 0.0)
    assert decision.plan is None and decision.policy == POLICY_NOT_FOUND
    assert "no outbound rule matches" in decision.reason


@pytest.mark.parametrize(("phone", "peer", "allowed"), [
    ("bob", "127.0.0.11", True),  # a user's phone
    (None, TRUSTED_PEER, True),  # a trusted peer (the PBX)
    (None, STRANGER, False),  # anyone else, even under untrusted_calls: local_lines
])
def test_only_phones_and_trusted_peers_call_out(phone: str | None, peer: str,
                                                allowed: bool) -> None:
    caller = "1001" if phone else "+12125550100"
    decision = decide(call("+12125550147", phone=phone, peer=peer, caller=caller), DIRECTORY,
                      0.0)
    assert (decision.plan is not None) is allowed
    if not allowed:
        assert decision.reason == ("outbound[1] (prefix '+1') matches, but only users' phones"
                                   " and trusted peers may call out")


def test_explain_names_the_rule_and_the_gateway() -> None:
    text = decide(call("+12125550147"), DIRECTORY, 0.0).explain()
    assert ("outbound rule: outbound[1] (prefix '+1'), the first that matches;"
            f" gateway {US_GATEWAY}") in text
    assert "stage 1: sip:+12125550147@127.0.0.5:5060 [gateway]; rings 180s" in text


# --- the line a phone calls from -------------------------------------------------------

@pytest.mark.parametrize(("caller", "preferred", "selected_by"), [
    (ALICE_LINE, None, "from"),
    ("+1 415 555 0100", None, "from"),
    ("1000", None, "from"),
    ("1001", ALICE_LINE, "p-preferred-identity"),
])
def test_an_accepted_delegate_with_place_calls_calls_from_the_delegators_line(
        caller: str, preferred: str | None, selected_by: str) -> None:
    decision = decide(call("+12125550147", caller=caller, preferred=preferred), DIRECTORY, 0.0)
    placing = decision.placing
    assert placing is not None and decision.plan is not None
    line = "1000" if caller == "1000" else ALICE_LINE
    assert (placing.line, placing.owner, placing.owner_name, placing.made_by,
            placing.selected_by, placing.verified) == (
        line, "alice", "Alice Chen", "bob", selected_by, True)
    assert decision.caller == line
    assert decision.log_fields()["placed_by"] == "bob"
    assert f"calling line: {line} of alice (chosen by {selected_by}), placed by bob for alice" \
        in decision.explain()


@pytest.mark.parametrize(("phone", "reason"), [
    ("dan", "dan's delegation from alice is pending, not accepted"),
    ("eve", "eve lacks the place_calls privilege from alice"),
    ("zoe", "zoe is not a delegate of alice"),
])
def test_anyone_else_gets_403_naming_what_is_missing(phone: str, reason: str) -> None:
    for caller, preferred in ((ALICE_LINE, None), (USERS[phone].lines[0], ALICE_LINE)):
        decision = decide(call("+12125550147", caller=caller, preferred=preferred, phone=phone),
                          DIRECTORY, 0.0)
        assert decision.plan is None and decision.policy == POLICY_FORBIDDEN
        assert decision.refusal is not None
        assert (decision.refusal.counter, decision.refusal.reason) == ("foreign_line", reason)
        assert f"result: 403 Forbidden ({reason})" in decision.explain()


@pytest.mark.parametrize(("caller", "preferred", "reason"), [
    ("+12125550147", None, "the From is not a line of bob"),
    ("1001", "+12125550147", "the P-Preferred-Identity is not a line of bob"),
    (None, None, "the From is not a line of bob"),
])
def test_a_number_that_is_nobodys_line_is_refused(caller: str | None, preferred: str | None,
                                                 reason: str) -> None:
    info = CallInfo("1000", "1000", caller, None, "127.0.0.11", preferred_user=preferred,
                    phone_user="bob", phone_authenticated=True)
    refusal = decide(info, DIRECTORY, 0.0).refusal
    assert refusal is not None and (refusal.counter, refusal.reason) == ("foreign_from", reason)


@pytest.mark.parametrize(("caller", "line"), [("1001", "1001"), ("bob", "1001")])
def test_own_lines_always_work(caller: str, line: str) -> None:
    placing = decide(call(ALICE_LINE, caller=caller), DIRECTORY, 0.0).placing
    assert placing is not None and (placing.line, placing.owner) == (line, "bob")


def test_a_user_without_lines_calls_by_id_from_no_line() -> None:
    decision = decide(call("1000", caller="nol", phone="nol"), DIRECTORY, 0.0)
    assert decision.plan is not None and decision.placing is None


@pytest.mark.parametrize(("caller", "line"), [(ALICE_LINE, "1001"), ("1001", "1001")])
def test_a_static_phone_is_not_verified_and_stays_on_its_users_line(caller: str,
                                                                   line: str) -> None:
    decision = decide(call("+12125550147", caller=caller, authenticated=False), DIRECTORY, 0.0)
    placing = decision.placing
    assert placing is not None and decision.refusal is None
    assert (placing.line, placing.owner, placing.verified) == (line, "bob", False)
