"""Who is calling the management API, from its Authorization header. Pure: time is
passed in, and the session tokens come from a function the wiring gives.

Three ways in:

- ``Authorization: Bearer ADMIN_TOKEN``: the administrator (``api.admin_token``).
- ``Authorization: Basic ...`` (RFC 7617) with a user's SIP credentials: the same
  username and password as their phones, checked against the digest HA1 values
  (``DigestAuthority.verify_password``), so a user configured with HA1 only logs
  in too and no password is kept anywhere else.
- ``Authorization: Bearer SESSION``: a token ``POST /login`` gave a user; it lives
  in memory for ``SESSION_SECONDS`` (a restart logs everybody out).

Failed attempts are counted per source address and block it like failed SIP
digest attempts do (``proxy.auth.throttle``, the same limits), so a guesser gains
nothing by trying the HTTP door instead of the SIP one.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from proxy.auth import AuthSettings, DigestAuthority
from proxy.auth.throttle import FailureThrottle

SESSION_SECONDS = 8 * 3600.0
# Sessions held at most; the oldest goes first (memory stays bounded).
MAX_SESSIONS = 10_000
CHALLENGE = 'Basic realm="vipproxy", charset="UTF-8", Bearer realm="vipproxy"'


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is asking: a user, or the administrator (``user`` None)."""

    user: str | None

    @property
    def admin(self) -> bool:
        return self.user is None


ADMIN = Caller(None)


@dataclass(frozen=True, slots=True)
class Refused:
    """No access: the HTTP status, a reason a person can act on, and for how long
    the source is blocked (429), if it is."""

    status: int
    reason: str
    retry_after: float | None = None


@dataclass(frozen=True, slots=True)
class Credentials:
    """What the running configuration says about logging in."""

    admin_token: str | None
    authority: DigestAuthority | None  # None: no user has SIP credentials
    users: Mapping[str, str]  # digest username -> user id


class Access:
    """Judges Authorization headers; keeps the failure throttle and the sessions."""

    def __init__(self, new_token: Callable[[], str], settings: AuthSettings | None = None,
                 ) -> None:
        settings = settings or AuthSettings()
        self._throttle = FailureThrottle(max_failures=settings.max_failures,
                                         window=settings.failure_window,
                                         block_for=settings.block_for,
                                         limit=settings.max_tracked_sources)
        self._new_token = new_token
        self._sessions: OrderedDict[str, tuple[str, float]] = OrderedDict()  # -> user, until
        self.failures = 0  # failed attempts so far, for the metrics
        self.blocks = 0  # blocks started so far

    def identify(self, authorization: str | None, credentials: Credentials, source: str,
                 now: float) -> Caller | Refused:
        """The caller named by ``authorization``, or why not."""
        until = self._throttle.blocked_until(source, now)
        if until is not None:
            return _blocked(until, now)
        if not authorization:
            return Refused(401, "credentials needed: HTTP Basic with your phone's username and"
                           " password, or a bearer token (POST /login, or the admin token)")
        scheme, _, value = authorization.strip().partition(" ")
        caller: Caller | None = None
        if scheme.lower() == "bearer":
            caller = self._bearer(value.strip(), credentials, now)
        elif scheme.lower() == "basic":
            caller = _basic(value.strip(), credentials)
        else:
            return Refused(401, f"unknown authorization scheme {scheme!r}; allowed: Basic,"
                           " Bearer")
        if caller is not None:
            return caller
        return self._failed(source, now)

    def open_session(self, caller: Caller, now: float) -> tuple[str, float]:
        """A bearer token for ``caller`` (a user) and its lifetime in seconds."""
        assert caller.user is not None, "the administrator has a token already"
        token = self._new_token()
        self._sessions[token] = (caller.user, now + SESSION_SECONDS)
        while len(self._sessions) > MAX_SESSIONS:
            self._sessions.popitem(last=False)
        return token, SESSION_SECONDS

    def _bearer(self, token: str, credentials: Credentials, now: float) -> Caller | None:
        admin_token = credentials.admin_token
        if admin_token is not None and hmac.compare_digest(token.encode(), admin_token.encode()):
            return ADMIN
        session = self._sessions.get(token)
        if session is None:
            return None
        user, until = session
        if until <= now or user not in credentials.users.values():
            del self._sessions[token]  # expired, or the user lost their credentials
            return None
        return Caller(user)

    def _failed(self, source: str, now: float) -> Refused:
        self.failures += 1
        until = self._throttle.record_failure(source, now)
        if until is not None:
            self.blocks += 1
            return _blocked(until, now)
        return Refused(401, "wrong username, password or token")


def _basic(value: str, credentials: Credentials) -> Caller | None:
    """RFC 7617: base64 of ``username:password`` (UTF-8)."""
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, colon, password = decoded.partition(":")
    user = credentials.users.get(username)
    if not colon or user is None or credentials.authority is None:
        return None
    return Caller(user) if credentials.authority.verify_password(username, password) else None


def _blocked(until: float, now: float) -> Refused:
    return Refused(429, "too many failed logins from this address; try again later",
                   retry_after=max(1.0, until - now))
