"""Digest authentication (proxy.auth): RFC vectors, challenges, verification,
stale nonces, replays, no user enumeration, blocking, and bounded memory.

Every test uses a fake clock (floats passed in); nothing sleeps.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Callable

import pytest

from proxy.auth import (
    MD5,
    PROXY_CHALLENGE,
    REGISTRAR_CHALLENGE,
    SHA_256,
    SHA_512_256,
    Authenticated,
    AuthSettings,
    Blocked,
    Challenge,
    DigestAuthority,
    UserSecret,
    ha1_values,
    supported_algorithms,
)
from proxy.auth.algorithms import algorithm_named, digest_response
from proxy.auth.header import parse_credentials, parse_digest_params
from proxy.auth.nonce import CountVerdict, NonceCounts, NonceStamp, make_nonce, read_nonce
from proxy.auth.throttle import FailureThrottle
from proxy.cli import main

SECRET = b"0123456789abcdef0123456789abcdef"
REALM = "example.com"
T0 = 1_000.0

# RFC 7616 §3.9.1: the same request answered with MD5 and with SHA-256.
RFC_USER = "Mufasa"
RFC_REALM = "http-auth@example.org"
RFC_PASSWORD = "Circle of Life"
RFC_URI = "/dir/index.html"
RFC_NONCE = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
RFC_CNONCE = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
RFC_OPAQUE = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"
RFC_MD5_RESPONSE = "8ca523f5e9506fed4657c9700eebdbec"
RFC_SHA256_RESPONSE = "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
# The MD5 Authorization of RFC 7616 §3.9.1, as the RFC prints it (folded).
RFC_MD5_AUTHORIZATION = (
    'Digest username="Mufasa",\r\n'
    '    realm="http-auth@example.org",\r\n'
    '    uri="/dir/index.html",\r\n'
    "    algorithm=MD5,\r\n"
    '    nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",\r\n'
    "    nc=00000001,\r\n"
    '    cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",\r\n'
    "    qop=auth,\r\n"
    '    response="8ca523f5e9506fed4657c9700eebdbec",\r\n'
    '    opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"'
)


# --- a client, written independently of proxy.auth (plain hashlib) -------------

_HASHLIB = {"MD5": "md5", "SHA-256": "sha256", "SHA-512-256": "sha512_256"}


def _h(algorithm: str, text: str) -> str:
    return hashlib.new(_HASHLIB[algorithm], text.encode()).hexdigest()


def _params(header_value: str) -> dict[str, str]:
    return {
        name.lower(): quoted if quoted else plain
        for name, quoted, plain in re.findall(r'(\w+)=(?:"([^"]*)"|([^\s,]+))', header_value)
    }


def answer(
    challenge: tuple[str, str],
    method: str,
    uri: str,
    username: str,
    password: str,
    *,
    nc: int = 1,
    cnonce: str = "0a4f113b",
) -> str:
    """The credentials a phone sends for one challenge header (RFC 7616 §3.4)."""
    offered = _params(challenge[1])
    algorithm, realm, nonce = offered["algorithm"], offered["realm"], offered["nonce"]
    ha1 = _h(algorithm, f"{username}:{realm}:{password}")
    ha2 = _h(algorithm, f"{method}:{uri}")
    count = f"{nc:08x}"
    response = _h(algorithm, f"{ha1}:{nonce}:{count}:{cnonce}:auth:{ha2}")
    return (
        f'Digest username="{username}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
        f'response="{response}", algorithm={algorithm}, cnonce="{cnonce}", qop=auth, nc={count}'
    )


def authority(settings: AuthSettings | None = None) -> DigestAuthority:
    users = {
        "alice": UserSecret(password="wonderland"),
        "bob": UserSecret(ha1=ha1_values("bob", REALM, "builder", [MD5])),
    }
    return DigestAuthority(REALM, SECRET, users, settings or AuthSettings())


def by_algorithm(headers: tuple[tuple[str, str], ...], algorithm: str) -> tuple[str, str]:
    return next(header for header in headers if f"algorithm={algorithm}," in header[1])


# --- RFC test vectors -------------------------------------------------------


@pytest.mark.parametrize(
    ("algorithm", "expected"), [(MD5, RFC_MD5_RESPONSE), (SHA_256, RFC_SHA256_RESPONSE)]
)
def test_rfc7616_section_3_9_1_responses(algorithm: str, expected: str) -> None:
    # RFC 7616 §3.9.1: GET /dir/index.html, qop=auth, nc=00000001.
    digest = algorithm_named(algorithm)
    assert digest is not None
    ha1 = ha1_values(RFC_USER, RFC_REALM, RFC_PASSWORD)[algorithm]
    response = digest_response(
        digest, ha1, "GET", RFC_URI, nonce=RFC_NONCE, nc="00000001", cnonce=RFC_CNONCE
    )
    assert response == expected


def test_rfc2617_section_3_5_response() -> None:
    # RFC 2617 §3.5 (MD5, qop=auth): the example every SIP stack was tested with.
    md5 = algorithm_named("md5")
    assert md5 is not None
    ha1 = md5.ha1("Mufasa", "testrealm@host.com", "Circle Of Life")
    response = digest_response(
        md5,
        ha1,
        "GET",
        "/dir/index.html",
        nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
        nc="00000001",
        cnonce="0a4f113b",
    )
    assert response == "6629fae49393a05397450978507c4ef1"


def test_rfc7616_authorization_parses() -> None:
    credentials = parse_credentials(RFC_MD5_AUTHORIZATION)
    assert credentials is not None
    assert (credentials.username, credentials.realm, credentials.uri) == (
        RFC_USER,
        RFC_REALM,
        RFC_URI,
    )
    assert (credentials.nonce, credentials.cnonce) == (RFC_NONCE, RFC_CNONCE)
    assert (credentials.algorithm, credentials.qop, credentials.nc) == ("MD5", "auth", "00000001")
    assert credentials.response == RFC_MD5_RESPONSE


def test_sha512_256_is_offered_only_if_real() -> None:
    real = "sha512_256" in hashlib.algorithms_available and (
        hashlib.new("sha512_256", b"abc").hexdigest()
        == "53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23"  # FIPS 180-4
    )
    assert (SHA_512_256 in supported_algorithms()) == real
    assert supported_algorithms()[-2:] == (SHA_256, MD5)


def test_ha1_values_match_their_definition() -> None:
    values = ha1_values("alice", REALM, "wonderland")
    assert set(values) == set(supported_algorithms())
    for name, value in values.items():
        assert value == _h(name, f"alice:{REALM}:wonderland")


# --- header parsing ---------------------------------------------------------


def test_params_quoted_commas_escapes_and_case() -> None:
    params = parse_digest_params(
        'digest  USERNAME="a,b", Realm = "say \\"hi\\"" ,nonce="n", ALGORITHM=sha-256,,qop=auth'
    )
    assert params == {
        "username": "a,b",
        "realm": 'say "hi"',
        "nonce": "n",
        "algorithm": "sha-256",
        "qop": "auth",
    }


@pytest.mark.parametrize(
    "value",
    [
        "Basic dXNlcjpwYXNz",
        'Digest username="a", username="b"',  # a parameter twice (RFC 7235 §2.1)
        'Digest username="a" realm="b"',  # no comma between parameters
        'Digest username="unclosed',
        "Digest",
        "Digest username",
        'Digestusername="a"',
        "",
    ],
)
def test_malformed_credentials(value: str) -> None:
    assert parse_credentials(value) is None


# --- challenges -------------------------------------------------------------


def test_register_challenge_is_401_www_authenticate_one_header_per_algorithm() -> None:
    auth = authority()
    headers = auth.challenge(REGISTRAR_CHALLENGE, T0)
    assert REGISTRAR_CHALLENGE.status == 401
    assert [name for name, _ in headers] == ["WWW-Authenticate"] * len(supported_algorithms())
    assert [_params(value)["algorithm"] for _, value in headers] == list(supported_algorithms())
    for _, value in headers:
        assert value.startswith(f'Digest realm="{REALM}", nonce="')
        assert 'qop="auth"' in value and "stale" not in value
    assert len({_params(value)["nonce"] for _, value in headers}) == 1


def test_proxy_challenge_is_407_and_stale_is_marked() -> None:
    headers = authority().challenge(PROXY_CHALLENGE, T0, stale=True)
    assert (PROXY_CHALLENGE.status, PROXY_CHALLENGE.credentials_header) == (
        407,
        "Proxy-Authorization",
    )
    assert all(name == "Proxy-Authenticate" for name, _ in headers)
    assert all(value.endswith(", stale=true") for _, value in headers)


def test_offered_algorithms_follow_the_settings() -> None:
    headers = authority(AuthSettings(algorithms=(SHA_256, MD5))).challenge(PROXY_CHALLENGE, T0)
    assert [_params(value)["algorithm"] for _, value in headers] == [SHA_256, MD5]


def test_nonces_differ_within_one_millisecond() -> None:
    auth = authority()
    first = _params(auth.challenge(PROXY_CHALLENGE, T0)[0][1])["nonce"]
    second = _params(auth.challenge(PROXY_CHALLENGE, T0)[0][1])["nonce"]
    assert first != second


def test_nonce_is_bound_to_secret_and_realm() -> None:
    nonce = make_nonce(SECRET, REALM, T0, 7, 42)
    assert read_nonce(SECRET, REALM, nonce) == NonceStamp(int(T0 * 1000), 42)
    assert read_nonce(SECRET, "other.example", nonce) is None
    assert read_nonce(b"another secret of 32 bytes......", REALM, nonce) is None
    assert read_nonce(SECRET, REALM, nonce[:-1] + ("A" if nonce[-1] != "A" else "B")) is None
    assert read_nonce(SECRET, REALM, "not a nonce") is None


# --- verification -----------------------------------------------------------


def test_sip_register_exchange() -> None:
    auth = authority()
    uri = "sip:example.com"
    assert auth.check("REGISTER", uri, [], "192.0.2.1", T0) == Challenge(stale=False)
    for algorithm in supported_algorithms():
        headers = auth.challenge(REGISTRAR_CHALLENGE, T0)
        credentials = answer(
            by_algorithm(headers, algorithm), "REGISTER", uri, "alice", "wonderland"
        )
        outcome = auth.check("REGISTER", uri, [credentials], "192.0.2.1", T0 + 0.1)
        assert outcome == Authenticated("alice"), algorithm


def test_nonce_is_reused_with_increasing_counts() -> None:
    auth = authority()
    challenge = auth.challenge(PROXY_CHALLENGE, T0)[0]
    for nc in (1, 2, 5):
        credentials = answer(
            challenge, "INVITE", "sip:bob@example.com", "alice", "wonderland", nc=nc
        )
        outcome = auth.check("INVITE", "sip:bob@example.com", [credentials], "192.0.2.1", T0 + nc)
        assert outcome == Authenticated("alice")


def test_ha1_only_user_and_missing_algorithm() -> None:
    # bob has an MD5 HA1 only: MD5 works, SHA-256 cannot (and fails like a wrong password).
    auth = authority()
    headers = auth.challenge(REGISTRAR_CHALLENGE, T0)
    md5 = answer(by_algorithm(headers, MD5), "REGISTER", "sip:example.com", "bob", "builder")
    sha = answer(by_algorithm(headers, SHA_256), "REGISTER", "sip:example.com", "bob", "builder")
    assert auth.check("REGISTER", "sip:example.com", [md5], "192.0.2.1", T0) == Authenticated("bob")
    assert auth.check("REGISTER", "sip:example.com", [sha], "192.0.2.1", T0) == Challenge(False)


def test_missing_algorithm_parameter_means_md5() -> None:
    auth = authority()
    credentials = answer(
        by_algorithm(auth.challenge(PROXY_CHALLENGE, T0), MD5),
        "OPTIONS",
        "sip:example.com",
        "alice",
        "wonderland",
    )
    credentials = credentials.replace(", algorithm=MD5", "")
    outcome = auth.check("OPTIONS", "sip:example.com", [credentials], "192.0.2.1", T0)
    assert outcome == Authenticated("alice")


def test_credentials_for_another_realm_are_not_a_failure() -> None:
    auth = authority(AuthSettings(max_failures=1))
    foreign = answer(
        ("X", f'Digest realm="other.example", nonce="n", algorithm={MD5}'),
        "INVITE",
        "sip:bob@example.com",
        "alice",
        "wonderland",
    )
    outcome = auth.check("INVITE", "sip:bob@example.com", [foreign], "192.0.2.1", T0)
    assert outcome == Challenge(stale=False)
    assert auth.memory().failing_sources == 0
    # ... and ours is found among several values (RFC 3261 §22.3).
    ours = answer(
        auth.challenge(PROXY_CHALLENGE, T0)[0],
        "INVITE",
        "sip:bob@example.com",
        "alice",
        "wonderland",
    )
    outcome = auth.check("INVITE", "sip:bob@example.com", [foreign, ours], "192.0.2.1", T0)
    assert outcome == Authenticated("alice")


@pytest.mark.parametrize(
    ("method", "request_uri", "edit"),
    [
        ("INVITE", "sip:example.com", lambda c: c),  # wrong method (answered for REGISTER)
        ("REGISTER", "sip:other.example", lambda c: c),  # uri does not match the Request-URI
        ("REGISTER", "sip:example.com", lambda c: c.replace("qop=auth, ", "")),  # no qop
        ("REGISTER", "sip:example.com", lambda c: c.replace("nc=00000001", "nc=00000000")),
        ("REGISTER", "sip:example.com", lambda c: c.replace("nc=00000001", "nc=xyz")),
        ("REGISTER", "sip:example.com", lambda c: c.replace("=SHA-256", "=MD5-sess")),
        ("REGISTER", "sip:example.com", lambda c: re.sub(r'nonce="[^"]*"', 'nonce="forged"', c)),
    ],
)
def test_bad_answers_fail(method: str, request_uri: str, edit: Callable[[str], str]) -> None:
    auth = authority()
    challenge = by_algorithm(auth.challenge(REGISTRAR_CHALLENGE, T0), SHA_256)
    credentials = answer(challenge, "REGISTER", "sip:example.com", "alice", "wonderland")
    outcome = auth.check(method, request_uri, [edit(credentials)], "192.0.2.1", T0)
    assert outcome == Challenge(stale=False)
    assert auth.memory().failing_sources == 1


def test_equivalent_uri_spelling_is_accepted() -> None:
    # RFC 3261 §19.1.4: host case and parameter order do not change the resource.
    auth = authority()
    challenge = auth.challenge(PROXY_CHALLENGE, T0)[0]
    written = "sip:bob@EXAMPLE.com;transport=udp;user=phone"
    credentials = answer(challenge, "INVITE", written, "alice", "wonderland")
    outcome = auth.check(
        "INVITE", "sip:bob@example.com;user=phone;transport=UDP", [credentials], "192.0.2.1", T0
    )
    assert outcome == Authenticated("alice")


def test_response_hex_case_is_ignored() -> None:
    auth = authority()
    credentials = answer(
        auth.challenge(PROXY_CHALLENGE, T0)[0], "INVITE", "sip:b@example.com", "alice", "wonderland"
    )
    upper = re.sub(r'response="([^"]*)"', lambda m: f'response="{m.group(1).upper()}"', credentials)
    assert auth.check("INVITE", "sip:b@example.com", [upper], "192.0.2.1", T0) == Authenticated(
        "alice"
    )


# --- stale nonces and replays -----------------------------------------------


def test_nonce_goes_stale_after_its_lifetime() -> None:
    auth = authority(AuthSettings(nonce_lifetime=30.0))
    challenge = auth.challenge(REGISTRAR_CHALLENGE, T0)[0]
    uri = "sip:example.com"
    fresh = answer(challenge, "REGISTER", uri, "alice", "wonderland", nc=1)
    assert auth.check("REGISTER", uri, [fresh], "192.0.2.1", T0 + 29.9) == Authenticated("alice")
    late = answer(challenge, "REGISTER", uri, "alice", "wonderland", nc=2)
    assert auth.check("REGISTER", uri, [late], "192.0.2.1", T0 + 30.0) == Challenge(stale=True)
    # A wrong password with a stale nonce is not stale: it is a failure.
    wrong = answer(challenge, "REGISTER", uri, "alice", "guess", nc=3)
    assert auth.check("REGISTER", uri, [wrong], "192.0.2.1", T0 + 31.0) == Challenge(stale=False)
    # The client retries with the new nonce of a stale challenge.
    retry = answer(
        auth.challenge(REGISTRAR_CHALLENGE, T0 + 31.0, stale=True)[0],
        "REGISTER",
        uri,
        "alice",
        "wonderland",
    )
    assert auth.check("REGISTER", uri, [retry], "192.0.2.1", T0 + 31.0) == Authenticated("alice")


def test_a_nonce_another_process_issued_on_the_same_secret_is_stale() -> None:
    # Another proxy on the same store, or this one before a restart: the table
    # that counted the nonce's uses is not here, so a replay captured there could
    # not be told from a first use. Answered stale, a phone retries at once.
    issuing = authority()
    challenge = issuing.challenge(PROXY_CHALLENGE, T0)[0]
    credentials = answer(challenge, "INVITE", "sip:b@example.com", "alice", "wonderland")
    assert issuing.check("INVITE", "sip:b@example.com", [credentials], "192.0.2.1",
                         T0 + 1.0) == Authenticated("alice")
    other = authority()
    outcome = other.check("INVITE", "sip:b@example.com", [credentials], "192.0.2.1", T0 + 2.0)
    assert outcome == Challenge(stale=True)
    assert other.memory().failing_sources == 0  # no failure counted against the phone


@pytest.mark.parametrize("replayed_nc", [1, 2])
def test_replayed_nonce_count_is_refused(replayed_nc: int) -> None:
    auth = authority()
    challenge = auth.challenge(PROXY_CHALLENGE, T0)[0]
    uri = "sip:bob@example.com"
    second = answer(challenge, "INVITE", uri, "alice", "wonderland", nc=2)
    assert auth.check("INVITE", uri, [second], "192.0.2.1", T0) == Authenticated("alice")
    replay = answer(challenge, "INVITE", uri, "alice", "wonderland", nc=replayed_nc)
    assert auth.check("INVITE", uri, [replay], "192.0.2.9", T0 + 1) == Challenge(stale=True)
    # The replay proved nothing and guessed nothing: not counted against the source.
    assert auth.memory().failing_sources == 0


def test_a_wrong_answer_does_not_consume_a_nonce_count() -> None:
    auth = authority()
    challenge = auth.challenge(PROXY_CHALLENGE, T0)[0]
    uri = "sip:bob@example.com"
    wrong = answer(challenge, "INVITE", uri, "alice", "guess", nc=9)
    assert auth.check("INVITE", uri, [wrong], "192.0.2.1", T0) == Challenge(stale=False)
    right = answer(challenge, "INVITE", uri, "alice", "wonderland", nc=2)
    assert auth.check("INVITE", uri, [right], "192.0.2.1", T0) == Authenticated("alice")


# --- no user enumeration ----------------------------------------------------


def test_unknown_user_and_wrong_password_are_indistinguishable() -> None:
    auth = authority()
    uri = "sip:example.com"
    outcomes, challenges = [], []
    for username, password in (("alice", "guess"), ("mallory", "guess")):
        first = auth.challenge(REGISTRAR_CHALLENGE, T0)
        credentials = answer(first[0], "REGISTER", uri, username, password)
        outcome = auth.check("REGISTER", uri, [credentials], "192.0.2.1", T0)
        assert isinstance(outcome, Challenge)
        outcomes.append(outcome)
        again = auth.challenge(REGISTRAR_CHALLENGE, T0 + 1, stale=outcome.stale)
        challenges.append([(n, re.sub(r'nonce="[^"]*"', "", v)) for n, v in (*first, *again)])
    assert outcomes[0] == outcomes[1] == Challenge(stale=False)
    assert challenges[0] == challenges[1]
    assert REGISTRAR_CHALLENGE.status == 401  # the same status for both: the caller's one kind


# --- brute force --------------------------------------------------------------


def _fail(auth: DigestAuthority, source: str, now: float) -> object:
    challenge = auth.challenge(PROXY_CHALLENGE, now)[0]
    credentials = answer(challenge, "INVITE", "sip:b@example.com", "alice", "guess")
    return auth.check("INVITE", "sip:b@example.com", [credentials], source, now)


def test_blocked_after_n_failures_from_one_address_only() -> None:
    auth = authority(AuthSettings(max_failures=3, failure_window=60.0, block_for=120.0))
    assert _fail(auth, "192.0.2.66", T0) == Challenge(stale=False)
    assert _fail(auth, "192.0.2.66", T0 + 10) == Challenge(stale=False)
    assert _fail(auth, "192.0.2.66", T0 + 20) == Blocked(until=T0 + 140, first=True)
    # Blocked even with the right password, and without credentials; logged once.
    right = answer(
        auth.challenge(PROXY_CHALLENGE, T0 + 21)[0],
        "INVITE",
        "sip:b@example.com",
        "alice",
        "wonderland",
    )
    blocked = Blocked(until=T0 + 140, first=False)
    assert auth.check("INVITE", "sip:b@example.com", [right], "192.0.2.66", T0 + 21) == blocked
    assert auth.check("INVITE", "sip:b@example.com", [], "192.0.2.66", T0 + 22) == blocked
    # Another address is unaffected.
    assert auth.check("INVITE", "sip:b@example.com", [right], "192.0.2.7", T0 + 21) == (
        Authenticated("alice")
    )


def test_failures_outside_the_window_do_not_add_up() -> None:
    auth = authority(AuthSettings(max_failures=3, failure_window=60.0, block_for=120.0))
    for now in (T0, T0 + 30, T0 + 61, T0 + 90):
        assert _fail(auth, "192.0.2.66", now) == Challenge(stale=False)
    assert isinstance(_fail(auth, "192.0.2.66", T0 + 100), Blocked)


def test_block_ends_after_the_cool_down() -> None:
    auth = authority(AuthSettings(max_failures=2, failure_window=60.0, block_for=120.0))
    _fail(auth, "192.0.2.66", T0)
    assert _fail(auth, "192.0.2.66", T0 + 1) == Blocked(until=T0 + 121, first=True)
    right = answer(
        auth.challenge(PROXY_CHALLENGE, T0 + 121)[0],
        "INVITE",
        "sip:b@example.com",
        "alice",
        "wonderland",
    )
    assert isinstance(
        auth.check("INVITE", "sip:b@example.com", [right], "192.0.2.66", T0 + 120.9), Blocked
    )
    assert auth.check("INVITE", "sip:b@example.com", [right], "192.0.2.66", T0 + 121) == (
        Authenticated("alice")
    )
    # A fresh start: one failure does not block again.
    assert _fail(auth, "192.0.2.66", T0 + 122) == Challenge(stale=False)
    assert auth.memory().blocked_sources == 0


# --- bounded memory ---------------------------------------------------------


def test_failure_tables_stay_bounded() -> None:
    throttle = FailureThrottle(max_failures=2, window=60.0, block_for=120.0, limit=10)
    for index in range(100):
        throttle.record_failure(f"10.0.0.{index}", T0)
        assert throttle.failing_count <= 10
    for index in range(100):
        throttle.record_failure(f"10.0.1.{index}", T0)
        throttle.record_failure(f"10.0.1.{index}", T0)
        assert throttle.blocked_count <= 10
    assert throttle.blocked_until("10.0.1.99", T0) == T0 + 120
    # Closed windows and ended blocks are dropped as time passes.
    throttle.record_failure("10.9.9.9", T0 + 200)
    assert throttle.blocked_until("10.9.9.9", T0 + 200) is None
    assert (throttle.failing_count, throttle.blocked_count) == (1, 0)


def test_nonce_count_table_stays_bounded_and_expires() -> None:
    counts = NonceCounts(limit=3)
    for index in range(10):
        verdict = counts.accept(f"n{index}", 1, issued_ms=index, expires_ms=1000 + index, now_ms=10)
        assert verdict is CountVerdict.ACCEPTED
        assert len(counts) <= 3
    # n0..n6 were dropped to make room: reusing one could be a replay, so it is untracked.
    assert counts.accept("n2", 5, issued_ms=2, expires_ms=1002, now_ms=11) is CountVerdict.UNTRACKED
    # Nonces issued after the dropped ones are still tracked.
    assert (
        counts.accept("n10", 1, issued_ms=10, expires_ms=1010, now_ms=11) is CountVerdict.ACCEPTED
    )
    assert (
        counts.accept("n10", 1, issued_ms=10, expires_ms=1010, now_ms=11) is CountVerdict.REPLAYED
    )
    # Entries go when their nonce expires.
    counts.accept("n20", 1, issued_ms=2000, expires_ms=3000, now_ms=2000)
    assert len(counts) == 1


def test_authority_memory_is_bounded() -> None:
    settings = AuthSettings(max_tracked_nonces=5, max_tracked_sources=5, max_failures=100)
    auth = authority(settings)
    uri = "sip:example.com"
    for index in range(20):
        credentials = answer(
            auth.challenge(REGISTRAR_CHALLENGE, T0 + index)[0],
            "REGISTER",
            uri,
            "alice",
            "wonderland",
        )
        assert auth.check("REGISTER", uri, [credentials], "192.0.2.1", T0 + index) == (
            Authenticated("alice")
        )
        _fail(auth, f"198.51.100.{index}", T0 + index)
        memory = auth.memory()
        assert memory.nonces <= 5 and memory.failing_sources <= 5


# --- settings and the passwd command ----------------------------------------


def test_settings_refuse_unknown_algorithms() -> None:
    with pytest.raises(ValueError, match="unsupported"):
        AuthSettings(algorithms=("MD5-sess",))
    with pytest.raises(ValueError, match="at least 16 bytes"):
        DigestAuthority(REALM, b"short", {}, AuthSettings())


def test_passwd_prints_the_ha1_block(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{RFC_PASSWORD}\n"))
    assert main(["passwd", RFC_USER, "--realm", RFC_REALM]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "ha1:"
    assert "  md5: 3d78807defe7de2157e2b0b6573a855f" in lines  # MD5(Mufasa:realm:Circle of Life)
    assert len(lines) == 1 + len(supported_algorithms())
