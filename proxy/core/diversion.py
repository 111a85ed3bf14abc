"""Why a call is diverted to the voicemail: the reason it gives the mailbox.

Two headers carry it and a PBX may read either, so both come from one value:
the Diversion ``reason`` (RFC 5806) and the ``cause`` of the History-Info
entry (RFC 4458's cause URI parameter; RFC 7044 carries the same code as the
Reason of the entry that was left). The pairs are RFC 7544's mapping between
the two, which Asterisk's res_pjsip_diversion also uses in both directions.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Diversion:
    """A diversion reason (RFC 5806) and its response code (RFC 4458, RFC 7544)."""

    reason: str
    cause: int


# The plan sent the call to the mailbox itself (the `voicemail` policy, a mailbox
# in a stage): RFC 5806 "unconditional", RFC 4458 cause 302.
UNCONDITIONAL = Diversion("unconditional", 302)
# A branch was busy and none rang unanswered: RFC 5806 "user-busy", RFC 4458 486.
USER_BUSY = Diversion("user-busy", 486)
# A branch rang and nobody took it: RFC 5806 "no-answer", RFC 4458 "no reply" 408.
NO_ANSWER = Diversion("no-answer", 408)
# Nobody could be reached: nothing to ring (no phone registered, every stage
# empty) or every branch failed otherwise (404, 403, 5xx, unreachable). RFC 5806
# has "unavailable" for a callee that cannot be reached at all, and RFC 7544 maps
# it to 503, RFC 4458's "not reachable". Not "unknown" (404 in RFC 4458): we do
# know why, and a voicemail would then play no particular greeting.
UNAVAILABLE = Diversion("unavailable", 503)

# RFC 3261 §21.4.24 486 Busy Here and §21.6.1 600 Busy Everywhere.
_BUSY = frozenset({486, 600})
# Rang without an answer: a timeout (408, our own for the stage timer and Timer C,
# RFC 3261 §16.8), 480 Temporarily Unavailable (§21.4.18: reached, but the user did
# not take it), 487 for a branch cancelled because the stage ended (a 6xx of another
# branch of the same stage).
_UNANSWERED = frozenset({408, 480, 487})


def diversion_after(statuses: Iterable[int]) -> Diversion:
    """Why the plan ran out, from the final statuses of every branch it rang.

    Rang unanswered wins (someone could have taken the call), then busy, then
    unavailable: so "every branch busy" is user-busy, a busy delegator with a
    delegate who let it ring is no-answer, and every branch 404 is unavailable.
    """
    seen = set(statuses)
    if seen & _UNANSWERED:
        return NO_ANSWER
    if seen & _BUSY:
        return USER_BUSY
    return UNAVAILABLE
