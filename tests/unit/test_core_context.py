"""The pure response context (RFC 3261 §16.7, §16.8): decisions for events, no I/O."""

from __future__ import annotations

from sipfactory import request, response

from proxy.core.context import (
    ArmTimer,
    CancelBranch,
    ContextSettings,
    Decision,
    RelayResponse,
    ResponseContext,
    StartBranch,
)
from proxy.core.diversion import (
    NO_ANSWER,
    UNAVAILABLE,
    UNCONDITIONAL,
    USER_BUSY,
    Diversion,
)
from proxy.policy.plan import RoutingPlan, Stage, Target, TargetRole

ME = Target("sip:me@127.0.0.10", TargetRole.DELEGATOR)
HELPER = Target("sip:helper@127.0.0.11", TargetRole.DELEGATE)
VM = Target("sip:vm@127.0.0.20", TargetRole.VOICEMAIL)


def _context(plan: RoutingPlan, timer_c: float = 185.0) -> ResponseContext:
    return ResponseContext(request("INVITE"), plan, "proxy-tag", ContextSettings(timer_c=timer_c))


def test_timer_c_cancels_a_proceeding_branch_and_settles_it_with_408() -> None:
    context = _context(RoutingPlan((Stage((ME,), 600.0),)), timer_c=185.0)
    started = context.start()
    assert ArmTimer("C", 185.0, 0, 0) in started
    decisions = context.on_response(0, response(request("INVITE"), 180))
    assert ArmTimer("C", 185.0, 1, 0) in decisions  # §16.7 step 2: a 1xx resets Timer C
    assert context.on_timer("C", 0, 0) == []  # the stale generation is ignored
    decisions = context.on_timer("C", 1, 0)
    assert decisions[0] == CancelBranch(0, None)
    finals = [d.response.status for d in decisions if isinstance(d, RelayResponse)]
    assert finals == [408]


def test_decline_ends_only_its_stage_when_the_plan_says_so() -> None:
    plan = RoutingPlan((Stage((ME,), 20.0), Stage((HELPER,), 20.0)), decline_moves_on=True)
    context = _context(plan)
    context.start()
    decisions = context.on_response(0, response(request("INVITE"), 603))
    assert [d.target for d in decisions if isinstance(d, StartBranch)] == [HELPER]


def test_decline_ends_the_fork_for_a_plain_plan() -> None:
    plan = RoutingPlan((Stage((ME,), 20.0), Stage((HELPER,), 20.0)))
    context = _context(plan)
    context.start()
    decisions = context.on_response(0, response(request("INVITE"), 603))
    assert [d for d in decisions if isinstance(d, StartBranch)] == []
    assert [d.response.status for d in decisions if isinstance(d, RelayResponse)] == [603]


def _diverted_with(decisions: list[Decision]) -> list[Diversion | None]:
    return [d.diversion for d in decisions if isinstance(d, StartBranch)]


def test_fallback_after_busy_is_diverted_as_user_busy() -> None:
    context = _context(RoutingPlan((Stage((ME,), 20.0),), fallback=Stage((VM,), 20.0)))
    context.start()
    decisions = context.on_response(0, response(request("INVITE"), 486))
    assert _diverted_with(decisions) == [USER_BUSY]


def test_fallback_after_the_stage_timer_is_diverted_as_no_answer() -> None:
    context = _context(RoutingPlan((Stage((ME, HELPER), 20.0),), fallback=Stage((VM,), 20.0)))
    context.start()
    context.on_response(0, response(request("INVITE"), 486))
    context.on_response(1, response(request("INVITE"), 180))
    # Helper rang for the whole stage: someone could have answered, so not "busy".
    assert _diverted_with(context.on_timer("stage", 1, None)) == [NO_ANSWER]


