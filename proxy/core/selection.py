"""Choosing the best final response of a fork (RFC 3261 §16.7 step 6)."""

from __future__ import annotations

from proxy.sip.message import Response

# §16.7 step 6: among 4xx, prefer the ones the caller can act on (authenticate,
# change the body, drop an extension, complete the address).
_ACTIONABLE_4XX = frozenset({401, 407, 415, 420, 484})
# "Somebody is there but busy" tells the caller more than "not found" from another
# branch: a delegated line rings several phones, and one busy phone is the news.
_BUSY = frozenset({486, 600})
# Responses that say only "nobody answered in time" or "we gave up": any real
# answer from a callee tells the caller more.
_UNINFORMATIVE = frozenset({408, 480, 487})


def _rank(response: Response) -> tuple[int, int, int]:
    status = response.status
    response_class = status // 100
    # RFC 3261 §16.7 step 6: a 6xx wins over everything, else the lowest class.
    class_rank = 0 if response_class == 6 else response_class
    if status in _ACTIONABLE_4XX:
        preference = 0
    elif status in _BUSY:
        preference = 1
    elif status in _UNINFORMATIVE:
        preference = 3
    else:
        preference = 2
    return class_rank, preference, status


def best_response(responses: list[Response]) -> Response | None:
    """The response to send upstream once every branch has a final response."""
    return min(responses, key=_rank, default=None)
