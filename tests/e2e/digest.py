"""Digest authentication as a phone does it (RFC 7616, RFC 8760), with hashlib only.

The tests compute credentials independently of ``proxy.auth``: what the proxy
accepts must be what a standard client computes from the challenge it got.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from .sip_trace import TracedMessage

# RFC 8760 §2: the algorithms registered for SIP and the hash behind each.
HASHLIB_NAMES = {"MD5": "md5", "SHA-256": "sha256", "SHA-512-256": "sha512_256"}
_PARAM = re.compile(r'([!#$%&\'*+\-.^_`|~0-9A-Za-z]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]+))')


@dataclass(frozen=True)
class DigestChallenge:
    """One ``WWW-Authenticate`` or ``Proxy-Authenticate`` value."""

    value: str
    params: dict[str, str]  # names lower-cased, values unquoted

    @property
    def algorithm(self) -> str:
        """RFC 7616 §3.3: absent means MD5."""
        return self.params.get("algorithm", "MD5").upper()

    def without_nonce(self) -> str:
        """The value with the nonce blanked: what two challenges share if nothing leaks."""
        return re.sub(r'nonce="[^"]*"', 'nonce="*"', self.value)


def parse_challenge(value: str) -> DigestChallenge:
    """A Digest challenge value; fails the test if it is not one."""
    scheme, _, rest = value.strip().partition(" ")
    assert scheme.lower() == "digest", f"not a Digest challenge: {value!r}"
    params = {m[1].lower(): m[2] if m[2] is not None else m[3] for m in _PARAM.finditer(rest)}
    return DigestChallenge(value.strip(), params)


def challenges(message: TracedMessage, header: str = "WWW-Authenticate") -> list[DigestChallenge]:
    """Every challenge of a 401 (or, with ``Proxy-Authenticate``, a 407), in order."""
    return [parse_challenge(value) for value in message.header_lines(header)]


def offered(message: TracedMessage, algorithm: str, header: str = "WWW-Authenticate"
            ) -> DigestChallenge:
    """The challenge of ``message`` for ``algorithm``; fails if none is offered."""
    found = [c for c in challenges(message, header) if c.algorithm == algorithm.upper()]
    assert found, f"no {header} with algorithm={algorithm}:\n{message.text}"
    return found[0]


def _hash(algorithm: str, text: str) -> str:
    return hashlib.new(HASHLIB_NAMES[algorithm.upper()], text.encode()).hexdigest()


def credentials(
    challenge: DigestChallenge,
    *,
    username: str,
    password: str,
    method: str,
    uri: str,
    nc: int = 1,
    cnonce: str = "0a4f113b",
) -> str:
    """The Authorization (or Proxy-Authorization) value answering ``challenge``
    with qop=auth (RFC 7616 §3.4.1): response = KD(HA1, nonce:nc:cnonce:qop:HA2)."""
    algorithm, realm, nonce = challenge.algorithm, challenge.params["realm"], challenge.params[
        "nonce"]
    count = f"{nc:08x}"
    ha1 = _hash(algorithm, f"{username}:{realm}:{password}")
    ha2 = _hash(algorithm, f"{method}:{uri}")
    response = _hash(algorithm, f"{ha1}:{nonce}:{count}:{cnonce}:auth:{ha2}")
    return (
        f'Digest username="{username}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
        f'response="{response}", algorithm={algorithm}, qop=auth, nc={count}, '
        f'cnonce="{cnonce}"'
    )
