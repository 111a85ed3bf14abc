"""The response context of one forked request (RFC 3261 §16.7, §16.8, §16.10).

Pure bookkeeping: it is told what happened (a branch responded, a timer fired,
the caller cancelled) and returns decisions (start a branch, relay a response,
cancel a branch, arm a timer). The driver carries the decisions out
(ARCHITECTURE principle 3, after Kamailio tm's split of ``t_should_relay_response``
from ``relay_reply``).

Stages: a plan is a list of stages, each a set of targets forked in parallel. The
next stage starts when every branch of the current one has a final response or
the stage timer fires; branches still ringing then are cancelled and settled with
a synthetic 408 (principle 4: a timeout is a response).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from proxy.core.diversion import UNCONDITIONAL, Diversion, diversion_after
from proxy.core.selection import best_response, with_every_challenge
from proxy.defaults import TIMER_C_SECONDS
from proxy.policy.plan import RoutingPlan, Stage, Target, TargetRole
from proxy.sip.message import Request, Response, make_response
from proxy.transaction.timers import TimerSettings

# RFC 3326 Reason for branches cancelled because another branch answered, so that
# phones do not log a missed call.
COMPLETED_ELSEWHERE = 'SIP;cause=200;text="Call completed elsewhere"'


# ---------------------------------------------------------------------------
# Decisions


@dataclass(frozen=True, slots=True)
class StartBranch:
    """Forward the request to ``target`` as branch ``branch_id``.

    ``diversion`` is set for voicemail targets and fallbacks: why the call went
    there, for the Diversion and History-Info headers (``proxy.core.diversion``).
    """

    branch_id: int
    target: Target
    diversion: Diversion | None = None


@dataclass(frozen=True, slots=True)
class RelayResponse:
    """Send ``response`` upstream; branch responses reach the context without our Via.

    ``branch_id`` names the branch a relayed 2xx came from (who answered)."""

    response: Response
    branch_id: int | None = None


@dataclass(frozen=True, slots=True)
class CancelBranch:
    """Send CANCEL on branch ``branch_id`` (§9.1: only after it sent a provisional)."""

    branch_id: int
    reason: str | None


@dataclass(frozen=True, slots=True)
class ArmTimer:
    """Start the stage timer (``branch_id`` None), a branch's Timer C, or the wait
    for the cancelled branches' answers."""

    name: str  # "stage", "C" or "cancelled"
    delay: float
    generation: int
    branch_id: int | None = None


Decision = StartBranch | RelayResponse | CancelBranch | ArmTimer


class CancelState(enum.Enum):
    NONE = "none"
    WANTED = "wanted"  # decided, waiting for a provisional response (§9.1)
    SENT = "sent"


@dataclass(slots=True)
class Branch:
    branch_id: int
    target: Target
    stage: int
    provisional_seen: bool = False
    cancel: CancelState = CancelState.NONE
    cancel_reason: str | None = None
    final: Response | None = None  # real or synthetic; None while pending
    unreachable: bool = False  # the proxy could not send to this target (own 503)
    timer_c_generation: int = 0

    @property
    def pending(self) -> bool:
        return self.final is None


@dataclass(frozen=True, slots=True)
class ContextSettings:
    timer_c: float = TIMER_C_SECONDS
    cancel_wait: float = TimerSettings().cancel_wait


