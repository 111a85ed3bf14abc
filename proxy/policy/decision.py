"""What the routing decision sees (``CallInfo``) and what it decided (``Decision``).

A ``Decision`` explains itself twice from the same facts: as text for
``vipproxy explain`` and as flat fields for the ``route.decision`` log event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from proxy.policy.directory import VipContact
from proxy.policy.outbound import OutboundRule
from proxy.policy.placing import Placement, Refusal
from proxy.policy.plan import RoutingPlan, Stage, Target, TargetRole

CallerSource = Literal["p-asserted-identity", "from"]
LineSource = Literal["request-uri", "to"]
LogValue = str | int | bool | None

# Decision.policy for decisions that do not come from a delegation policy.
POLICY_USER_LINE = "user-line"
POLICY_ROUTE = "route"
POLICY_NOT_FOUND = "not-found"
POLICY_OUTBOUND = "outbound"  # a number outside the directory, to a gateway
POLICY_FORBIDDEN = "forbidden"  # a phone asked for a line it may not call from


@dataclass(frozen=True, slots=True)
class CallInfo:
    """The facts of an incoming INVITE that routing depends on.

    User parts are taken from the URIs as they arrived (not normalised);
    ``asserted_user`` is the user of the first P-Asserted-Identity, if any
    (RFC 3325 §9.1); ``source_ip`` is the address the request came from.
    ``phone_user`` is the user whose phone sent it (authenticated when
    ``phone_authenticated``, else known by a static endpoint's address), and
    ``preferred_user`` the user of its P-Preferred-Identity (RFC 3325 §9.2).
    """

    request_uri_user: str | None
    to_user: str | None
    from_user: str | None
    asserted_user: str | None
    source_ip: str
    preferred_user: str | None = None
    phone_user: str | None = None
    phone_authenticated: bool = False

    @classmethod
    def described(cls, caller: str, line: str, *, peer: str, asserted: str | None = None,
                  user: str | None = None, preferred: str | None = None) -> CallInfo:
        """A call described by hand (``vipproxy explain``, the API's explain): from
        ``caller`` to ``line``, sent from ``peer``; with ``user``, placed from that
        user's authenticated phone."""
        return cls(request_uri_user=line, to_user=line, from_user=caller,
                   asserted_user=asserted, source_ip=peer, preferred_user=preferred,
                   phone_user=user, phone_authenticated=user is not None)


@dataclass(frozen=True, slots=True)
class Decision:
    """The routing decision for one INVITE, with everything needed to explain it.

    ``plan`` None means 404 (the called number is no user's line, no static route
    and no outbound number this caller may call), or 403 when ``refusal`` says
    why the phone may not call from the line it asked for.
    ``trust_asserted_identity`` False tells the core to remove P-Asserted-Identity
    before forwarding (RFC 3325 §5: an identity from outside the trust domain must
    not be passed on as asserted). ``skipped`` lists the
    delegates of the called delegator that are never rung and why. ``placing``
    is the line a user's phone calls from; ``outbound`` the row of the outbound
    table that matched (with ``plan`` None: the caller may not call out).
    """

    call: CallInfo
    plan: RoutingPlan | None
    line: str | None  # the called number, normalised
    line_source: LineSource | None
    caller: str | None  # the calling number, normalised
    caller_source: CallerSource
    trust_asserted_identity: bool
    delegator: str | None
    vip_checked: bool  # the caller was looked up in the delegator's VIP contacts
    vip: VipContact | None
    policy: str  # a Policy value, or POLICY_USER_LINE, POLICY_ROUTE, POLICY_NOT_FOUND
    reason: str  # why this policy, in words
    skipped: tuple[tuple[str, str], ...] = ()  # (delegate user id, reason)
    placing: Placement | None = None
    refusal: Refusal | None = None
    outbound: OutboundRule | None = None

    @property
    def asserted_identity_ignored(self) -> bool:
        """A P-Asserted-Identity arrived from an untrusted peer: not used, removed."""
        return self.call.asserted_user is not None and not self.trust_asserted_identity

    @property
    def planned_stages(self) -> str | None:
        """The stages in one line (``stage > stage``, each its targets and timeout)."""
        plan = self.plan
        return " > ".join(_stage_log(stage) for stage in plan.stages) if plan else None

    def explain(self) -> str:
        """The decision as lines of text for ``vipproxy explain``."""
        lines = [self._called_line(), self._caller_line()]
        if self.placing is not None:
            lines.append(f"calling line: {_placing_text(self.placing)}")
        if self.delegator is not None:
            lines.append(f"delegator: {self.delegator}")
            lines.append(f"VIP: {self._vip_text()}")
        lines.append(f"policy: {self.policy} ({self.reason})")
        if self.outbound is not None:
            lines.append(f"outbound rule: {self.outbound.text}, the first that matches;"
                         f" gateway {self.outbound.gateway}")
        if self.refusal is not None:
            lines.append(f"result: 403 Forbidden ({self.refusal.reason})")
            return "\n".join(lines)
        if self.plan is None:
            lines.append("result: 404 Not Found")
            return "\n".join(lines)
        for number, stage in enumerate(self.plan.stages, start=1):
            lines.append(f"stage {number}: {_stage_text(stage)}")
        if self.plan.fallback is not None:
            lines.append(f"fallback: {_stage_text(self.plan.fallback)}")
        else:
            lines.append("fallback: none; the caller gets the best final response")
        if self.plan.decline_moves_on:
            lines.append("busy or decline from every branch of a stage moves on at once")
        lines.extend(f"skipped delegate: {user} ({why})" for user, why in self.skipped)
        return "\n".join(lines)

    def log_fields(self) -> dict[str, LogValue]:
        """Flat fields for the ``route.decision`` structured log event."""
        plan = self.plan
        return {
            "line": self.line,
            "line_source": self.line_source,
            "caller": self.caller,
            "caller_source": self.caller_source,
            "peer": self.call.source_ip,
            "pai_trusted": self.trust_asserted_identity,
            "pai_ignored": self.asserted_identity_ignored,
            "delegator": self.delegator,
            "vip": self.vip is not None,
            "vip_contact": self.vip.label if self.vip is not None else None,
            "policy": self.policy,
            "reason": self.reason,
            "stages": self.planned_stages,
            "fallback": _stage_log(plan.fallback) if plan and plan.fallback else None,
            "skipped": ", ".join(f"{user}: {why}" for user, why in self.skipped) or None,
            "calling_line": self.placing.line if self.placing is not None else None,
            "placed_by": self.placing.made_by if self.placing is not None else None,
            "outbound_rule": self.outbound.text if self.outbound is not None else None,
        }

    def _called_line(self) -> str:
        if self.line is None:
            return "called line: none (no user in the Request-URI or To)"
        if self.line_source == "request-uri":
            source, written = "Request-URI", self.call.request_uri_user
        else:
            source, written = "To", self.call.to_user
        return f"called line: {self.line} ({source} user {written!r})"

    def _caller_line(self) -> str:
        if self.caller_source == "p-asserted-identity":
            written = self.call.asserted_user
            source = f"P-Asserted-Identity from trusted peer {self.call.source_ip}"
        else:
            written = self.call.from_user
            source = "From"
        text = f"caller: {self.caller} ({source} user {written!r})"
        if self.asserted_identity_ignored:
            text += (
                f"; P-Asserted-Identity {self.call.asserted_user!r} from untrusted peer "
                f"{self.call.source_ip} ignored and removed"
            )
        return text

    def _vip_text(self) -> str:
        if not self.vip_checked:
            return "not checked (VIP delegation disabled)"
        if self.vip is None:
            return "no, the caller is not a VIP contact"
        return f"yes, {self.vip.label}"


def _placing_text(placing: Placement) -> str:
    """``+14155550100 of alice (From), placed by bob for alice, asserted``."""
    who = (f"placed by {placing.made_by}" if placing.made_by == placing.owner
           else f"placed by {placing.made_by} for {placing.owner} (place_calls)")
    shown = ("asserted as P-Asserted-Identity and From" if placing.verified
             else "not asserted (the phone did not authenticate)")
    return (f"{placing.line} of {placing.owner} (chosen by {placing.selected_by}), {who};"
            f" {shown}")


def _stage_text(stage: Stage) -> str:
    targets = ", ".join(_target_text(target) for target in stage.targets)
    return f"{targets}; rings {stage.timeout:g}s"


_ROLE_TEXT = {
    TargetRole.ROUTE: "route",
    TargetRole.DELEGATOR: "line owner",
    TargetRole.DELEGATE: "delegate",
    TargetRole.VOICEMAIL: "voicemail of",
    TargetRole.GATEWAY: "gateway",
}


def _target_text(target: Target) -> str:
    role = _ROLE_TEXT[target.role]
    who = role if target.user is None else f"{role} {target.user}"
    if target.display_prefix:
        who += f", display prefix {target.display_prefix!r}"
    return f"{_target_name(target)} [{who}]"


def _target_name(target: Target) -> str:
    """The URI, or for a person who registers, what the call will look up."""
    return f"registered phones of {target.user}" if target.registered else target.uri


def _stage_log(stage: Stage) -> str:
    return ",".join(_target_name(target) for target in stage.targets) + f"/{stage.timeout:g}s"
