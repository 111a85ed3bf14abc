"""Choosing the best final response of a fork (RFC 3261 §16.7 steps 6 and 7)."""

from __future__ import annotations

from proxy.sip.headers import header_key
from proxy.sip.message import Response

# §16.7 step 6: among 4xx, prefer the ones the caller can act on (authenticate,
# change the body, drop an extension, complete the address).
_ACTIONABLE_4XX = frozenset({401, 407, 415, 420, 484})
# "Somebody is there but busy" tells the caller more than "not found" from another
# branch: a delegated line rings several phones, and one busy phone is the news.
_BUSY = frozenset({486, 600})
# The challenges of §16.7 step 7, as written in the responses.
_CHALLENGE_HEADERS = ("WWW-Authenticate", "Proxy-Authenticate")
_CHALLENGES = frozenset({401, 407})
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


def with_every_challenge(best: Response, responses: list[Response]) -> Response:
    """§16.7 step 7: a 401 or 407 goes up carrying the WWW-Authenticate and
    Proxy-Authenticate values of every other 401 and 407 of the fork, unmodified,
    so that the caller can answer each branch's realm in one retry."""
    if best.status not in _CHALLENGES:
        return best
    others = [(name, value) for response in responses
              if response is not best and response.status in _CHALLENGES
              for name in _CHALLENGE_HEADERS for value in response.header_lines(name)]
    if not others:
        return best
    headers = best.headers
    # Before Content-Length, where a reader of the head expects the last line.
    at = next((index for index, (name, _) in enumerate(headers)
               if header_key(name) == "content-length"), len(headers))
    return best.with_headers((*headers[:at], *others, *headers[at:]))
