"""Routing plans for a user's line: which groups ring in which stage, per policy.

The table below is the whole policy semantics of the issue: ``ring_me_only`` =
[me]; ``ring_all`` = [me + delegates]; ``ring_me_then_delegates`` = [me] then
[delegates]; ``ring_delegates_then_me`` = [delegates] then [me];
``ring_delegates_only`` = [delegates]; ``voicemail`` = [mailbox]. Every stage rings
for the delegator's ``ring_timeout``; the mailbox, when there is one, is also the
fallback once every stage failed (rung for ``ring_timeout`` too, a bound on how
long the mailbox may take to answer).
"""

from __future__ import annotations

import enum

from proxy.policy.directory import Delegation, Policy, User
from proxy.policy.plan import RoutingPlan, Stage, Target, TargetRole


class Group(enum.Enum):
    """Who rings together in a stage."""

    ME = "me"  # every endpoint of the line's owner
    DELEGATES = "delegates"  # every endpoint of every answering delegate
    MAILBOX = "mailbox"  # the shared voicemail URI


STAGE_GROUPS: dict[Policy, tuple[tuple[Group, ...], ...]] = {
    Policy.RING_ME_ONLY: ((Group.ME,),),
    Policy.RING_ALL: ((Group.ME, Group.DELEGATES),),
    Policy.RING_ME_THEN_DELEGATES: ((Group.ME,), (Group.DELEGATES,)),
    Policy.RING_DELEGATES_THEN_ME: ((Group.DELEGATES,), (Group.ME,)),
    Policy.RING_DELEGATES_ONLY: ((Group.DELEGATES,),),
    Policy.VOICEMAIL: ((Group.MAILBOX,),),
}


def delegated_plan(
    policy: Policy,
    delegator: User,
    delegation: Delegation,
    delegates: tuple[User, ...],
    display_prefix: str,
) -> RoutingPlan:
    """The plan for a delegated line under ``policy``.

    ``delegates`` are the directory entries of the answering delegates;
    ``display_prefix`` is put on the INVITEs they receive. Groups with nobody in
    them are left out, so a stage never has zero targets (load-time validation
    makes sure every policy in use has somebody to ring).
    """
    groups = {
        Group.ME: _owner_targets(delegator),
        Group.DELEGATES: tuple(
            target for user in delegates
            for target in _user_targets(user, TargetRole.DELEGATE, display_prefix)
        ),
        Group.MAILBOX: _mailbox_targets(delegation),
    }
    stages = []
    for stage_groups in STAGE_GROUPS[policy]:
        targets = tuple(target for group in stage_groups for target in groups[group])
        if targets:
            stages.append(Stage(targets, delegation.ring_timeout))
    mailbox = groups[Group.MAILBOX]
    fallback = (
        Stage(mailbox, delegation.ring_timeout)
        if mailbox and policy is not Policy.VOICEMAIL
        else None
    )
    # Busy or decline from every branch of a stage moves on to the next stage and to
    # the mailbox: the delegator pressing "decline" still reaches the delegates.
    return RoutingPlan(tuple(stages), fallback=fallback, decline_moves_on=True)


def user_line_plan(owner: User, ring_timeout: float) -> RoutingPlan:
    """The plan for the line of a user without delegation: their own endpoints only.

    Such a user has no mailbox (voicemail is a delegation setting) and a plain
    proxy's response selection applies (RFC 3261 §16.7: a 6xx ends the fork).
    """
    return RoutingPlan((Stage(_owner_targets(owner), ring_timeout),))


def _owner_targets(owner: User) -> tuple[Target, ...]:
    return _user_targets(owner, TargetRole.DELEGATOR, "")


def _user_targets(user: User, role: TargetRole, display_prefix: str) -> tuple[Target, ...]:
    """A user's static endpoints, and their registered phones when they register."""
    static = tuple(Target(uri, role, user=user.id, display_prefix=display_prefix)
                   for uri in user.endpoints)
    if not user.registered:
        return static
    return (*static, Target("", role, user=user.id, display_prefix=display_prefix,
                            registered=True))


def _mailbox_targets(delegation: Delegation) -> tuple[Target, ...]:
    if delegation.voicemail is None:
        return ()
    return (Target(delegation.voicemail, TargetRole.VOICEMAIL, user=delegation.delegator),)
