"""The routing decision of a call in the history, in words (``decision_text``): built
from the stored row alone, for the console and ``GET /history``."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from proxy.history.decision_text import decision_text, policy_words
from proxy.policy.directory import Policy
from proxy.store import CallHistory

STAGES = "sip:alice@192.0.2.10/20s > sip:bob@192.0.2.11/20s,sip:erin@192.0.2.12/20s"


def row(**changes: Any) -> CallHistory:
    """Carol, alice's VIP contact, rang alice for 20 s, then bob answered."""
    values: dict[str, Any] = {
        "call_id": "call-1", "line": "+14155550100", "delegator": "alice",
        "direction": "incoming", "caller": "+14155550199", "caller_source": "from",
        "callee": "+14155550100", "vip": "Carol Ng", "policy": "ring_me_then_delegates",
        "stages": STAGES, "reason": "vip_callers policy for a VIP contact",
        "rung": "alice, bob", "answered_by": "bob", "answered_phone": "sip:bob@192.0.2.11",
        "made_by": None, "outcome": "answered", "status": 200, "started": 1000.0,
        "answered": 1021.0, "ended": 1080.0, "duration": 59.0, "hung_up_by": "bob",
        "end_reason": "bye", **changes}
    return CallHistory(**values)


UNANSWERED: dict[str, Any] = {"answered_by": None, "answered_phone": None, "answered": None,
                              "duration": 0.0, "hung_up_by": None}


def test_a_vip_call_the_first_stage_missed_names_the_contact_each_stage_and_who_answered(
) -> None:
    assert decision_text(row()) == ("VIP contact Carol Ng: ring me first, then delegates;"
                                    " alice did not answer in 20 s; bob answered")


def test_a_call_answered_in_its_first_stage_says_only_who_answered() -> None:
    assert decision_text(row(rung="alice", answered_by="alice")) == (
        "VIP contact Carol Ng: ring me first, then delegates; alice answered")


@pytest.mark.parametrize(("changes", "text"), [
    ({"rung": "alice, bob, erin", "outcome": "missed", "status": 480, **UNANSWERED},
     "alice did not answer in 20 s; bob and erin did not answer in 20 s; nobody answered"),
    ({"rung": "alice, bob, erin", "outcome": "cancelled", "status": 487, **UNANSWERED},
     "alice did not answer in 20 s; the caller hung up while bob and erin rang"),
    ({"rung": "alice, bob, voicemail", **UNANSWERED, "answered_by": "voicemail",
      "outcome": "voicemail"},
     "alice did not answer in 20 s; bob did not answer in 20 s; voicemail took it"),
    ({"rung": "alice", "outcome": "busy", "status": 486, **UNANSWERED},
     "alice did not answer; busy"),
    ({"rung": "alice, bob", "outcome": "failed", "status": 503, **UNANSWERED},
     "alice did not answer in 20 s; bob did not answer; failed (503)"),
])
def test_an_unanswered_call_says_what_each_stage_did_and_how_it_ended(
    changes: dict[str, Any], text: str
) -> None:
    assert decision_text(row(**changes)) == (
        f"VIP contact Carol Ng: ring me first, then delegates; {text}")


def test_an_other_caller_and_vip_delegation_off_are_told_apart_from_a_vip() -> None:
    other = row(vip=None, policy="ring_delegates_only", reason="other_callers policy",
                rung="bob")
    assert decision_text(other) == "other caller: ring delegates only; bob answered"
    off = row(vip=None, policy="ring_all", rung="alice, bob", answered_by="alice",
              reason="VIP delegation disabled: the delegator and the answering delegates"
                     " ring together")
    assert decision_text(off) == ("VIP delegation off: ring me and delegates together;"
                                  " alice answered")


def test_calls_no_delegation_policy_routed_say_why_and_how_they_ended() -> None:
    own = row(line="1001", delegator="bob", vip=None, policy="user-line",
              reason="line of bob, who has no delegation", rung="bob", stages=None)
    assert decision_text(own) == "bob's own line, no delegation; bob answered"
    placed = row(direction="outgoing", made_by="bob", vip=None, policy="outbound",
                 reason="outbound to pbx", rung="sip:+14155550123@pbx",
                 answered_by="sip:+14155550123@pbx", callee="+14155550123")
    assert decision_text(placed) == "placed by bob for alice; sip:+14155550123@pbx answered"
    missed = replace(placed, made_by="alice", outcome="missed", answered_by=None)
    assert decision_text(missed) == "placed by alice; nobody answered"


@pytest.mark.parametrize(("policy", "words"), [
    (Policy.RING_ME_ONLY, "ring me only"),
    (Policy.RING_ALL, "ring me and delegates together"),
    (Policy.RING_ME_THEN_DELEGATES, "ring me first, then delegates"),
    (Policy.RING_DELEGATES_THEN_ME, "ring delegates first, then me"),
    (Policy.RING_DELEGATES_ONLY, "ring delegates only"),
    (Policy.VOICEMAIL, "ring voicemail only"),
])
def test_each_policy_in_words(policy: Policy, words: str) -> None:
    assert policy_words(policy) == words
