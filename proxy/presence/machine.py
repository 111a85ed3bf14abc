"""One subscription's life at the notifier (RFC 6665 §4.2), with at most one NOTIFY
in flight: a transition table (ARCHITECTURE principle 2).

What makes a lamp trustworthy is the second half of each state name. A NOTIFY
is sent only when the one before it has its final response; a change that comes
meanwhile only marks the subscription ``BEHIND``, and the next NOTIFY carries the
newest full state. Two NOTIFYs of one subscription are therefore never on the
wire together and cannot be reordered: a phone cannot see early after
terminated. The final NOTIFY (``Subscription-State: terminated``) waits its turn
the same way.

A missing ``(state, input)`` pair is a protocol error (``KeyError``): a NOTIFY
answer when no NOTIFY is in flight cannot happen, as each client transaction
reports exactly one final response.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class SubscriptionState(enum.Enum):
    QUIET = "active, nothing in flight"
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


class SubscriptionAction(enum.Enum):
    NONE = "nothing now"
    SEND_STATE = "send a NOTIFY with the full state, Subscription-State active"
    SEND_FINAL = "send the full state with Subscription-State terminated"
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
    (S.SENDING, In.ANSWERED): Step(S.QUIET, A.NONE),
    # §4.2.2: 481 or a timeout says the subscriber is gone; so does any failure
    # here (the phone subscribes again if it still wants the lamp).
    (S.SENDING, In.FAILED): Step(S.TERMINATED, A.FORGET),
    (S.BEHIND, In.SUBSCRIBED): Step(S.BEHIND, A.NONE),
    (S.BEHIND, In.CHANGED): Step(S.BEHIND, A.NONE),
    (S.BEHIND, In.ENDING): Step(S.FINAL_DUE, A.NONE),
    (S.BEHIND, In.ANSWERED): Step(S.SENDING, A.SEND_STATE),  # the newest state, once
    (S.BEHIND, In.FAILED): Step(S.TERMINATED, A.FORGET),
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

# Inputs that cannot reach a state: nothing is in flight to be answered, and a
# terminated subscription is no longer in the table to be fed.
IMPOSSIBLE = frozenset(
    {(S.QUIET, In.ANSWERED), (S.QUIET, In.FAILED)}
    | {(S.TERMINATED, event) for event in SubscriptionInput})


def next_step(state: SubscriptionState, event: SubscriptionInput) -> Step:
    return _TABLE[(state, event)]
