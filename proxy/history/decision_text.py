"""Why a call in the shared history went where it went, in one line of words, built
from the history row alone (the routing decision and what each stage did). Pure.

``VIP contact Carol Ng: ring me first, then delegates; alice did not answer in
20 s; bob answered``. The console shows it under each call and the API returns it
(``GET /history``, ``decision_text``), so a person reading either sees the same.

The stages are the policy's (``proxy.policy.stages.STAGE_GROUPS``): whoever was
rung is put in the stage of their group (the line's owner is ``me``, the mailbox
``voicemail``, anyone else a delegate). Every stage of a delegated line rings for
the delegator's ``ring_timeout``, which the row's ``stages`` ends each stage with
(``.../20s``). A stage moved on from when its time was up, or when every phone in
it declined; the row does not say which, so the text says "did not answer".
"""

from __future__ import annotations

from collections.abc import Sequence

from proxy.policy.directory import Policy
from proxy.policy.stages import STAGE_GROUPS, Group
from proxy.store.records import CallHistory

_GROUP_WORDS = {Group.ME: "me", Group.DELEGATES: "delegates", Group.MAILBOX: "voicemail"}
_MAILBOX = "voicemail"  # how the history names the mailbox it rang
# What an unanswered call's outcome means, after whatever rang last.
_UNANSWERED = {
    "missed": "nobody answered",
    "busy": "busy",
    "cancelled": "the caller hung up",
    "voicemail": "voicemail took it",
}


def decision_text(row: CallHistory) -> str:
    """The routing decision of ``row`` and what came of it, in words."""
    if row.direction == "outgoing":
        placer = row.made_by or row.delegator
        who = placer if placer == row.delegator else f"{placer} for {row.delegator}"
        return _joined([f"placed by {who}", _result(row)])
    policy = _policy(row.policy)
    if policy is None:
        return _joined([_why(row), _result(row)])
    return _joined([f"{_caller_kind(row)}: {policy_words(policy)}",
                    *_stages(row, policy)])


def policy_words(policy: Policy) -> str:
    """``ring me first, then delegates``: the policy's stages (``STAGE_GROUPS``)."""
    stages = [" and ".join(_GROUP_WORDS[group] for group in groups)
              for groups in STAGE_GROUPS[policy]]
    if len(stages) > 1:
        return f"ring {stages[0]} first, then {', then '.join(stages[1:])}"
    together = " together" if len(STAGE_GROUPS[policy][0]) > 1 else " only"
    return f"ring {stages[0]}{together}"


def _caller_kind(row: CallHistory) -> str:
    if row.vip:
        return f"VIP contact {row.vip}"
    if row.reason and row.reason.startswith("VIP delegation disabled"):
        return "VIP delegation off"
    return "other caller"


def _why(row: CallHistory) -> str:
    """A call no delegation policy routed: a user's own line, a static route, ..."""
    if row.policy == "user-line":
        return f"{row.delegator}'s own line, no delegation"
    return row.reason or row.policy or "not routed"


def _stages(row: CallHistory, policy: Policy) -> list[str]:
    """What each stage that rang did: moved on, or was answered; then the end."""
    rung = [person for person in (row.rung or "").split(", ") if person]
    timeout = _stage_timeout(row.stages)
    groups_of_stages = STAGE_GROUPS[policy]
    stages = [[person for person in rung if _group(person, row.delegator) in groups]
              for groups in groups_of_stages]
    # The mailbox rings after every stage failed, when the policy has one.
    if _MAILBOX in rung and not any(Group.MAILBOX in groups for groups in groups_of_stages):
        stages.append([_MAILBOX])
    rang = [people for people in stages if people]
    said: list[str] = []
    for people in rang[:-1]:
        if row.answered_by in people:
            return [*said, _answered(row)]
        said.append(f"{_names(people)} did not answer{timeout}")
    last = rang[-1] if rang else []
    if row.answered_by is not None and row.answered_by in last:
        return [*said, _answered(row)]
    if last and row.outcome == "cancelled":
        return [*said, f"the caller hung up while {_names(last)} rang"]
    if last:
        said.append(f"{_names(last)} did not answer"
                    f"{timeout if row.outcome == 'missed' else ''}")
    return [*said, _result(row)]


def _result(row: CallHistory) -> str:
    if row.outcome == "answered":
        return _answered(row)
    return _UNANSWERED.get(row.outcome, f"{row.outcome} ({row.status})")


def _answered(row: CallHistory) -> str:
    if row.answered_by == _MAILBOX:
        return "voicemail took it"
    return f"{row.answered_by or row.callee or 'the callee'} answered"


def _group(person: str, delegator: str) -> Group:
    if person == delegator:
        return Group.ME
    return Group.MAILBOX if person == _MAILBOX else Group.DELEGATES


def _policy(value: str | None) -> Policy | None:
    """The delegation policy of the row; None for a user's own line, a route, ..."""
    try:
        return Policy(value or "")
    except ValueError:
        return None


def _stage_timeout(stages: str | None) -> str:
    """`` in 20 s`` from ``targets/20s > targets/20s`` (``Decision.planned_stages``);
    empty when the row has none."""
    if not stages:
        return ""
    _, _, seconds = stages.split(" > ")[0].rpartition("/")
    seconds = seconds.removesuffix("s")
    return f" in {seconds} s" if seconds.replace(".", "", 1).isdigit() else ""


def _names(people: Sequence[str]) -> str:
    """``alice``, ``alice and bob``, ``alice, bob and erin``."""
    if len(people) == 1:
        return people[0]
    return f"{', '.join(people[:-1])} and {people[-1]}"


def _joined(parts: Sequence[str]) -> str:
    return "; ".join(part for part in parts if part)
