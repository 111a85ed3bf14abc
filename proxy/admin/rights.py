"""What a signed-in user may do with each delegation they take part in, and why not
where they may not (``GET /me``): the console shows only the controls that will
work, and the reason in place of the others. Pure.

The answers come from the routes' own checks (``proxy.admin.delegations``) and the
file's own rule for the policies (``proxy.config.delegations.policy_refusals``),
so the page and the API cannot disagree.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from proxy.admin.access import Caller
from proxy.admin.delegations import (
    NotAllowed,
    Permission,
    check_manager,
    check_vip_manager,
    locked_refusal,
)
from proxy.config.delegations import POLICY_CHOICES, policy_refusals
from proxy.policy.directory import Delegation, DelegationStatus, Directory

# What ``GET /me`` answers for, each with the route's check.
RIGHTS: dict[str, Permission] = {"manage_delegation": check_manager,
                                 "manage_vip_contacts": check_vip_manager}


def rights_json(directory: Directory, caller: Caller,
                locked: Callable[[str], bool]) -> dict[str, Any]:
    """The caller and, per delegation they take part in, what they may do there
    (``{allowed, reason}``) and which policies the delegation may choose now."""
    return {"user": caller.user, "admin": caller.admin,
            "delegations": [_delegation_json(directory, caller, delegator, role,
                                             locked(delegator))
                            for delegator, role in roles(directory, caller)]}


def roles(directory: Directory, caller: Caller) -> list[tuple[str, str]]:
    """``(delegator, role)`` for the caller's own delegation (``delegator``: anyone
    may invite a delegate) and each one they serve as an accepted delegate
    (``delegate``); the administrator takes part in every delegation (``admin``).
    A pending invitation is not taking part yet (``GET /invitations``)."""
    if caller.user is None:
        return [(delegator, "admin") for delegator in sorted(directory.delegations)]
    serving = sorted(delegation.delegator for delegation in directory.delegations.values()
                     for delegate in delegation.delegates
                     if delegate.user == caller.user
                     and delegate.status is DelegationStatus.ACCEPTED)
    return [(caller.user, "delegator"), *((delegator, "delegate") for delegator in serving)]


def verdict(directory: Directory, caller: Caller, delegator: str, check: Permission,
            locked: bool) -> dict[str, Any]:
    """``{allowed, reason}``: whether the route guarded by ``check`` would take the
    caller's change to ``delegator``'s delegation, and if not, its refusal."""
    try:
        if locked:
            raise locked_refusal(delegator)
        check(directory, caller, delegator)
    except NotAllowed as refused:
        return {"allowed": False, "reason": refused.reason}
    return {"allowed": True, "reason": None}


def policy_choices(delegation: Delegation | None) -> dict[str, list[dict[str, Any]]]:
    """Per key of ``vip_delegation``, every policy it may name with whether the
    delegation can choose it now and, if not, why (the file's own problem text)."""
    answering = delegation is not None and bool(delegation.answering_delegates)
    mailbox = delegation is not None and delegation.voicemail is not None
    choices: dict[str, list[dict[str, Any]]] = {}
    for key, policies in POLICY_CHOICES.items():
        choices[key] = []
        for policy in policies:
            refusals = policy_refusals(policy, policies, answering=answering, mailbox=mailbox)
            choices[key].append({"policy": str(policy), "allowed": not refusals,
                                 "reason": "; ".join(refusals) or None})
    return choices


def _delegation_json(directory: Directory, caller: Caller, delegator: str, role: str,
                     locked: bool) -> dict[str, Any]:
    return {"delegator": delegator, "role": role, "locked": locked,
            **{right: verdict(directory, caller, delegator, check, locked)
               for right, check in RIGHTS.items()},
            "policy_choices": policy_choices(directory.delegations.get(delegator))}
