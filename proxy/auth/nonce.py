"""Stateless nonces and the nonce-count replay check (RFC 7616 §3.3, §5.5).

A nonce is ``base64url(issued-ms | serial | issuer | HMAC)``: the time it was
issued, a serial that makes nonces issued in the same millisecond differ (so
two clients never share one, and their nonce-counts never collide), the
process that issued it, and an HMAC over them and the realm with the proxy's
secret. Checking one needs no state, and a nonce cannot be made up or moved to
another realm. RFC 7616 §3.3 suggests this shape ("time-stamp H(time-stamp ":"
ETag ":" secret-data)").

Replay (RFC 7616 §5.5, RFC 3261 §22.4): a request is accepted only if its
nonce-count is greater than the highest one accepted with the same nonce. That
needs memory, kept bounded by :class:`NonceCounts`, and held by the process
that issued the nonce alone: a nonce of another issuer sharing the secret
(another proxy on the same store, or this one before a restart) is authentic
but its counts are elsewhere, so it is answered stale, never trusted.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import struct
from collections import OrderedDict
from dataclasses import dataclass
from enum import Enum

_STAMP = struct.Struct(">qQI")  # issued, in ms since the clock's epoch; serial; issuer
_MAC_BYTES = 16  # 128 bits of HMAC-SHA-256
_NONCE_BYTES = _STAMP.size + _MAC_BYTES
_NONCE_CHARS = 48  # base64url of 36 bytes
ISSUER_BITS = 32


@dataclass(frozen=True, slots=True)
class NonceStamp:
    """What an authentic nonce says of itself."""

    issued_ms: int
    issuer: int


def to_ms(seconds: float) -> int:
    """A clock reading in whole milliseconds, as nonces carry it."""
    return math.floor(seconds * 1000)


def make_nonce(secret: bytes, realm: str, now: float, serial: int, issuer: int) -> str:
    """A fresh nonce for ``realm`` issued at ``now`` (seconds) by ``issuer``."""
    stamp = _STAMP.pack(to_ms(now), serial % 2**64, issuer % 2**ISSUER_BITS)
    return _encode(stamp + _mac(secret, realm, stamp))


def read_nonce(secret: bytes, realm: str, nonce: str) -> NonceStamp | None:
    """When and by whom a nonce made with ``secret`` was issued, or None if it was
    not made for ``realm`` with ``secret`` (forged, damaged, or another realm's)."""
    if len(nonce) != _NONCE_CHARS or not nonce.isascii():
        return None
    try:
        raw = base64.urlsafe_b64decode(nonce + "=")
    except (binascii.Error, ValueError):
        return None
    if len(raw) != _NONCE_BYTES or _encode(raw) != nonce:
        return None  # only the one spelling we issued (base64 has spare bits)
    stamp, mac = raw[: _STAMP.size], raw[_STAMP.size :]
    if not hmac.compare_digest(mac, _mac(secret, realm, stamp)):
        return None
    issued_ms, _serial, issuer = _STAMP.unpack(stamp)
    return NonceStamp(int(issued_ms), int(issuer))


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _mac(secret: bytes, realm: str, stamp: bytes) -> bytes:
    material = realm.encode("utf-8", "surrogateescape") + b"\0" + stamp
    return hmac.new(secret, material, hashlib.sha256).digest()[:_MAC_BYTES]


class CountVerdict(Enum):
    """What :meth:`NonceCounts.accept` found."""

    ACCEPTED = "accepted"  # higher than any count seen with this nonce: remembered
    REPLAYED = "replayed"  # not higher than one already accepted: refuse
    UNTRACKED = "untracked"  # the nonce may have been used while we were not tracking it


@dataclass(slots=True)
class _Seen:
    highest: int
    issued_ms: int
    expires_ms: int


class NonceCounts:
    """The highest nonce-count accepted per nonce, for at most ``limit`` nonces.

    An entry is dropped once its nonce expires (an expired nonce is refused as
    stale before its count is looked at). When the table is full the entry
    used first is dropped, and from then on every nonce issued no later than
    the dropped one and not in the table is UNTRACKED: its earlier counts are
    forgotten, so accepting it could accept a replay. The caller answers
    UNTRACKED with a stale challenge, which costs an honest client one round
    trip.
    """

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("the nonce-count table needs room for at least one nonce")
        self._limit = limit
        self._tracked_from_ms = 0  # every nonce of ours is tracked until one is dropped
        self._seen: OrderedDict[str, _Seen] = OrderedDict()

    def __len__(self) -> int:
        return len(self._seen)

    def accept(
        self, nonce: str, count: int, *, issued_ms: int, expires_ms: int, now_ms: int
    ) -> CountVerdict:
        """Record ``count`` for ``nonce`` if it is higher than any before (RFC 7616 §3.4:
        "the nc value ... allows the server to detect request replays")."""
        self._drop_expired(now_ms)
        seen = self._seen.get(nonce)
        if seen is not None:
            if count <= seen.highest:
                return CountVerdict.REPLAYED
            seen.highest = count
            return CountVerdict.ACCEPTED
        if issued_ms < self._tracked_from_ms:
            return CountVerdict.UNTRACKED
        if len(self._seen) >= self._limit:
            _, dropped = self._seen.popitem(last=False)
            self._forget_until(dropped)
        self._seen[nonce] = _Seen(count, issued_ms, expires_ms)
        return CountVerdict.ACCEPTED

    def _forget_until(self, dropped: _Seen) -> None:
        # Invariant: every nonce issued at or after tracked_from that was ever
        # accepted is in the table. Entries dropped earlier were issued before the
        # old mark; this one before the new. Nonces issued later stay trackable,
        # so a client sent a fresh nonce is not refused again.
        self._tracked_from_ms = max(self._tracked_from_ms, dropped.issued_ms + 1)

    def _drop_expired(self, now_ms: int) -> None:
        # Entries are in first-use order, which is close to expiry order; an
        # expired entry behind a live one waits its turn (the table stays bounded).
        while self._seen:
            first = next(iter(self._seen.values()))
            if first.expires_ms > now_ms:
                return
            self._seen.popitem(last=False)
