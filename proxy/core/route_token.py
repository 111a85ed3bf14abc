"""Tokens in our Record-Route, so that only dialogs this proxy saw are routed.

An in-dialog request is routed by its Route set only when the Route that names
us carries the token minted when we Record-Routed the dialog (RFC 3261 §16.6
step 4 lets a proxy put any URI parameter it likes in its Record-Route; §16.4
hands it back in the Route). The token is an HMAC over the Call-ID and the
caller's From tag, so it needs no state, survives a restart of the proxy (the
secret is kept in ``state_dir``) and cannot be made up by anyone else. Requests
from the callee's side carry the caller's tag as their To tag; either tag is
checked.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

# The URI parameter of our Record-Route entries that carries the token.
TOKEN_PARAM = "vpt"
_TOKEN_BYTES = 10  # 80 bits: far beyond guessing within a dialog's life


@dataclass(frozen=True, slots=True)
class RouteTokens:
    """Mints and checks route tokens with one secret."""

    secret: bytes

    def mint(self, call_id: str, from_tag: str) -> str:
        """The token for the dialog of ``call_id`` started by ``from_tag``."""
        material = f"{call_id}\n{from_tag}".encode("utf-8", "surrogateescape")
        return hmac.new(self.secret, material, hashlib.sha256).hexdigest()[: 2 * _TOKEN_BYTES]

    def verify(self, token: str, call_id: str, tags: tuple[str | None, ...]) -> bool:
        """True when ``token`` was minted for ``call_id`` and one of ``tags``."""
        return any(
            tag is not None and hmac.compare_digest(token, self.mint(call_id, tag))
            for tag in tags
        )
