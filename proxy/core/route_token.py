"""Tokens in our Record-Route, so that only dialogs this proxy saw are routed.

An in-dialog request is routed by its Route set only when the Route that names
us carries the token minted when we Record-Routed the dialog (RFC 3261 §16.6
step 4 lets a proxy put any URI parameter it likes in its Record-Route; §16.4
hands it back in the Route). The token is an HMAC over the Call-ID and the
caller's From tag, so it needs no state, survives a restart of the proxy (the
secret is kept in the store) and cannot be made up by anyone else. Requests
from the callee's side carry the caller's tag as their To tag; either tag is
checked. When the Record-Route also names the flow of a registered phone
(``proxy.core.flows``), the token covers the flow too, so that nobody can aim the
requests of a dialog at an address of their choosing; so does it cover the flow
of a registered phone that placed the call (the caller's flow).
"""

from __future__ import annotations

import hmac

# The URI parameter of our Record-Route entries that carries the token.
TOKEN_PARAM = "vpt"
_TOKEN_BYTES = 10  # 80 bits: far beyond guessing within a dialog's life
# Tokens remembered (see RouteTokens): at 300 calls/s, the last 3 s of calls,
# which covers every ACK of a 2xx and the BYE of a short call; about 250 KB.
REMEMBERED_TOKENS = 1024


class RouteTokens:
    """Mints and checks route tokens with one secret.

    The tokens minted last are remembered, at most ``remembered`` of them, so the
    ACK (and often the BYE) of a dialog set up a moment ago is checked with a
    lookup instead of another HMAC (an HMAC costs as much as the rest of the ACK's
    classification). Only values this object computed are remembered, for exactly
    the Call-ID and tag they were computed from: a lookup gives the answer a new
    HMAC would give, and a forgotten one is computed again. Anyone can make it
    forget (every tag checked is remembered), which costs only that HMAC.
    """

    __slots__ = ("_recent", "_remembered", "_secret")

    def __init__(self, secret: bytes, remembered: int = REMEMBERED_TOKENS) -> None:
        self._secret = secret
        self._remembered = remembered
        self._recent: dict[tuple[str, str, str, str], str] = {}

    def mint(self, call_id: str, from_tag: str, flow: str = "", caller_flow: str = "") -> str:
        """The token for the dialog of ``call_id`` started by ``from_tag``, with the
        callee's and the caller's flows its Record-Route names (empty for none)."""
        recent = self._recent
        key = (call_id, from_tag, flow, caller_flow)
        token = recent.get(key)
        if token is None:
            # A dialog without a flow keeps the material of tokens minted before flows
            # were carried: dialogs set up before an upgrade still route. Likewise a
            # dialog without a caller's flow keeps the material of the callee's flow.
            # No value holds a line break, so the materials cannot be confused.
            if caller_flow:
                text = f"{call_id}\n{from_tag}\n{flow}\n{caller_flow}"
            elif flow:
                text = f"{call_id}\n{from_tag}\n{flow}"
            else:
                text = f"{call_id}\n{from_tag}"
            material = text.encode("utf-8", "surrogateescape")
            token = hmac.digest(self._secret, material, "sha256")[:_TOKEN_BYTES].hex()
            if len(recent) >= self._remembered:
                del recent[next(iter(recent))]  # the oldest: dicts keep insertion order
            recent[key] = token
        return token

    def verify(self, token: str, call_id: str, tag: str | None, flow: str = "",
               caller_flow: str = "") -> bool:
        """True when ``token`` was minted for ``call_id``, ``tag`` and both flows.
        A token that is not even ASCII (ours are hex) is simply not ours: it must
        get the 403 of any wrong token, not an error from ``compare_digest``."""
        return tag is not None and token.isascii() and hmac.compare_digest(
            token, self.mint(call_id, tag, flow, caller_flow))
