"""Semicolon parameters shared by URIs, Via and name-addr headers (RFC 3261 §25.1)."""

from __future__ import annotations

import re

from proxy.sip.errors import SipParseError
from proxy.sip.headers import split_unquoted

Params = tuple[tuple[str, str | None], ...]

# Header parameter names are tokens; URI parameter names (pname) may also carry
# "[]/:&$()" and %HH escapes (RFC 3261 §25.1 paramchar). One set serves both.
_PARAM_NAME = re.compile(r"[A-Za-z0-9\-.!%*_+`'~\[\]/:&$()]+")


def parse_params(text: str) -> Params:
    """Parse the parameters after a first ``;``: ``a=1;b;c="x"``. Names are kept as written.

    Whitespace around ``;`` and ``=`` is allowed (SEMI, EQUAL are SWS-padded). An
    empty parameter (``;;`` or a trailing ``;``) or a malformed name raises
    :class:`SipParseError`.
    """
    params: list[tuple[str, str | None]] = []
    for part in _split_outside_quotes(text):
        name, equals, value = part.partition("=")
        name = name.strip()
        if _PARAM_NAME.fullmatch(name) is None:
            raise SipParseError(f"Malformed parameter: {part.strip()[:40]!r}")
        params.append((name, value.strip() if equals else None))
    return tuple(params)


# RFC 3261 §25.1: qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
_QVALUE = re.compile(r"0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?")


def q_value(text: str) -> float | None:
    """A ``q`` parameter's value (a Contact's preference, an Accept range's weight);
    None when it is not a qvalue."""
    return float(text) if _QVALUE.fullmatch(text.strip()) else None


def format_params(params: Params) -> str:
    """Render parameters back as ``;name=value;flag``."""
    return "".join(f";{name}" if value is None else f";{name}={value}" for name, value in params)


def find_param(params: Params, name: str) -> str | None:
    """Value of parameter ``name`` (case-insensitive); "" for a flag like ``;lr``."""
    lowered = name.lower()
    for param_name, value in params:
        if param_name.lower() == lowered:
            return "" if value is None else value
    return None


def with_param(params: Params, name: str, value: str | None) -> Params:
    """Set ``name`` to ``value``, replacing an existing one in place or appending."""
    lowered = name.lower()
    for index, (param_name, _) in enumerate(params):
        if param_name.lower() == lowered:
            return (*params[:index], (param_name, value), *params[index + 1 :])
    return (*params, (name, value))


def _split_outside_quotes(text: str) -> list[str]:
    """Split at ";" except inside quoted strings (which may hold escaped quotes)."""
    if '"' not in text:
        return text.split(";")
    parts, balanced = split_unquoted(text, ";")
    if not balanced:
        raise SipParseError(f"Unclosed quote in parameters: {text[:40]!r}")
    return parts
