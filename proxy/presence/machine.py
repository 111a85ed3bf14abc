"""One subscription's life at the notifier (RFC 6665 §4.2), with at most one NOTIFY
in flight: a transition table (ARCHITECTURE principle 2).

What makes a lamp trustworthy is the second half of each state name. A NOTIFY
is sent only when the one before it has its final response; a change that comes
meanwhile only marks the subscription ``BEHIND``, and the next NOTIFY carries the
newest full state. Two NOTIFYs of one subscription are therefore never on the
wire together and cannot be reordered: a phone cannot see early after
terminated. The final NOTIFY (``Subscription-State: terminated``) waits its turn
the same way.

The notifier also throttles (RFC 6665 §4.2.2 lets it; the minimum interval of
RFC 6446 §3): once a NOTIFY is answered, the next may leave only when the
minimum interval since the answered one was sent is over (``RESTING``); changes
meanwhile are merged into it (``WAITING``), so a subscription costs at most one
NOTIFY per interval however busy the line. A refresh and the final NOTIFY do not
wait: RFC 6665 §4.2.1 asks for them at once.

A missing ``(state, input)`` pair is a protocol error (``KeyError``): a NOTIFY
answer when no NOTIFY is in flight cannot happen, as each client transaction
reports exactly one final response.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class SubscriptionState(enum.Enum):
    QUIET = "active, nothing in flight"
    RESTING = "active, nothing in flight, within the minimum interval"
    WAITING = "active, nothing in flight, a newer state to send once the interval is over"
    SENDING = "active, a NOTIFY in flight"
    BEHIND = "active, a NOTIFY in flight and a newer state to send"
    FINAL_DUE = "ending, a NOTIFY in flight before the final one"
    FINAL_SENDING = "ending, the final NOTIFY in flight"
    TERMINATED = "over (the subscription is forgotten)"


class SubscriptionInput(enum.Enum):
    SUBSCRIBED = "SUBSCRIBE accepted, Expires > 0"  # RFC 6665 §4.2.1
    CHANGED = "the watched line changed"
    ENDING = "unsubscribed, expired or the proxy stops"  # §4.2.1, §4.2.2
    ANSWERED = "2xx to the NOTIFY in flight"
    FAILED = "failure, timeout or transport error for the NOTIFY in flight"  # §4.2.2
    RESTED = "the minimum interval since the last NOTIFY is over"
    # Only calls that came onto the line and left it again since the last NOTIFY:
    # the watcher never saw them, and what it was shown is still the line's state.
    UNCHANGED = "nothing to show since the last NOTIFY"


class SubscriptionAction(enum.Enum):
    NONE = "nothing now"
    SEND_STATE = "send a NOTIFY with the full state, Subscription-State active"
    SEND_FINAL = "send the full state with Subscription-State terminated"
    REST = "wait out the minimum interval since the last NOTIFY, then RESTED"
    REFUSE = "answer the SUBSCRIBE 481: the subscription is already ending"
    FORGET = "remove the subscription"


@dataclass(frozen=True, slots=True)
class Step:
    state: SubscriptionState
    action: SubscriptionAction


S, In, A = SubscriptionState, SubscriptionInput, SubscriptionAction

_TABLE: dict[tuple[SubscriptionState, SubscriptionInput], Step] = {
    # RFC 6665 §4.2.2: a NOTIFY at once after a subscription is accepted or
    # refreshed, and whenever the state changes.
    (S.QUIET, In.SUBSCRIBED): Step(S.SENDING, A.SEND_STATE),
    (S.QUIET, In.CHANGED): Step(S.SENDING, A.SEND_STATE),
    (S.QUIET, In.ENDING): Step(S.FINAL_SENDING, A.SEND_FINAL),
    # One NOTIFY in flight: anything newer waits for its answer.
    (S.SENDING, In.SUBSCRIBED): Step(S.BEHIND, A.NONE),
    (S.SENDING, In.CHANGED): Step(S.BEHIND, A.NONE),
    (S.SENDING, In.ENDING): Step(S.FINAL_DUE, A.NONE),
    (S.SENDING, In.ANSWERED): Step(S.RESTING, A.REST),
    # Found when the NOTIFY is to be built: none leaves, and the next change may
    # go at once (the interval counts from the last NOTIFY sent, long enough ago).
    (S.SENDING, In.UNCHANGED): Step(S.QUIET, A.NONE),
    # §4.2.2: 481 or a timeout says the subscriber is gone; so does any failure
    # here (the phone subscribes again if it still wants the lamp).
    (S.SENDING, In.FAILED): Step(S.TERMINATED, A.FORGET),
    (S.BEHIND, In.SUBSCRIBED): Step(S.BEHIND, A.NONE),
    (S.BEHIND, In.CHANGED): Step(S.BEHIND, A.NONE),
    (S.BEHIND, In.ENDING): Step(S.FINAL_DUE, A.NONE),
    (S.BEHIND, In.ANSWERED): Step(S.WAITING, A.REST),  # then the newest state, once
    (S.BEHIND, In.FAILED): Step(S.TERMINATED, A.FORGET),
    # Throttled (RFC 6665 §4.2.2): changes within the interval are merged into one
    # NOTIFY at its end; a refresh (§4.2.1) and the end are answered at once.
    (S.RESTING, In.SUBSCRIBED): Step(S.SENDING, A.SEND_STATE),
    (S.RESTING, In.CHANGED): Step(S.WAITING, A.NONE),
    (S.RESTING, In.ENDING): Step(S.FINAL_SENDING, A.SEND_FINAL),
    (S.RESTING, In.RESTED): Step(S.QUIET, A.NONE),
    (S.WAITING, In.SUBSCRIBED): Step(S.SENDING, A.SEND_STATE),
    (S.WAITING, In.CHANGED): Step(S.WAITING, A.NONE),
    (S.WAITING, In.ENDING): Step(S.FINAL_SENDING, A.SEND_FINAL),
    (S.WAITING, In.RESTED): Step(S.SENDING, A.SEND_STATE),  # the newest state, once
    # Ending: the final NOTIFY is owed; a refresh comes too late (481, §4.2.1).
    (S.FINAL_DUE, In.SUBSCRIBED): Step(S.FINAL_DUE, A.REFUSE),
    (S.FINAL_DUE, In.CHANGED): Step(S.FINAL_DUE, A.NONE),
    (S.FINAL_DUE, In.ENDING): Step(S.FINAL_DUE, A.NONE),
    (S.FINAL_DUE, In.ANSWERED): Step(S.FINAL_SENDING, A.SEND_FINAL),
    (S.FINAL_DUE, In.FAILED): Step(S.TERMINATED, A.FORGET),
    (S.FINAL_SENDING, In.SUBSCRIBED): Step(S.FINAL_SENDING, A.REFUSE),
    (S.FINAL_SENDING, In.CHANGED): Step(S.FINAL_SENDING, A.NONE),
    (S.FINAL_SENDING, In.ENDING): Step(S.FINAL_SENDING, A.NONE),
    (S.FINAL_SENDING, In.ANSWERED): Step(S.TERMINATED, A.FORGET),
    (S.FINAL_SENDING, In.FAILED): Step(S.TERMINATED, A.FORGET),
}

# States with a NOTIFY on the wire (the drain waits for them).
IN_FLIGHT = frozenset({S.SENDING, S.BEHIND, S.FINAL_DUE, S.FINAL_SENDING})

# Inputs that cannot reach a state: nothing is in flight to be answered; the rest
# timer is started only on entering RESTING or WAITING, and one that fires after
# its state was left carries an old generation (the notifier drops it, ARCHITECTURE
# principle 5); a terminated subscription is no longer in the table to be fed.
IMPOSSIBLE = frozenset(
    {(state, answer) for state in (S.QUIET, S.RESTING, S.WAITING)
     for answer in (In.ANSWERED, In.FAILED)}
    | {(state, In.RESTED) for state in (S.QUIET, *IN_FLIGHT)}
    # Told only right after SEND_STATE, which always enters SENDING.
    | {(state, In.UNCHANGED) for state in SubscriptionState if state is not S.SENDING}
    | {(S.TERMINATED, event) for event in SubscriptionInput})


def next_step(state: SubscriptionState, event: SubscriptionInput) -> Step:
    return _TABLE[(state, event)]
