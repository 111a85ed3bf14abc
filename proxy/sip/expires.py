"""Intervals in seconds: the Expires header and the ``expires`` parameter (RFC 3261
§20.19, §20.10), as REGISTER and SUBSCRIBE (RFC 6665 §4.2.1) carry them."""

from __future__ import annotations

# RFC 3261 §20.10: "Malformed values SHOULD be treated as equivalent to 3600."
MALFORMED_EXPIRES = 3600
# RFC 3261 §20.19: delta-seconds up to (2**32)-1.
MAX_DELTA_SECONDS = 2**32 - 1


def delta_seconds(text: str) -> int:
    """delta-seconds (§20.19); malformed is 3600 (§20.10), larger than 2**32-1 is capped."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()):
        return MALFORMED_EXPIRES
    significant = text.lstrip("0")
    if len(significant) > 10:
        return MAX_DELTA_SECONDS
    return min(int(significant or "0"), MAX_DELTA_SECONDS)
