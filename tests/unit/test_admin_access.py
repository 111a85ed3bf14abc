"""Who may call the management API (proxy.admin.access): the admin token, HTTP
Basic with a user's SIP credentials, session tokens, and the failure throttle.
Time is passed in: no sleeps."""

from __future__ import annotations

import base64
import itertools

from proxy.admin.access import ADMIN, SESSION_SECONDS, Access, Caller, Credentials, Refused
from proxy.auth import AuthSettings, DigestAuthority, UserSecret, ha1_values

REALM = "example.org"
TOKEN = "an-admin-token-of-some-length"
SOURCE = "127.0.0.1"
SETTINGS = AuthSettings(max_failures=3, failure_window=60.0, block_for=300.0)


def credentials(admin_token: str | None = TOKEN) -> Credentials:
    users = {
        "alice": UserSecret(password="alice-pw"),
        # Bob's file keeps HA1 values only: he still logs in with his password.
        "bob-sip": UserSecret(ha1=ha1_values("bob-sip", REALM, "bob-pw")),
    }
    authority = DigestAuthority(REALM, b"s" * 32, users, SETTINGS)
    return Credentials(admin_token, authority, {"alice": "alice", "bob-sip": "bob"})


def new_access() -> Access:
    counter = itertools.count()
    return Access(lambda: f"session-{next(counter)}", SETTINGS)


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def test_the_admin_token_is_the_administrator() -> None:
    assert new_access().identify(f"Bearer {TOKEN}", credentials(), SOURCE, 0.0) == ADMIN


def test_without_an_admin_token_in_the_file_nobody_is_the_administrator() -> None:
    outcome = new_access().identify(f"Bearer {TOKEN}", credentials(None), SOURCE, 0.0)
    assert isinstance(outcome, Refused) and outcome.status == 401


def test_users_log_in_with_their_phones_credentials_password_or_ha1() -> None:
    access = new_access()
    assert access.identify(basic("alice", "alice-pw"), credentials(), SOURCE, 0.0) == \
        Caller("alice")
    # The digest username maps to the user id, as for the phones.
    assert access.identify(basic("bob-sip", "bob-pw"), credentials(), SOURCE, 0.0) == \
        Caller("bob")


def test_a_missing_header_says_how_to_log_in_and_is_no_failure() -> None:
    access = new_access()
    outcome = access.identify(None, credentials(), SOURCE, 0.0)
    assert isinstance(outcome, Refused) and outcome.status == 401
    assert "HTTP Basic" in outcome.reason
    assert access.failures == 0


def test_failed_logins_block_the_address_like_sip_digest_failures() -> None:
    access = new_access()
    wrong = [access.identify(basic("alice", "guess"), credentials(), SOURCE, float(n))
             for n in range(3)]
    assert [outcome.status for outcome in wrong if isinstance(outcome, Refused)] == \
        [401, 401, 429]
    # Blocked: even the right password waits, and another address does not.
    blocked = access.identify(basic("alice", "alice-pw"), credentials(), SOURCE, 10.0)
    assert isinstance(blocked, Refused) and blocked.status == 429
    assert blocked.retry_after is not None and 280 <= blocked.retry_after <= 300
    assert access.identify(basic("alice", "alice-pw"), credentials(), "127.0.0.2", 10.0) == \
        Caller("alice")
    assert access.identify(basic("alice", "alice-pw"), credentials(), SOURCE, 400.0) == \
        Caller("alice")
    assert (access.failures, access.blocks) == (3, 1)


def test_a_session_token_lasts_its_lifetime() -> None:
    access = new_access()
    token, lifetime = access.open_session(Caller("alice"), 0.0)
    assert lifetime == SESSION_SECONDS
    assert access.identify(f"Bearer {token}", credentials(), SOURCE, 10.0) == Caller("alice")
    expired = access.identify(f"Bearer {token}", credentials(), SOURCE, SESSION_SECONDS + 1)
    assert isinstance(expired, Refused) and expired.status == 401


def test_a_session_ends_when_its_user_loses_their_credentials() -> None:
    access = new_access()
    token, _ = access.open_session(Caller("alice"), 0.0)
    without_alice = Credentials(TOKEN, credentials().authority, {"bob-sip": "bob"})
    outcome = access.identify(f"Bearer {token}", without_alice, SOURCE, 1.0)
    assert isinstance(outcome, Refused) and outcome.status == 401


def test_an_unknown_scheme_is_named() -> None:
    outcome = new_access().identify("Digest username=x", credentials(), SOURCE, 0.0)
    assert isinstance(outcome, Refused) and "Digest" in outcome.reason
