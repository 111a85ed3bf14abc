"""The load bench's invariants (tools/bench/invariants.py) over small synthetic
SIPp short traces: each invariant holds for a clean call and each fails."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest


def _load_invariants() -> ModuleType:
    # tools/bench is a directory of scripts, not a package (its sipp.py would shadow
    # the e2e helpers' on sys.path): load the one pure module by its path.
    path = Path(__file__).resolve().parents[2] / "tools" / "bench" / "invariants.py"
    spec = importlib.util.spec_from_file_location("bench_invariants", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


inv = _load_invariants()
CALL = "1-4242@127.0.0.44"
INVITE_LINE = "INVITE sip:2000@127.0.0.41:15060 SIP/2.0"


def line(direction: str, first_line: str, cseq: str = "1 INVITE", call_id: str = CALL) -> str:
    """One -trace_shortmsg line as SIPp 3.6 writes it."""
    return (f"2026-11-30\t04:55:17.993201\t1796014517.993201\t{direction}\t{call_id}\t"
            f"CSeq:{cseq}\t{first_line}\n")


def trace(*lines: str) -> dict[str, list[object]]:
    return inv.read_trace(lines)


def answered_caller(call_id: str = CALL) -> dict[str, list[object]]:
    return trace(line("S", INVITE_LINE, call_id=call_id),
                 line("R", "SIP/2.0 100 Trying", call_id=call_id),
                 line("R", "SIP/2.0 180 Ringing", call_id=call_id),
                 line("R", "SIP/2.0 200 OK", call_id=call_id),
                 line("S", "ACK sip:a@127.0.0.42:5070 SIP/2.0", "1 ACK", call_id=call_id),
                 line("S", "BYE sip:a@127.0.0.42:5070 SIP/2.0", "2 BYE", call_id=call_id),
                 line("R", "SIP/2.0 200 OK", "2 BYE", call_id=call_id))


def answering_callee(*extra: str) -> dict[str, list[object]]:
    return trace(line("R", INVITE_LINE), line("S", "SIP/2.0 180 Ringing"),
                 line("S", "SIP/2.0 200 OK"), *extra,
                 line("R", "ACK sip:a@127.0.0.42:5070 SIP/2.0", "1 ACK"))


def busy_callee() -> dict[str, list[object]]:
    return trace(line("R", INVITE_LINE), line("S", "SIP/2.0 486 Busy Here"),
                 line("R", "ACK sip:b@127.0.0.43:5070 SIP/2.0", "1 ACK"))


def cancelled_callee() -> dict[str, list[object]]:
    return trace(line("R", INVITE_LINE), line("S", "SIP/2.0 180 Ringing"),
                 line("R", "CANCEL sip:b@127.0.0.43:5070 SIP/2.0", "1 CANCEL"),
                 line("S", "SIP/2.0 200 OK", "1 CANCEL"),
                 line("S", "SIP/2.0 487 Request Terminated"),
                 line("R", "ACK sip:b@127.0.0.43:5070 SIP/2.0", "1 ACK"))


def invariants_broken(caller: object, callees: dict[str, object]) -> list[str]:
    return [violation.invariant for violation in inv.check_calls(caller, callees)]


def test_a_short_trace_line_is_read_and_a_torn_one_skipped() -> None:
    message = inv.parse_message(line("R", "SIP/2.0 487 Request Terminated"))
    assert message == inv.Message("R", CALL, "INVITE", 487)
    request = inv.parse_message(line("S", "CANCEL sip:b@h SIP/2.0", "1 CANCEL"))
    assert (request.cseq_method, request.is_request) == ("CANCEL", True)
    assert inv.parse_message("2026-11-30\t04:55:17.9932") is None
    assert inv.read_trace([line("S", INVITE_LINE), "2026-11-30\t04:5"]).keys() == {CALL}


@pytest.mark.parametrize("loser", [busy_callee, cancelled_callee])
def test_a_clean_fork_breaks_nothing(loser: Callable[[], dict[str, list[object]]]) -> None:
    callees = {"callee-a": answering_callee(), "callee-b": loser()}
    assert invariants_broken(answered_caller(), callees) == []


def test_a_retransmitted_answer_relayed_twice_is_one_answer() -> None:
    caller = trace(line("S", INVITE_LINE), line("R", "SIP/2.0 200 OK"),
                   line("R", "SIP/2.0 200 OK"))
    callees = {"callee-a": answering_callee(line("S", "SIP/2.0 200 OK")),
               "callee-b": busy_callee()}
    assert invariants_broken(caller, callees) == []


def test_a_call_the_proxy_shed_with_503_breaks_nothing() -> None:
    caller = trace(line("S", INVITE_LINE), line("R", "SIP/2.0 503 Service Unavailable"),
                   line("R", "SIP/2.0 503 Service Unavailable"))
    assert invariants_broken(caller, {"callee-a": {}, "callee-b": {}}) == []


def test_a_2xx_the_callees_never_sent_breaks_the_answer() -> None:
    caller = trace(line("S", INVITE_LINE), line("R", "SIP/2.0 200 OK"),
                   line("R", "SIP/2.0 200 OK"))
    callees = {"callee-a": answering_callee(), "callee-b": busy_callee()}
    [violation] = inv.check_calls(caller, callees)
    assert (violation.invariant, violation.detail) == ("answer", "got 2 2xx, the callees sent 1")


def test_two_callees_answering_break_the_answer() -> None:
    callees = {"callee-a": answering_callee(), "callee-b": answering_callee()}
    assert invariants_broken(answered_caller(), callees) == ["answer"]


def test_a_refusal_next_to_the_answer_breaks_it() -> None:
    caller = trace(line("S", INVITE_LINE), line("R", "SIP/2.0 486 Busy Here"),
                   line("R", "SIP/2.0 200 OK"))
    callees = {"callee-a": answering_callee(), "callee-b": busy_callee()}
    assert invariants_broken(caller, callees) == ["answer"]


def test_an_answer_not_relayed_breaks_it() -> None:
    caller = trace(line("S", INVITE_LINE), line("R", "SIP/2.0 408 Request Timeout"))
    callees = {"callee-a": answering_callee(), "callee-b": busy_callee()}
    [violation] = inv.check_calls(caller, callees)
    assert violation.detail == "callee-a answered, the caller got no 2xx"


def test_a_caller_left_without_a_final_response_breaks_the_answer() -> None:
    caller = trace(line("S", INVITE_LINE), line("R", "SIP/2.0 180 Ringing"))
    [violation] = inv.check_calls(caller, {"callee-a": {}, "callee-b": {}})
    assert violation.detail == "no final response reached the caller"


def test_a_losing_branch_neither_cancelled_nor_answered_breaks_branch_ended() -> None:
    ringing_forever = trace(line("R", INVITE_LINE), line("S", "SIP/2.0 180 Ringing"))
    callees = {"callee-a": answering_callee(), "callee-b": ringing_forever}
    [violation] = inv.check_calls(answered_caller(), callees)
    assert (violation.invariant, violation.call_id) == ("branch ended", CALL)
    assert violation.detail.startswith("callee-b got the INVITE")


def test_a_cancel_alone_ends_a_branch() -> None:
    cancelled_no_487 = trace(line("R", INVITE_LINE),
                             line("R", "CANCEL sip:b@h SIP/2.0", "1 CANCEL"))
    callees = {"callee-a": answering_callee(), "callee-b": cancelled_no_487}
    assert invariants_broken(answered_caller(), callees) == []


def test_an_invite_under_a_call_id_the_caller_never_placed_is_a_changed_call_id() -> None:
    other = "9-1@127.0.0.41"
    stray = trace(line("R", INVITE_LINE, call_id=other),
                  line("S", "SIP/2.0 486 Busy Here", call_id=other))
    callees = {"callee-a": answering_callee(), "callee-b": stray}
    [violation] = inv.check_calls(answered_caller(), callees)
    assert (violation.invariant, violation.call_id) == ("call-id kept", other)


def test_ring_me_only_breaks_when_the_delegate_phone_gets_an_invite() -> None:
    assert inv.check_not_rung("callee-b", {}) == []
    [violation] = inv.check_not_rung("callee-b", cancelled_callee())
    assert (violation.invariant, violation.call_id) == ("not rung", CALL)


def test_each_thing_left_in_the_proxy_counts_beyond_what_its_shutdown_leaves() -> None:
    nothing = {"left_server_transactions": 0, "left_client_transactions": 50}
    assert inv.check_left_in_proxy(nothing, {"left_client_transactions": 50}) == []
    left = {"left_server_transactions": 2, "left_client_transactions": 53, "left_dialogs": 0}
    violations = inv.check_left_in_proxy(left, {"left_client_transactions": 50})
    assert [(v.detail, v.count) for v in violations] == [
        ("3 left_client_transactions", 3), ("2 left_server_transactions", 2)]
    assert inv.total(violations) == 5
    assert inv.by_invariant(violations) == {"left in proxy": 5}


def test_the_exit_counts_come_from_the_stopped_line_or_a_clean_exit_without_one() -> None:
    stopped = {"event": "proxy.stopped", "level": "warning", "left_server_transactions": 1,
               "left_client_transactions": 300, "left_dialogs": 0, "left_subscriptions": 0}
    assert inv.leftovers(stopped, 0)["left_client_transactions"] == 300
    # At warning level a clean exit writes no line: exit code 0 says it got there.
    assert inv.leftovers(None, 0) == dict.fromkeys(inv.LEFT_FIELDS, 0)
    killed = inv.leftovers(None, -9)
    assert (killed.invariant, killed.count) == ("left in proxy", 1)
    assert "exit code -9" in killed.detail
