"""The digest authority: challenges and verification for one realm (RFC 3261 §22,
RFC 7616, RFC 8760). Pure: time is an argument, nothing is sent or logged here.

The caller decides who is challenged and how: a registrar answers 401 with
``WWW-Authenticate`` (RFC 3261 §22.2), a proxy 407 with ``Proxy-Authenticate``
(§22.3); :data:`REGISTRAR_CHALLENGE` and :data:`PROXY_CHALLENGE` carry the
status, reason and header names. ACK and CANCEL are never challenged (§22.1),
which is also the caller's rule.

Nothing here tells a known username from an unknown one: the challenge does
not depend on the user, an unknown user's response is computed against a
secret-derived HA1 and compared in constant time like any other, and every
wrong answer gets the same ``Challenge(stale=False)``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from itertools import count

from proxy.auth.algorithms import (
    DigestAlgorithm,
    algorithm_named,
    digest_response,
    supported_algorithms,
)
from proxy.auth.header import DigestCredentials, challenge_value, parse_credentials
from proxy.auth.nonce import (
    ISSUER_BITS,
    CountVerdict,
    NonceCounts,
    make_nonce,
    read_nonce,
    to_ms,
)
from proxy.auth.throttle import FailureThrottle
from proxy.defaults import (
    AUTH_BLOCK_SECONDS,
    AUTH_FAILURE_WINDOW_SECONDS,
    AUTH_MAX_FAILURES,
    AUTH_NONCE_LIFETIME_SECONDS,
    AUTH_TRACKED_NONCES,
    AUTH_TRACKED_SOURCES,
)
from proxy.sip.errors import SipParseError
from proxy.sip.message import Header
from proxy.sip.uri import SipUri, Uri, parse_uri

_MIN_SECRET_BYTES = 16
_MAX_NONCE_COUNT_DIGITS = 8  # RFC 7616 §3.4: nc = 8LHEX


@dataclass(frozen=True, slots=True)
class UserSecret:
    """What proves a user: a password, or HA1 per algorithm name (RFC 7616 §3.4.2:
    H(username:realm:password), so the password need not be stored). An HA1 given
    for an algorithm wins over the password. Kept out of ``repr``."""

    password: str | None = field(default=None, repr=False)
    ha1: Mapping[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.password is None and not self.ha1:
            raise ValueError("a user secret needs a password or HA1 values")


@dataclass(frozen=True, slots=True)
class AuthSettings:
    """Tunables of the authority; defaults in :mod:`proxy.defaults`."""

    nonce_lifetime: float = AUTH_NONCE_LIFETIME_SECONDS
    max_failures: int = AUTH_MAX_FAILURES
    failure_window: float = AUTH_FAILURE_WINDOW_SECONDS
    block_for: float = AUTH_BLOCK_SECONDS
    max_tracked_nonces: int = AUTH_TRACKED_NONCES
    max_tracked_sources: int = AUTH_TRACKED_SOURCES
    # Offered in this order, one header field each (RFC 8760 §2.4). The default
    # is every supported algorithm, strongest first: SHA-512-256 (when this
    # Python has the real one), SHA-256, MD5.
    algorithms: tuple[str, ...] = field(default_factory=supported_algorithms)

    def __post_init__(self) -> None:
        if self.nonce_lifetime <= 0:
            raise ValueError("nonce_lifetime must be positive")
        if not self.algorithms:
            raise ValueError("at least one digest algorithm must be offered")
        for name in self.algorithms:
            if name not in supported_algorithms():
                raise ValueError(
                    f"unsupported digest algorithm {name!r}; "
                    f"supported: {', '.join(supported_algorithms())}"
                )
        if len(set(self.algorithms)) != len(self.algorithms):
            raise ValueError("a digest algorithm is listed twice")


@dataclass(frozen=True, slots=True)
class ChallengeKind:
    """Who challenges, as data: the status to answer, and the header names."""

    status: int
    reason: str
    challenge_header: str  # sent in the response
    credentials_header: str  # read from the next request


# RFC 3261 §22.2: a registrar (or any UAS) answers 401 with WWW-Authenticate.
REGISTRAR_CHALLENGE = ChallengeKind(401, "Unauthorized", "WWW-Authenticate", "Authorization")
# RFC 3261 §22.3: a proxy answers 407 with Proxy-Authenticate.
PROXY_CHALLENGE = ChallengeKind(
    407, "Proxy Authentication Required", "Proxy-Authenticate", "Proxy-Authorization"
)


@dataclass(frozen=True, slots=True)
class Authenticated:
    """The credentials are right: ``username`` is the digest username."""

    username: str


@dataclass(frozen=True, slots=True)
class Challenge:
    """Answer with a challenge (401/407); ``stale`` goes into it (RFC 7616 §3.3):
    the response was right but its nonce is no longer accepted."""

    stale: bool


@dataclass(frozen=True, slots=True)
class Blocked:
    """The source address is blocked until ``until``: answer 403. ``first`` is
    True only for the failed attempt that started the block (log it once)."""

    until: float
    first: bool


AuthOutcome = Authenticated | Challenge | Blocked


@dataclass(frozen=True, slots=True)
class AuthMemory:
    """How much the authority remembers (each bounded by the settings)."""

    nonces: int
    failing_sources: int
    blocked_sources: int


class _Verdict(Enum):
    AUTHENTICATED = "authenticated"
    STALE = "stale"  # right response, nonce expired, replayed count or untracked
    FAILED = "failed"  # anything else; counted against the source


class DigestAuthority:
    """Challenges and verifies digest credentials for one realm.

    ``secret`` keys the nonces' HMAC (kept in the store, at least 16 bytes). Each
    authority issues nonces under an issuer id of its own, drawn at random: a
    nonce of another issuer on the same secret (another proxy on the store, this
    process before a restart) was counted by a table this one does not have, so
    it gets a stale challenge instead of being trusted. ``users`` maps digest
    usernames to their secrets. Any clock works if every call uses the same one.
    """

    def __init__(
        self,
        realm: str,
        secret: bytes,
        users: Mapping[str, UserSecret],
        settings: AuthSettings,
    ) -> None:
        if len(secret) < _MIN_SECRET_BYTES:
            raise ValueError(f"the nonce secret needs at least {_MIN_SECRET_BYTES} bytes")
        self.realm = realm
        self._secret = secret
        self._settings = settings
        self._offered = tuple(
            algorithm
            for algorithm in (algorithm_named(name) for name in settings.algorithms)
            if algorithm is not None
        )
        self._ha1 = _ha1_table(realm, users, self._offered)
        self._lifetime_ms = to_ms(settings.nonce_lifetime)
        self._serials: Iterator[int] = count()
        self._issuer = secrets.randbits(ISSUER_BITS)
        self._counts = NonceCounts(settings.max_tracked_nonces)
        self._throttle = FailureThrottle(
            max_failures=settings.max_failures,
            window=settings.failure_window,
            block_for=settings.block_for,
            limit=settings.max_tracked_sources,
        )

    def use_users(self, users: Mapping[str, UserSecret]) -> None:
        """The users' secrets from a reloaded configuration. Nonces, their counts and
        the failure throttle carry on: a phone mid-exchange is not challenged anew."""
        self._ha1 = _ha1_table(self.realm, users, self._offered)

    def verify_password(self, username: str, password: str) -> bool:
        """Whether ``password`` is ``username``'s, judged by the HA1 the digest exchange
        uses (so a user configured with HA1 values only can prove it too). For doors
        that receive the password itself (HTTP Basic over the management API)."""
        for algorithm in self._offered:
            stored = self._ha1.get((username, algorithm.name))
            if stored is not None:
                given = algorithm.ha1(username, self.realm, password)
                return hmac.compare_digest(stored.encode(), given.encode())
        return False

    def challenge(
        self, kind: ChallengeKind, now: float, *, stale: bool = False
    ) -> tuple[Header, ...]:
        """The challenge header fields for a 401/407: one per offered algorithm,
        most preferred first, all with the same fresh nonce (RFC 8760 §2.4)."""
        nonce = make_nonce(self._secret, self.realm, now, next(self._serials), self._issuer)
        return tuple(
            (kind.challenge_header, challenge_value(self.realm, nonce, algorithm.name, stale=stale))
            for algorithm in self._offered
        )

    def check(
        self,
        method: str,
        request_uri: str,
        credentials: Sequence[str],
        source: str,
        now: float,
    ) -> AuthOutcome:
        """Judge a request by the values of its Authorization (or Proxy-Authorization)
        header fields, one per field; ``source`` is the address it came from."""
        until = self._throttle.blocked_until(source, now)
        if until is not None:
            return Blocked(until=until, first=False)
        ours = self._credentials_for_realm(credentials)
        if ours is None:
            # No credentials for this realm: the first leg of the exchange, or
            # credentials meant for another proxy (RFC 3261 §22.3). Not a failure.
            return Challenge(stale=False)
        verdict, username = self._verify(ours, method, request_uri, now)
        if verdict is _Verdict.AUTHENTICATED:
            return Authenticated(username)
        if verdict is _Verdict.STALE:
            return Challenge(stale=True)
        until = self._throttle.record_failure(source, now)
        if until is not None:
            return Blocked(until=until, first=True)
        return Challenge(stale=False)

    def memory(self) -> AuthMemory:
        """The sizes of the bounded tables (for tests and metrics)."""
        return AuthMemory(
            nonces=len(self._counts),
            failing_sources=self._throttle.failing_count,
            blocked_sources=self._throttle.blocked_count,
        )

    def _credentials_for_realm(self, values: Sequence[str]) -> DigestCredentials | None:
        # RFC 3261 §22.3: a proxy looks through every credentials value for one
        # in its realm; values that do not parse or name another realm are not ours.
        for value in values:
            credentials = parse_credentials(value)
            if credentials is not None and credentials.realm == self.realm:
                return credentials
        return None

    def _verify(
        self, credentials: DigestCredentials, method: str, request_uri: str, now: float
    ) -> tuple[_Verdict, str]:
        fields = _Fields.of(credentials)
        algorithm = self._algorithm_of(credentials)
        if fields is None or algorithm is None:
            return _Verdict.FAILED, ""
        stamp = read_nonce(self._secret, self.realm, fields.nonce)
        if stamp is None:
            return _Verdict.FAILED, ""
        if not self._response_is_right(fields, algorithm, method, request_uri):
            return _Verdict.FAILED, ""
        if stamp.issuer != self._issuer:
            # Authentic, but another process counted its uses: a replay there could
            # not be told from a first use here (RFC 7616 §3.4 nc).
            return _Verdict.STALE, ""
        issued_ms = stamp.issued_ms
        now_ms = to_ms(now)
        expires_ms = issued_ms + self._lifetime_ms
        if not issued_ms <= now_ms < expires_ms:
            # RFC 7616 §3.3: stale=true, "the request from the client was
            # rejected because the nonce value was stale" (or issued in the
            # future of a clock that went back).
            return _Verdict.STALE, ""
        counted = self._counts.accept(
            fields.nonce, fields.count, issued_ms=issued_ms, expires_ms=expires_ms, now_ms=now_ms
        )
        if counted is not CountVerdict.ACCEPTED:
            # A replayed nonce-count is refused (RFC 7616 §3.4 nc). It is
            # answered stale: whoever holds the right response gets a new nonce
            # without a new password prompt, and learns nothing new.
            return _Verdict.STALE, ""
        return _Verdict.AUTHENTICATED, fields.username

    def _algorithm_of(self, credentials: DigestCredentials) -> DigestAlgorithm | None:
        # RFC 7616 §3.4: "If this is not present, it is assumed to be MD5"; it
        # must be one of those offered.
        name = credentials.algorithm if credentials.algorithm is not None else "MD5"
        algorithm = algorithm_named(name)
        return algorithm if algorithm in self._offered else None

    def _response_is_right(
        self, fields: _Fields, algorithm: DigestAlgorithm, method: str, request_uri: str
    ) -> bool:
        # The same work for a known and an unknown user: the decoy HA1 is always
        # computed, and the comparison is constant-time.
        decoy = self._decoy_ha1(fields.username, algorithm)
        known = self._ha1.get((fields.username, algorithm.name))
        expected = digest_response(
            algorithm,
            known if known is not None else decoy,
            method,
            fields.uri,
            nonce=fields.nonce,
            nc=fields.nc,
            cnonce=fields.cnonce,
            qop=fields.qop,
        )
        matches = hmac.compare_digest(
            expected.encode("ascii"), fields.response.lower().encode("utf-8", "surrogateescape")
        )
        return matches and known is not None and same_resource(fields.uri, request_uri)

    def _decoy_ha1(self, username: str, algorithm: DigestAlgorithm) -> str:
        material = b"unknown user\0" + username.encode("utf-8", "surrogateescape")
        decoy = hmac.new(self._secret, material, hashlib.sha256).hexdigest()
        return decoy[: algorithm.hex_length]


@dataclass(frozen=True, slots=True)
class _Fields:
    """The parameters a qop=auth response needs, all present and well-formed."""

    username: str
    nonce: str
    uri: str
    response: str
    qop: str
    nc: str
    count: int
    cnonce: str

    @staticmethod
    def of(credentials: DigestCredentials) -> _Fields | None:
        c = credentials
        if (
            c.username is None
            or c.nonce is None
            or c.uri is None
            or c.response is None
            or c.cnonce is None
            or c.nc is None
        ):
            return None
        # We offer qop="auth" only, so the client MUST answer with it (RFC 7616
        # §3.4: qop, cnonce and nc are required); RFC 2069-style answers without
        # qop have no replay protection and are refused.
        if c.qop is None or c.qop.lower() != "auth":
            return None
        count = _nonce_count(c.nc)
        if count is None or not c.cnonce:
            return None
        return _Fields(c.username, c.nonce, c.uri, c.response, c.qop, c.nc, count, c.cnonce)


def _nonce_count(text: str) -> int | None:
    # RFC 7616 §3.4: nc is 8 hex digits; fewer are tolerated, zero is not a count.
    if not 0 < len(text) <= _MAX_NONCE_COUNT_DIGITS or not text.isascii():
        return None
    try:
        value = int(text, 16)
    except ValueError:
        return None
    return value if value > 0 else None


def _ha1_table(
    realm: str, users: Mapping[str, UserSecret], offered: tuple[DigestAlgorithm, ...]
) -> dict[tuple[str, str], str]:
    """HA1 by (username, algorithm name): the given value, else computed from the
    password. A user with neither for an algorithm cannot use that algorithm."""
    table: dict[tuple[str, str], str] = {}
    for username, secret in users.items():
        given = {name.upper(): value.lower() for name, value in secret.ha1.items()}
        for algorithm in offered:
            if algorithm.name in given:
                table[username, algorithm.name] = given[algorithm.name]
            elif secret.password is not None:
                table[username, algorithm.name] = algorithm.ha1(username, realm, secret.password)
    return table


def same_resource(digest_uri: str, request_uri: str) -> bool:
    """RFC 7616 §3.4.6: the ``uri`` parameter must name the resource of the
    Request-URI (RFC 3261 §22.4: "the Request-URI of the request").

    Equal text, or URIs equivalent by RFC 3261 §19.1.4 in the ways a client
    may legitimately respell one: scheme and host case, parameter order and
    parameter name/value case. The user part stays case-sensitive; parameters
    present on one side only make them differ (stricter than §19.1.4, which
    ignores most of those).
    """
    if digest_uri == request_uri:
        return True
    try:
        return _uri_key(parse_uri(digest_uri)) == _uri_key(parse_uri(request_uri))
    except SipParseError:
        return False


def _uri_key(uri: Uri) -> tuple[object, ...]:
    params = frozenset(
        (name.lower(), value.lower() if value is not None else None) for name, value in uri.params
    )
    if isinstance(uri, SipUri):
        return (uri.scheme, uri.user, uri.password, uri.host.lower(), uri.port, params, uri.headers)
    return ("tel", uri.number, params)
