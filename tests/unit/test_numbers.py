"""Phone number normalisation: one number, however it is written."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proxy.policy.numbers import is_country_code, normalize_number, normalize_user


@pytest.mark.parametrize(
    ("text", "country_code", "expected"),
    [
        # The three spellings of one number.
        ("+1 (415) 555-0199", "1", "+14155550199"),
        ("14155550199", "1", "+14155550199"),
        ("4155550199", "1", "+14155550199"),
        # Visual separators of RFC 3966 §5.1.1 and white space.
        ("+1.415.555.0199", "1", "+14155550199"),
        ("(415) 555 0199", "1", "+14155550199"),
        ("+1-415-555-0199", "1", "+14155550199"),
        # Parameters after the number are not part of it (RFC 3966 §5.1.4-5).
        ("+1-415-555-0199;phone-context=example.com", "1", "+14155550199"),
        ("4155550199;isub=12", "1", "+14155550199"),
        # Short internal extensions stay as they are.
        ("1000", "1", "1000"),
        ("911", "1", "911"),
        ("123456", "44", "123456"),
        ("10-00", "1", "1000"),
        # Seven digits is no longer an extension: the country code is prepended.
        ("5550199", "1", "+15550199"),
        # Another country: a trunk 0 is dropped, the code already present is kept.
        ("020 7946 0000", "44", "+442079460000"),
        ("2079460000", "44", "+442079460000"),
        ("442079460000", "44", "+442079460000"),
        ("+44 20 7946 0000", "1", "+442079460000"),
        # E.164 allows 15 digits at most.
        ("+123456789012345", "1", "+123456789012345"),
    ],
)
def test_normalize_number(text: str, country_code: str, expected: str) -> None:
    assert normalize_number(text, country_code) == expected


@pytest.mark.parametrize(
    "text",
    ["alice", "", "+", "*97", "+1 415 555 01 99x", "+1234567890123456", "1234567890123456", "1+2"],
)
def test_not_a_number(text: str) -> None:
    assert normalize_number(text, "1") is None


def test_country_code_changes_the_result() -> None:
    assert normalize_number("4155550199", "1") == "+14155550199"
    assert normalize_number("4155550199", "49") == "+494155550199"


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ("+1-415-555-0199;phone-context=example.com", "+14155550199"),
        ("4155550199", "+14155550199"),
        ("1000", "1000"),
        ("alice", "alice"),
        ("anonymous", "anonymous"),
    ],
)
def test_normalize_user(user: str, expected: str) -> None:
    assert normalize_user(user, "1") == expected


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("1", True),
        ("44", True),
        ("353", True),
        ("0", False),
        ("1234", False),
        ("+1", False),
        ("", False),
        ("4a", False),
    ],
)
def test_is_country_code(text: str, valid: bool) -> None:
    assert is_country_code(text) is valid


@given(st.from_regex(r"\+?[0-9 ().\-]{1,20}", fullmatch=True))
def test_normalisation_is_idempotent(text: str) -> None:
    """A normalised number normalises to itself, so keys can be normalised twice."""
    number = normalize_number(text, "1")
    if number is not None:
        assert normalize_number(number, "1") == number
