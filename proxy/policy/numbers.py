"""Phone numbers as lookup keys: E.164 for public numbers, digits for extensions.

The same number reaches the proxy written many ways (``+1 (415) 555-0199``,
``14155550199``, ``4155550199``, ``tel:+1-415-555-0199``), and the directory must
see one number. The rule, applied to a number with its ``;parameters`` removed
(``;phone-context``, ``;isub``: RFC 3966 §5.1.4-§5.1.5) and its visual separators
removed (``-``, ``.``, ``(``, ``)`` per RFC 3966 §5.1.1, and white space):

1. ``+`` followed by 1 to 15 digits is already E.164 (ITU-T E.164 allows at most
   15 digits): ``+<digits>``.
2. Without ``+``, fewer than 7 digits is a short internal extension and stays as
   it is (``1000`` -> ``1000``): extensions are not public numbers and have no
   country code.
3. Otherwise the number is national or international without the ``+``, read
   with the default country code ``cc``:
   - a leading ``0`` is a trunk prefix (most of Europe): it is dropped and ``cc``
     prepended (``020 7946 0000`` with ``44`` -> ``+442079460000``);
   - digits that already start with ``cc`` and have 11 or more digits carry the
     country code (``14155550199`` with ``1`` -> ``+14155550199``);
   - anything else gets ``cc`` prepended (``4155550199`` -> ``+14155550199``).
   The result must still have at most 15 digits.

Anything else (a name such as ``alice``, ``*97``, too many digits) is not a phone
number. This is a heuristic for matching the directory, not a numbering-plan
database: international access prefixes (``00``, ``011``) are not recognised and
countries that keep the ``0`` in international form (Italy) must be written with
``+``.
"""

from __future__ import annotations

import re

MAX_EXTENSION_DIGITS = 6  # rule 2: "1000" is an extension, "5550199" is not
_MAX_E164_DIGITS = 15  # ITU-T E.164 §6
_MIN_DIGITS_WITH_COUNTRY_CODE = 11  # rule 3: "14155550199" carries the code, "4155550199" not
_VISUAL_SEPARATORS = re.compile(r"[\s\-.()]")
_DIGITS = re.compile(r"^(\+?)([0-9]+)$")
_COUNTRY_CODE = re.compile(r"^[1-9][0-9]{0,2}$")


def is_country_code(text: str) -> bool:
    """True for 1 to 3 digits not starting with 0 (ITU-T E.164 country codes)."""
    return _COUNTRY_CODE.match(text) is not None


def normalize_number(text: str, default_country_code: str) -> str | None:
    """The number as ``+<E.164 digits>`` or as extension digits; None if not a number.

    >>> normalize_number("+1 (415) 555-0199", "1")
    '+14155550199'
    >>> normalize_number("1000", "1")
    '1000'
    """
    match = _DIGITS.match(_VISUAL_SEPARATORS.sub("", text.split(";", 1)[0]))
    if match is None:
        return None
    plus, digits = match.groups()
    if not plus:
        if len(digits) <= MAX_EXTENSION_DIGITS:
            return digits
        digits = _with_country_code(digits, default_country_code)
    if len(digits) > _MAX_E164_DIGITS:
        return None
    return "+" + digits


def normalize_user(user: str, default_country_code: str) -> str:
    """The user part of a SIP or TEL URI as a directory key.

    Phone numbers are normalised (``+1-415-555-0199;phone-context=example.com`` ->
    ``+14155550199``); any other user (``alice``) is returned unchanged.
    """
    return normalize_number(user, default_country_code) or user


def _with_country_code(digits: str, country_code: str) -> str:
    """Rule 3 of the module docstring: national or international digits -> E.164 digits."""
    if digits.startswith("0"):
        return country_code + digits[1:]
    if digits.startswith(country_code) and len(digits) >= _MIN_DIGITS_WITH_COUNTRY_CODE:
        return digits
    return country_code + digits
