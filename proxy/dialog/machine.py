"""One dialog's life as the proxy sees it: a transition table (ARCHITECTURE
principle 2) over what can happen to one branch of a call.

Every ``(state, input)`` pair has an entry, so an input arriving late or twice
(a 180 after the 200, a 2xx retransmitted, a final after the call settled) has a
written answer instead of a silent guess. Terminated is final: nothing brings a
dialog back, which is what keeps a lamp from showing early after terminated when
two updates cross (RFC 4235 §4.1: a terminated dialog never changes again).
"""

from __future__ import annotations

import enum

from proxy.dialog.views import DialogState


class LegInput(enum.Enum):
    PROVISIONAL = "1xx with a To tag"  # RFC 3261 §12.1: creates the early dialog
    SUCCESS = "2xx"  # confirms it (§13.2.2.4)
    FAILURE = "final non-2xx"  # the branch was rejected or cancelled
    ANSWERED_ELSEWHERE = "the call settled on another branch"  # §16.7 step 10: CANCELled
    BYE = "BYE"  # §15
    EXPIRED = "quiet past its Session-Expires or the longest call"  # RFC 4028 §10
    STOPPED = "the proxy stopped"


TRYING, EARLY = DialogState.TRYING, DialogState.EARLY
CONFIRMED, TERMINATED = DialogState.CONFIRMED, DialogState.TERMINATED

_TABLE: dict[tuple[DialogState, LegInput], DialogState] = {
    (TRYING, LegInput.PROVISIONAL): EARLY,
    (TRYING, LegInput.SUCCESS): CONFIRMED,
    (TRYING, LegInput.FAILURE): TERMINATED,
    (TRYING, LegInput.ANSWERED_ELSEWHERE): TERMINATED,
    (TRYING, LegInput.BYE): TRYING,  # no dialog yet for a BYE to name
    (TRYING, LegInput.EXPIRED): TERMINATED,
    (TRYING, LegInput.STOPPED): TERMINATED,
    (EARLY, LegInput.PROVISIONAL): EARLY,
    (EARLY, LegInput.SUCCESS): CONFIRMED,
    (EARLY, LegInput.FAILURE): TERMINATED,
    (EARLY, LegInput.ANSWERED_ELSEWHERE): TERMINATED,
    (EARLY, LegInput.BYE): TERMINATED,  # §15: a callee may BYE an early dialog
    (EARLY, LegInput.EXPIRED): TERMINATED,
    (EARLY, LegInput.STOPPED): TERMINATED,
    (CONFIRMED, LegInput.PROVISIONAL): CONFIRMED,  # a late 1xx changes nothing
    (CONFIRMED, LegInput.SUCCESS): CONFIRMED,  # a retransmitted 2xx
    (CONFIRMED, LegInput.FAILURE): CONFIRMED,  # a stray final after the 2xx
    (CONFIRMED, LegInput.ANSWERED_ELSEWHERE): CONFIRMED,  # it is the answered branch
    (CONFIRMED, LegInput.BYE): TERMINATED,
    (CONFIRMED, LegInput.EXPIRED): TERMINATED,
    (CONFIRMED, LegInput.STOPPED): TERMINATED,
    **{(TERMINATED, event): TERMINATED for event in LegInput},
}


def next_state(state: DialogState, event: LegInput) -> DialogState:
    return _TABLE[(state, event)]
