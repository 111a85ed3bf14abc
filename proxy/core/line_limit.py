"""``lines.max_calls``: a line carries at most so many calls at once, whichever way
they go. Pure: the line state is asked through ``line_full``."""

from __future__ import annotations

from collections.abc import Callable

from proxy.core.classify import Answer
from proxy.policy.decide import Decision


def full_line_answer(method: str, decision: Decision | None,
                     line_full: Callable[[str], bool]) -> Answer | None:
    """The answer to an initial INVITE that a full line cannot take, else None.

    - Placed on a full line (from its owner's or a delegate's phone): 403, the
      caller's own line has no room. Not 486: to a phone and in the history
      that says the *called* party is busy, and some phones offer a callback or
      redial on it; 403 with the reason is a refusal the phone shows as such.
    - Called on a full line: 486, how a busy shared line looks to a caller
      (RFC 3261 §21.4.24).
    """
    if decision is None or method != "INVITE":
        return None
    placing = decision.placing
    if placing is not None and line_full(placing.line):
        return Answer(403, f"Forbidden (line {placing.line} carries its maximum of calls)",
                      decision=decision)
    if decision.line is not None and line_full(decision.line):
        return Answer(486, f"Busy Here (line {decision.line} is in use)", decision=decision)
    return None
