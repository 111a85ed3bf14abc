"""Branch identifiers and loop detection (RFC 3261 §16.6 step 8, §16.3 step 4; RFC 5393)."""

from __future__ import annotations

import hashlib
import itertools
import secrets

from proxy.sip.address import address_tag
from proxy.sip.message import Request
from proxy.sip.via import MAGIC_COOKIE


def loop_hash(request: Request) -> str:
    """Hash of the fields that stay the same when a request comes back in a loop.

    §16.6 step 8 suggests To tag, From tag, Call-ID, Request-URI, CSeq number,
    Proxy-Require and Proxy-Authorization. A request that comes back with the
    same values is a loop (482); one whose Request-URI changed is a spiral.
    Only the tags of To and From count: the proxy itself rewrites From's display
    name and address on the way to delegates, and a request of ours that came
    back must still be recognised.
    """
    material = "\n".join(
        (
            request.uri,
            address_tag(request.header("to")) or "",
            address_tag(request.header("from")) or "",
            request.call_id,
            (request.header("cseq") or "").split(" ", 1)[0],
            request.header("proxy-require") or "",
            request.header("proxy-authorization") or "",
        )
    )
    return hashlib.blake2s(material.encode("utf-8", "surrogateescape"), digest_size=6).hexdigest()


class BranchFactory:
    """Makes branch values ``z9hG4bK<loop hash>.<instance>.<counter>``: unique per branch."""

    def __init__(self) -> None:
        self._instance = secrets.token_hex(3)
        self._counter = itertools.count(1)

    def new_branch(self, request: Request) -> str:
        return f"{MAGIC_COOKIE}{loop_hash(request)}.{self._instance}.{next(self._counter):x}"

    def stateless_branch(self, request: Request, upstream_branch: str) -> str:
        """§16.11: a stateless forward derives the branch from the request, so that
        a retransmission gets the same branch."""
        digest = hashlib.blake2s(
            f"{upstream_branch}\n{request.uri}".encode("utf-8", "surrogateescape"),
            digest_size=8,
        ).hexdigest()
        return f"{MAGIC_COOKIE}{digest}"

    @staticmethod
    def loop_hash_of(branch: str) -> str | None:
        """The loop hash part of a branch this proxy made, else None."""
        if not branch.startswith(MAGIC_COOKIE) or "." not in branch:
            return None
        return branch[len(MAGIC_COOKIE) :].split(".", 1)[0]
