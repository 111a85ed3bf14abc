"""What must hold for every call of a bench step, checked from SIPp's short traces.

Pure: text in, violations out; no files, no clock. Each SIPp of a step (the
caller, each callee) writes one line per message it sent or received
(-trace_shortmsg): date, time, epoch, S or R, Call-ID, "CSeq:<number> <method>",
and the first line of the message. A retransmission is a line of its own. The
proxy keeps the caller's Call-ID on every branch it forks (RFC 3261 §16.6 copies
the request), so one Call-ID names a call in every trace.

The invariants:

  answer          the caller gets exactly one outcome: a 2xx, or a final
                  refusal (the proxy's 503 when it sheds load) and no 2xx; never
                  both, never none; every 2xx it gets was sent by one callee
                  (RFC 3261 §16.7: each 2xx is forwarded, a non-2xx only when no
                  branch answered), and no two callees answered
  branch ended    every callee that got the call's INVITE either sent a final
                  response to it or got a CANCEL (RFC 3261 §16.10: the losing
                  branches are cancelled once one answered)
  call-id kept    a callee's INVITE carries a Call-ID the caller placed
  not rung        (ring_me_only) the delegate's phone got no INVITE at all
  left in proxy   the proxy held nothing when it stopped, well after the last
                  call: each transaction, call or subscription left is one
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

SENT, RECEIVED = "S", "R"
_FIELDS = 7


@dataclass(frozen=True)
class Message:
    """One line of a short trace: a message one SIPp sent or received."""

    direction: str  # SENT or RECEIVED, as that SIPp saw it
    call_id: str
    cseq_method: str  # the method of the CSeq: which request a response answers
    status: int | None  # None for a request

    @property
    def is_request(self) -> bool:
        return self.status is None

    def is_final_to_invite(self) -> bool:
        return self.cseq_method == "INVITE" and self.status is not None and self.status >= 200


# One SIPp's view of a step: its messages, in order, by Call-ID.
Trace = Mapping[str, Sequence[Message]]


@dataclass(frozen=True)
class Violation:
    """One invariant broken, by one call (or by the proxy, for what it left)."""

    invariant: str
    call_id: str  # "-" for the proxy's leftovers
    detail: str
    count: int = 1  # leftovers: how many of that kind

    def __str__(self) -> str:
        return f"{self.invariant}: {self.call_id}: {self.detail}"


def parse_message(line: str) -> Message | None:
    """A -trace_shortmsg line as a Message; None for a line that is not one (a
    partial last line of a SIPp that was stopped)."""
    fields = line.rstrip("\r\n").split("\t")
    if len(fields) != _FIELDS or fields[3] not in (SENT, RECEIVED):
        return None
    _, _, _, direction, call_id, cseq, first_line = fields
    cseq_parts = cseq.removeprefix("CSeq:").split()
    if len(cseq_parts) != 2:
        return None
    status = None
    if first_line.startswith("SIP/2.0 "):
        code = first_line.split(" ", 2)[1]
        if not code.isdigit():
            return None
        status = int(code)
    return Message(direction, call_id, cseq_parts[1].upper(), status)


def read_trace(lines: Iterable[str]) -> dict[str, list[Message]]:
    """A short trace's messages by Call-ID, each call's in the order written."""
    calls: dict[str, list[Message]] = {}
    for line in lines:
        message = parse_message(line)
        if message is not None:
            calls.setdefault(message.call_id, []).append(message)
    return calls


def _invites_received(messages: Sequence[Message]) -> bool:
    return any(m.direction == RECEIVED and m.is_request and m.cseq_method == "INVITE"
               for m in messages)


def _answers_sent(messages: Sequence[Message]) -> int:
    """2xx responses to the INVITE sent (retransmissions too)."""
    return sum(1 for m in messages if m.direction == SENT and m.cseq_method == "INVITE"
               and m.status is not None and 200 <= m.status < 300)


def check_answers(caller: Trace, callees: Mapping[str, Trace]) -> list[Violation]:
    """The `answer` invariant for every call the caller placed."""
    violations = []
    for call_id, messages in caller.items():
        if not any(m.direction == SENT and m.is_request and m.cseq_method == "INVITE"
                   for m in messages):
            continue
        finals = [m.status for m in messages if m.direction == RECEIVED
                  and m.is_final_to_invite() and m.status is not None]
        answers = sum(1 for status in finals if status < 300)
        refusals = sorted({status for status in finals if status >= 300})
        sent = {name: _answers_sent(trace.get(call_id, ())) for name, trace in callees.items()}
        answering = sorted(name for name, count in sent.items() if count)
        problem = None
        if len(answering) > 1:
            problem = f"answered by {' and '.join(answering)}"
        elif answers and refusals:
            problem = f"got a 2xx and a refusal ({', '.join(map(str, refusals))})"
        elif answers > sum(sent.values()):
            problem = f"got {answers} 2xx, the callees sent {sum(sent.values())}"
        elif answering and not answers:
            problem = f"{answering[0]} answered, the caller got no 2xx"
        elif len(refusals) > 1:
            problem = f"refused twice ({', '.join(map(str, refusals))})"
        elif not answers and not refusals:
            problem = "no final response reached the caller"
        if problem is not None:
            violations.append(Violation("answer", call_id, problem))
    return violations


def check_branches_ended(callees: Mapping[str, Trace]) -> list[Violation]:
    """The `branch ended` invariant for every INVITE a callee got."""
    violations = []
    for name, trace in callees.items():
        for call_id, messages in trace.items():
            if not _invites_received(messages):
                continue
            final_sent = any(m.direction == SENT and m.is_final_to_invite() for m in messages)
            cancelled = any(m.direction == RECEIVED and m.is_request and m.cseq_method == "CANCEL"
                            for m in messages)
            if not (final_sent or cancelled):
                violations.append(Violation(
                    "branch ended", call_id, f"{name} got the INVITE, then neither sent a "
                    "final response nor got a CANCEL"))
    return violations


def check_call_ids_kept(caller: Trace, callees: Mapping[str, Trace]) -> list[Violation]:
    """The `call-id kept` invariant: every callee INVITE belongs to a call placed."""
    return [Violation("call-id kept", call_id, f"{name} got an INVITE the caller never sent")
            for name, trace in callees.items()
            for call_id, messages in trace.items()
            if _invites_received(messages) and call_id not in caller]


def check_not_rung(name: str, trace: Trace) -> list[Violation]:
    """The `not rung` invariant: the phone `name` (a delegate's, under ring_me_only)
    got no INVITE."""
    return [Violation("not rung", call_id, f"{name} got an INVITE")
            for call_id, messages in trace.items() if _invites_received(messages)]


def check_left_in_proxy(left: Mapping[str, int], expected: Mapping[str, int]) -> list[Violation]:
    """The `left in proxy` invariant from the proxy's exit counts (its ``left_*``
    fields): everything beyond `expected` (what the shutdown itself leaves, such
    as the transactions of its own final NOTIFYs) is one violation each."""
    return [Violation("left in proxy", "-", f"{count - expected.get(kind, 0)} {kind}",
                      count - expected.get(kind, 0))
            for kind, count in sorted(left.items()) if count > expected.get(kind, 0)]


LEFT_FIELDS = ("left_server_transactions", "left_client_transactions", "left_dialogs",
               "left_subscriptions")
# The exit codes of a vipproxy that reached its proxy.stopped line (1: the store
# did not close cleanly).
_STOPPED_BY_ITSELF = (0, 1)


def leftovers(stopped: Mapping[str, Any] | None,
              exit_code: int | None) -> dict[str, int] | Violation:
    """What vipproxy held when it stopped, from its ``proxy.stopped`` line (None when
    its log has none) and its exit code. It logs that line at warning when anything
    was left, else at info: a proxy that logs only warnings (the bench's) wrote no
    line when nothing was left, which its exit code confirms. A proxy that was
    killed or crashed tells nothing: one violation."""
    if stopped is not None:
        return {field: int(stopped.get(field, 0)) for field in LEFT_FIELDS}
    if exit_code in _STOPPED_BY_ITSELF:
        return dict.fromkeys(LEFT_FIELDS, 0)
    return Violation("left in proxy", "-", f"the proxy did not stop by itself (exit code "
                     f"{exit_code}): what it held is unknown")


def check_calls(caller: Trace, callees: Mapping[str, Trace]) -> list[Violation]:
    """Every per-call invariant that holds for any proxy: answer, branch ended,
    call-id kept."""
    return [*check_answers(caller, callees), *check_branches_ended(callees),
            *check_call_ids_kept(caller, callees)]


def total(violations: Iterable[Violation]) -> int:
    """The number of violations (a leftover kind counts each item left)."""
    return sum(violation.count for violation in violations)


def by_invariant(violations: Iterable[Violation]) -> Counter[str]:
    """How many violations each invariant had."""
    counts: Counter[str] = Counter()
    for violation in violations:
        counts[violation.invariant] += violation.count
    return counts