def test_fallback_after_every_branch_404_is_diverted_as_unavailable() -> None:
    context = _context(RoutingPlan((Stage((ME, HELPER), 20.0),), fallback=Stage((VM,), 20.0)))
    context.start()
    context.on_response(0, response(request("INVITE"), 404))
    decisions = context.on_response(1, response(request("INVITE"), 404))
    assert _diverted_with(decisions) == [UNAVAILABLE]


def test_fallback_with_nobody_to_ring_is_diverted_as_unavailable() -> None:
    context = _context(RoutingPlan((Stage((), 20.0),), fallback=Stage((VM,), 20.0)))
    assert _diverted_with(context.start()) == [UNAVAILABLE]


def test_a_voicemail_stage_in_the_plan_is_an_unconditional_diversion() -> None:
    context = _context(RoutingPlan((Stage((VM,), 20.0),)))
    assert _diverted_with(context.start()) == [UNCONDITIONAL]


def test_a_cancelled_call_never_reaches_the_fallback() -> None:
    context = _context(RoutingPlan((Stage((ME,), 20.0),), fallback=Stage((VM,), 20.0)))
    context.start()
    context.on_response(0, response(request("INVITE"), 180))
    decisions = context.on_cancel()
    decisions += context.on_response(0, response(request("INVITE"), 487))
    assert _diverted_with(decisions) == []
    assert [d.response.status for d in decisions if isinstance(d, RelayResponse)] == [487]


def test_a_cancelled_call_ends_487_once_the_branches_answer_whatever_they_said() -> None:
    context = _context(RoutingPlan((Stage((ME, HELPER), 20.0),), fallback=Stage((VM,), 20.0)))
    context.start()
    context.on_response(0, response(request("INVITE"), 180))
    context.on_response(1, response(request("INVITE"), 180))
    context.on_response(1, response(request("INVITE"), 486))  # busy, before the CANCEL
    decisions = context.on_cancel()
    assert CancelBranch(0, None) in decisions
    assert ArmTimer("cancelled", 16.0, 0) in decisions  # half the caller's 64*T1 (§9.1)
    assert not any(isinstance(d, RelayResponse) for d in decisions)
    # The stage ends while the CANCEL is answered: no voicemail for a caller who left.
    assert context.on_timer("stage", 1, None) == []
    decisions = context.on_response(0, response(request("INVITE"), 487))
    assert _diverted_with(decisions) == []
    assert [d.response.status for d in decisions if isinstance(d, RelayResponse)] == [487]
    assert context.finished


def test_the_wait_for_the_cancels_ends_nothing_once_a_2xx_answered() -> None:
    context = _context(RoutingPlan((Stage((ME,), 20.0),)))
    context.start()
    context.on_response(0, response(request("INVITE"), 180))
    context.on_cancel()
    decisions = context.on_response(0, response(request("INVITE"), 200))
    assert [d.response.status for d in decisions if isinstance(d, RelayResponse)] == [200]
    assert context.on_timer("cancelled", 0, None) == []


def test_a_branch_sent_to_its_next_hop_is_cancelled_only_once_that_hop_rings() -> None:
    context = _context(RoutingPlan((Stage((ME,), 20.0),)))
    context.start()
    context.on_response(0, response(request("INVITE"), 100))  # from the first hop
    context.on_branch_restarted(0)  # which then failed: RFC 3263 §4.3
    assert CancelBranch(0, None) not in context.on_cancel()  # §9.1
    assert CancelBranch(0, None) in context.on_response(0, response(request("INVITE"), 180))


def test_empty_stages_are_passed_over() -> None:
    context = _context(RoutingPlan((Stage((), 20.0), Stage((HELPER,), 20.0))))
    starts = [d for d in context.start() if isinstance(d, StartBranch)]
    assert [d.target for d in starts] == [HELPER]


def test_a_plan_with_nothing_to_ring_answers_408_at_once() -> None:
    context = _context(RoutingPlan((Stage((), 20.0),)))
    decisions = context.start()
    assert [d.response.status for d in decisions if isinstance(d, RelayResponse)] == [408]