@dataclass(slots=True)
class ResponseContext:
    """Forks ``request`` along ``plan`` and selects what goes upstream."""

    request: Request
    plan: RoutingPlan
    local_tag: str  # To tag for responses this proxy generates (408, 487)
    settings: ContextSettings = field(default_factory=ContextSettings)
    branches: list[Branch] = field(default_factory=list)
    stage_index: int = -1
    stage_generation: int = 0
    in_fallback: bool = False
    answered: bool = False  # a 2xx went upstream
    final_sent: bool = False
    cancelled: bool = False  # the caller sent CANCEL (§16.10)

    @property
    def is_invite(self) -> bool:
        return self.request.method == "INVITE"

    @property
    def finished(self) -> bool:
        """A final response went upstream and no branch can still produce one."""
        return self.final_sent and all(not b.pending for b in self.branches)

    # --- inputs ---------------------------------------------------------------

    def start(self) -> list[Decision]:
        return self._next_stage()

    def on_response(self, branch_id: int, response: Response) -> list[Decision]:
        """A branch's client transaction passed a response up (§16.7 steps 1-10)."""
        branch = self.branches[branch_id]
        if response.status < 200:
            return self._on_provisional(branch, response)
        if response.status < 300:
            return self._on_success(branch, response)
        return self._on_failure(branch, response)

    def on_branch_timeout(self, branch_id: int) -> list[Decision]:
        """Timer B/F of the branch fired: a synthetic 408 (principle 4)."""
        return self.on_response(branch_id, self._synthetic(408, "Request Timeout"))

    def on_branch_transport_error(self, branch_id: int) -> list[Decision]:
        """§16.9: a transport error counts as a 503 from that branch."""
        return self.on_branch_unroutable(branch_id, "the target did not accept the request")

    def on_branch_unroutable(self, branch_id: int, why: str) -> list[Decision]:
        """The proxy could not send the branch at all (a host name without DNS, no
        listener of the target's address family): a 503 of our own whose reason says
        why. Unlike a 503 received from downstream it goes upstream as a 503."""
        self.branches[branch_id].unreachable = True
        return self.on_response(branch_id, self._synthetic(503, f"Service Unavailable ({why})"))

    def awaits(self, branch_id: int) -> bool:
        """The fork still waits for this branch: no final response, no CANCEL decided
        (so a failed hop may be replaced by the target's next, RFC 3263 §4.3)."""
        branch = self.branches[branch_id]
        return branch.pending and branch.cancel is CancelState.NONE

    def on_timer(self, name: str, generation: int, branch_id: int | None) -> list[Decision]:
        if name == "stage":
            return self._on_stage_timeout(generation)
        if name == "cancelled":
            return self._on_cancel_wait_over()
        return self._on_timer_c(generation, branch_id)

    def on_cancel(self) -> list[Decision]:
        """The caller cancelled (§16.10): CANCEL every pending branch (a branch that
        has not rung gets its CANCEL when it does, §9.1) and answer the caller once
        they have all answered, so that a 2xx that crossed the CANCEL is the
        caller's answer: after a 487 of ours, the caller's completed transaction
        would drop it (§17.1.1.2) and the phone that answered would wait for an
        ACK. Branches still silent after ``cancel_wait`` count as cancelled."""
        if self.final_sent or self.cancelled:
            return []
        self.cancelled = True
        decisions: list[Decision] = []
        for branch in self.branches:
            if branch.pending:
                decisions.extend(self._cancel(branch, reason=None))
        if all(not branch.pending for branch in self.branches):
            return decisions + self._finish()
        return [*decisions, ArmTimer("cancelled", self.settings.cancel_wait, 0)]

    def on_branch_restarted(self, branch_id: int) -> None:
        """The branch goes to its target's next hop as a new transaction (RFC 3263
        §4.3): a provisional response from the old hop says nothing of the new one,
        which may be cancelled only once it has sent its own (§9.1)."""
        self.branches[branch_id].provisional_seen = False

    def _on_cancel_wait_over(self) -> list[Decision]:
        if self.final_sent:
            return []  # answered meanwhile (a 2xx that crossed the CANCEL)
        for branch in self.branches:
            if branch.pending:
                branch.final = self._synthetic(487, "Request Terminated")
        return self._finish()

    def abort(self) -> list[Decision]:
        """The proxy failed part-way through the fork and answers the caller itself:
        cancel every branch already started, so no phone rings for a failed call."""
        if self.final_sent:
            return []
        decisions: list[Decision] = []
        for branch in self.branches:
            if branch.pending:
                decisions.extend(self._cancel(branch, reason=None))
                branch.final = self._synthetic(487, "Request Terminated")
        self.final_sent = True
        return decisions

    # --- response handling ------------------------------------------------------

    def _on_provisional(self, branch: Branch, response: Response) -> list[Decision]:
        decisions: list[Decision] = []
        branch.provisional_seen = True
        if branch.cancel is CancelState.WANTED:
            # §9.1: the CANCEL we held back may go now that the branch is proceeding.
            branch.cancel = CancelState.SENT
            decisions.append(CancelBranch(branch.branch_id, branch.cancel_reason))
        if not branch.pending:
            return decisions
        if self.is_invite and response.status > 100:
            # §16.7 step 2: a 101-199 resets Timer C.
            branch.timer_c_generation += 1
            decisions.append(
                ArmTimer("C", self.settings.timer_c, branch.timer_c_generation, branch.branch_id)
            )
        # §16.7 step 5: provisionals other than 100 are relayed at once.
        if response.status > 100 and not self.final_sent:
            decisions.append(RelayResponse(response))
        return decisions

    def _on_success(self, branch: Branch, response: Response) -> list[Decision]:
        # §16.7 step 5 and RFC 6026: every 2xx to an INVITE is relayed, even a second
        # one from another branch of a parallel fork; other methods get one final.
        if self.answered and not self.is_invite:
            branch.final = response
            return []
        decisions: list[Decision] = [RelayResponse(response, branch.branch_id)]
        branch.final = response
        if not self.answered:
            self.answered = True
            self.final_sent = True
            for other in self.branches:
                if other.pending:
                    decisions.extend(self._cancel(other, reason=COMPLETED_ELSEWHERE))
                    other.final = self._synthetic(487, "Request Terminated")
        return decisions

    def _on_failure(self, branch: Branch, response: Response) -> list[Decision]:
        if not branch.pending:
            return []  # settled already (timed out or cancelled); a late final changes nothing
        branch.final = response
        if self.final_sent:
            return []
        decisions: list[Decision] = []
        if response.status >= 600:
            # §16.7 step 5: a 6xx ends the fork; a delegation plan lets it end only
            # the stage, so that a declined call still reaches delegates and voicemail.
            ending = [b for b in self.branches if b.pending and (
                b.stage == branch.stage or not self.plan.decline_moves_on)]
            for other in ending:
                decisions.extend(self._cancel(other, reason=None))
                other.final = self._synthetic(487, "Request Terminated")
            if not self.plan.decline_moves_on:
                return decisions + self._finish()
        if all(not b.pending for b in self.branches if b.stage == self.stage_index):
            decisions.extend(self._next_stage())
        return decisions

    def _on_stage_timeout(self, generation: int) -> list[Decision]:
        if generation != self.stage_generation or self.final_sent or self.cancelled:
            return []  # stale (principle 5), already decided, or being cancelled
        decisions: list[Decision] = []
        for branch in self.branches:
            if branch.pending and branch.stage == self.stage_index:
                decisions.extend(self._cancel(branch, reason=None))
                branch.final = self._synthetic(408, "Request Timeout")
        return decisions + self._next_stage()

    def _on_timer_c(self, generation: int, branch_id: int | None) -> list[Decision]:
        if branch_id is None:
            return []
        branch = self.branches[branch_id]
        if generation != branch.timer_c_generation or not branch.pending:
            return []
        # §16.8: Timer C fired: CANCEL a proceeding branch, else a synthetic 408.
        decisions = self._cancel(branch, reason=None)
        return decisions + self.on_response(branch_id, self._synthetic(408, "Request Timeout"))

    # --- stages -------------------------------------------------------------------

    def _next_stage(self) -> list[Decision]:
        if self.cancelled:
            return self._finish()  # the caller gave up: no later stage, no voicemail
        stage, diversion = self._following_stage()
        if stage is None:
            return self._finish()
        self.stage_index += 1
        self.stage_generation += 1
        decisions: list[Decision] = [ArmTimer("stage", stage.timeout, self.stage_generation)]
        for target in stage.targets:
            branch = Branch(len(self.branches), target, self.stage_index)
            self.branches.append(branch)
            why = diversion
            if target.role is TargetRole.VOICEMAIL and why is None:
                why = UNCONDITIONAL  # the plan itself sends the call to the mailbox
            decisions.append(StartBranch(branch.branch_id, target, why))
            if self.is_invite:
                # RFC 3261 §16.6 step 11: Timer C on every INVITE branch.
                decisions.append(ArmTimer("C", self.settings.timer_c, 0, branch.branch_id))
        return decisions

    def _following_stage(self) -> tuple[Stage | None, Diversion | None]:
        # A stage with no targets (nobody to ring) is passed over.
        while self.stage_index + 1 < len(self.plan.stages):
            stage = self.plan.stages[self.stage_index + 1]
            if stage.targets:
                return stage, None
            self.stage_index += 1
        if self.plan.fallback is not None and not self.in_fallback:
            self.in_fallback = True
            rung = [b.final.status for b in self.branches if b.final is not None]
            return self.plan.fallback, diversion_after(rung)
        return None, None

    def _finish(self) -> list[Decision]:
        if self.final_sent:
            return []
        self.final_sent = True
        if self.cancelled:
            # A choice over §16.7 step 6's best response: the 487 a UAS answers a
            # cancelled INVITE with (§9.2), whatever a branch said before the CANCEL.
            return [RelayResponse(self._synthetic(487, "Request Terminated"))]
        finals = [b.final for b in self.branches if b.final is not None]
        best = best_response(finals) or self._synthetic(408, "Request Timeout")
        best = with_every_challenge(best, finals)
        if best.status == 503:
            # Our own 503 for a target we cannot reach says just that, and goes up as
            # is. §16.7 step 6: a 503 from downstream must not (it would make the
            # caller think this proxy is unavailable); it becomes a 500.
            own = next((b.final for b in self.branches if b.unreachable and b.final), None)
            best = own or Response(500, "Server Internal Error", best.headers, best.body)
        return [RelayResponse(best)]

    # --- helpers --------------------------------------------------------------------

    def _cancel(self, branch: Branch, reason: str | None) -> list[Decision]:
        if not self.is_invite or branch.cancel is not CancelState.NONE or not branch.pending:
            return []
        if branch.provisional_seen:
            branch.cancel = CancelState.SENT
            return [CancelBranch(branch.branch_id, reason)]
        branch.cancel = CancelState.WANTED
        branch.cancel_reason = reason
        return []

    def _synthetic(self, status: int, reason: str) -> Response:
        return make_response(self.request, status, reason, to_tag=self.local_tag)
