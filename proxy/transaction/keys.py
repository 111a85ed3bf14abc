"""Matching messages to transactions (RFC 3261 §17.1.3, §17.2.3, §9.2).

Keys are plain tuples, cheap to hash, for the driver's transaction tables. Every
function reads the top Via and at most the CSeq, From and Request-URI; bad input
raises :class:`~proxy.sip.errors.SipParseError` and nothing else.

Server keys come in two shapes that never compare equal (their lengths differ):

* RFC 3261 peers (branch starting with the magic cookie ``z9hG4bK``):
  ``(branch, sent-by host, sent-by port, method)``.
* RFC 2543 peers (no cookie), §17.2.3's fallback, simplified:
  ``(Request-URI, From tag, Call-ID, CSeq number, method, top Via)``. The
  Request-URI and top Via compare as written (no §19.1.4 URI equivalence; the
  peer retransmits the same text). The To tag is left out: the ACK of a non-2xx
  carries the tag of our response, which its INVITE did not, and §17.2.3 would
  compare it with the response we sent, which a key cannot do. Leaving it out
  is a little more lenient than the RFC, never stricter.

In both shapes an ACK uses ``INVITE`` as its method so that it finds the INVITE
it acknowledges. (The ACK of a 2xx has a new branch, §8.1.1.7, so it does not
match: it is a request of its own for the core, as §17 intends.)
"""

from __future__ import annotations

import re

from proxy.sip.address import parse_name_addr
from proxy.sip.message import Request, Response
from proxy.sip.via import MAGIC_COOKIE, Via

TransactionKey = tuple[str | int, ...]

# The branch of a Via value, found without parsing the whole Via: responses are
# matched on every hop, and the top Via of a response is our own, well formed.
_BRANCH = re.compile(r";\s*branch\s*=\s*([^\s;,]+)", re.IGNORECASE)


def server_key(request: Request, top_via: Via | None = None) -> TransactionKey:
    """The server transaction ``request`` belongs to (§17.2.3).

    A retransmission gets the key of its original, an ACK that of its INVITE, a
    CANCEL its own (CANCEL is a transaction of its own, §9.2). ``top_via`` is the
    request's top Via if the caller has parsed it already.
    """
    return _server_key(request, _transaction_method(request.method), top_via)


def server_key_for_cancelled_invite(cancel: Request, top_via: Via | None = None) -> TransactionKey:
    """The key of the INVITE server transaction that ``cancel`` targets (§9.2).

    A CANCEL copies the INVITE's Request-URI, Call-ID, From, To, CSeq number and
    top Via, branch included, so the INVITE's key is the CANCEL's with the method
    INVITE.
    """
    return _server_key(cancel, "INVITE", top_via)


def client_key(response: Response) -> TransactionKey:
    """The client transaction ``response`` belongs to (§17.1.3): top Via branch, CSeq method.

    A response whose top Via has no branch gets a key with an empty branch, which
    no transaction of ours has (we always send a branch).
    """
    return _top_branch(response.top_via), _transaction_method(response.cseq[1])


def client_key_of(branch: str, method: str) -> TransactionKey:
    """The client transaction key for a request we send with ``branch`` (§17.1.3)."""
    return branch, _transaction_method(method)


def client_key_for(request: Request) -> TransactionKey:
    """The key under which to register a client transaction for ``request`` (§17.1.3).

    ``request`` is the request as sent, its top Via being ours: a Via we wrote needs
    no validation, only its branch (a third of the cost of parsing it whole, on the
    path of every NOTIFY the busy lamps send).
    """
    return _top_branch(request.top_via), _transaction_method(request.method)


def _top_branch(via: str) -> str:
    """The branch parameter of a Via value; "" when it has none."""
    match = _BRANCH.search(via)
    return match.group(1) if match else ""


def _transaction_method(method: str) -> str:
    # §17.1.3, §17.2.3: an ACK belongs to the INVITE transaction it acknowledges.
    return "INVITE" if method == "ACK" else method


def _server_key(request: Request, method: str, top_via: Via | None) -> TransactionKey:
    via = top_via or request.via
    branch = via.branch
    if branch is not None and branch.startswith(MAGIC_COOKIE):
        host, port = via.sent_by
        return branch, host.lower(), port, method
    return _rfc2543_key(request, via, method)


def _rfc2543_key(request: Request, via: Via, method: str) -> TransactionKey:
    from_header = request.header("from")
    from_tag = parse_name_addr(from_header).tag if from_header is not None else None
    return (
        request.uri,
        from_tag or "",
        request.call_id,
        request.cseq[0],
        method,
        str(via),
    )
