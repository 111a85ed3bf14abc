"""What the routing decision sees (``CallInfo``) and what it decided (``Decision``).

A ``Decision`` explains itself twice from the same facts: as text for
``vipproxy explain`` and as flat fields for the ``route.decision`` log event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from proxy.policy.directory import VipContact
from proxy.policy.plan import RoutingPlan, Stage, Target, TargetRole

CallerSource = Literal["p-asserted-identity", "from"]
LineSource = Literal["request-uri", "to"]
LogValue = str | int | bool | None

# Decision.policy for decisions that do not come from a delegation policy.
POLICY_USER_LINE = "user-line"
POLICY_ROUTE = "route"
POLICY_NOT_FOUND = "not-found"


@dataclass(frozen=True, slots=True)
class CallInfo:
    """The facts of an incoming INVITE that routing depends on.

    User parts are taken from the URIs as they arrived (not normalised);
    ``asserted_user`` is the user of the first P-Asserted-Identity, if any
    (RFC 3325 §9.1); ``source_ip`` is the address the request came from.
    """

    request_uri_user: str | None
    to_user: str | None
    from_user: str | None
    asserted_user: str | None
    source_ip: str


@dataclass(frozen=True, slots=True)
class Decision:
    """The routing decision for one INVITE, with everything needed to explain it.

    ``plan`` None means 404: the called number is neither a user's line nor a
    static route. ``trust_asserted_identity`` False tells the core to remove
    P-Asserted-Identity before forwarding (RFC 3325 §5: an identity from outside
    the trust domain must not be passed on as asserted). ``skipped`` lists the
    delegates of the called delegator that are never rung and why.
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
        if self.delegator is not None:
            lines.append(f"delegator: {self.delegator}")
            lines.append(f"VIP: {self._vip_text()}")
        lines.append(f"policy: {self.policy} ({self.reason})")
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


def _stage_text(stage: Stage) -> str:
    targets = ", ".join(_target_text(target) for target in stage.targets)
    return f"{targets}; rings {stage.timeout:g}s"


_ROLE_TEXT = {
    TargetRole.ROUTE: "route",
    TargetRole.DELEGATOR: "line owner",
    TargetRole.DELEGATE: "delegate",
    TargetRole.VOICEMAIL: "voicemail of",
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
