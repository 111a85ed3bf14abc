"""The routing decision: which plan an incoming INVITE rings, and why.

``decide`` is pure: the directory and the call's facts in, a ``Decision`` out.
The proxy core calls it for every initial INVITE, forwards per ``decision.plan``
(404 when it is None), strips P-Asserted-Identity when
``decision.trust_asserted_identity`` is false, and logs ``decision.log_fields()``.
"""

from __future__ import annotations

from dataclasses import replace

from proxy.policy.decision import (
    POLICY_FORBIDDEN,
    POLICY_NOT_FOUND,
    POLICY_OUTBOUND,
    POLICY_ROUTE,
    POLICY_USER_LINE,
    CallerSource,
    CallInfo,
    Decision,
    LineSource,
)
from proxy.policy.directory import DEFAULT_RING_TIMEOUT, Delegation, Directory, Policy, User
from proxy.policy.placing import Placement, Refusal, own_line, select_line
from proxy.policy.stages import delegated_plan, user_line_plan

__all__ = ["CallInfo", "Decision", "decide"]


def decide(call: CallInfo, directory: Directory, now: float) -> Decision:
    """Route ``call``: a delegated line by its policy, a user's line, a static route,
    an outbound gateway (first match wins), or 404; 403 when a phone asks for a
    line it may not call from.

    ``now`` (seconds, the caller's clock) is the moment of the call, kept for
    time-dependent policies; no rule depends on it yet.
    """
    dialled, line_source = called_user(call.request_uri_user, call.to_user)
    caller_user, caller_source, trusted = _caller(call, directory)
    placed = _placement(call, directory)
    caller = directory.normalize(caller_user) if caller_user is not None else None
    if isinstance(placed, Placement) and placed.verified:
        caller = placed.line  # the line the phone proved it may call from
    base = Decision(
        call=call,
        plan=None,
        line=directory.normalize(dialled) if dialled is not None else None,
        line_source=line_source,
        caller=caller,
        caller_source=caller_source,
        trust_asserted_identity=trusted,
        delegator=None,
        vip_checked=False,
        vip=None,
        policy=POLICY_NOT_FOUND,
        reason="no user has this line, no static route and no outbound rule matches it",
    )
    if isinstance(placed, Refusal):
        return replace(base, policy=POLICY_FORBIDDEN, reason=placed.reason, refusal=placed)
    base = replace(base, placing=placed)
    if dialled is None:
        return replace(base, reason="the request names no called user")
    owner = directory.line_owner(dialled)
    if owner is not None:
        delegation = directory.delegations.get(owner.id)
        if delegation is not None:
            return _delegated(base, owner, delegation, directory)
        return replace(
            base,
            plan=user_line_plan(owner, DEFAULT_RING_TIMEOUT),
            policy=POLICY_USER_LINE,
            reason=f"line of {owner.id}, who has no delegation",
        )
    route = directory.route(dialled)
    if route is not None:
        return replace(base, plan=route, policy=POLICY_ROUTE, reason="static route")
    return _outbound(base, dialled, directory)


def _placement(call: CallInfo, directory: Directory) -> Placement | Refusal | None:
    """The line a user's phone calls from (``proxy.policy.placing``); None for a call
    from anyone else."""
    user = call.phone_user
    if user is None:
        return None
    if not call.phone_authenticated:
        return own_line(directory, user, call.from_user)
    if call.preferred_user is not None:
        # RFC 3325 §9.2: the identity the user prefers, among those it may use.
        return select_line(directory, user, call.preferred_user, "p-preferred-identity")
    return select_line(directory, user, call.from_user, "from")


def _outbound(base: Decision, dialled: str, directory: Directory) -> Decision:
    """A number outside the directory: the first outbound row that takes it, for
    users' phones and trusted peers only (anyone else would use the trunk for free)."""
    rule = directory.outbound_rule(dialled)
    if rule is None:
        return base
    if base.call.phone_user is None and not base.trust_asserted_identity:
        return replace(base, outbound=rule, reason=(
            f"{rule.text} matches, but only users' phones and trusted peers may call out"))
    return replace(base, plan=rule.plan(directory.normalize(dialled)), policy=POLICY_OUTBOUND,
                   reason=f"outbound to {rule.gateway}", outbound=rule)


def called_user(request_uri_user: str | None,
                to_user: str | None) -> tuple[str | None, LineSource | None]:
    """The called line: the Request-URI user, or the To user when the Request-URI has none.

    RFC 3261 §16.5: the Request-URI is the target; the To header is only consulted
    when the Request-URI carries no user part (e.g. ``INVITE sip:proxy.example``).
    """
    if request_uri_user:
        return request_uri_user, "request-uri"
    if to_user:
        return to_user, "to"
    return None, None


def _caller(call: CallInfo, directory: Directory) -> tuple[str | None, CallerSource, bool]:
    """The calling user, where it came from, and whether the source is trusted.

    RFC 3325 §9.1: a P-Asserted-Identity is believed only from a trusted peer;
    otherwise the From user identifies the caller.
    """
    trusted = directory.is_trusted_peer(call.source_ip)
    if trusted and call.asserted_user:
        return call.asserted_user, "p-asserted-identity", trusted
    return call.from_user, "from", trusted


def _delegated(
    base: Decision, owner: User, delegation: Delegation, directory: Directory
) -> Decision:
    """The decision for a delegator's line: pick the policy, then build its plan."""
    answering = tuple(directory.users[d.user] for d in delegation.answering_delegates)
    skipped = tuple(
        (delegate.user, delegate.skip_reason)
        for delegate in delegation.delegates
        if delegate.skip_reason is not None
    )
    settings = delegation.vip_delegation
    vip = None
    if settings is None:
        policy = Policy.RING_ALL if answering else Policy.RING_ME_ONLY
        reason = "VIP delegation disabled: " + (
            "the delegator and the answering delegates ring together"
            if answering
            else "no answering delegate, the delegator rings alone"
        )
    else:
        # Delegates are not VIPs unless listed: only the contacts are consulted.
        vip = directory.vip_contact(owner.id, base.caller) if base.caller else None
        if vip is not None:
            policy, reason = settings.vip_callers, "vip_callers policy for a VIP contact"
        else:
            policy, reason = settings.other_callers, "other_callers policy"
    prefix = delegation.vip_display_prefix if vip else delegation.other_display_prefix
    return replace(
        base,
        plan=delegated_plan(policy, owner, delegation, answering, prefix),
        delegator=owner.id,
        vip_checked=settings is not None,
        vip=vip,
        policy=policy.value,
        reason=reason,
        skipped=skipped,
    )
