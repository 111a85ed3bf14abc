"""Digest hash algorithms and the response computation (RFC 7616 §3.4.1-§3.4.3).

Only the non-session algorithms are supported: ``MD5``, ``SHA-256`` and, where
the Python build has the real FIPS 180-4 SHA-512/256, ``SHA-512-256``
(RFC 8760 §2.2 registers the three for SIP). The ``-sess`` variants are
neither offered nor accepted: a client must answer with an algorithm the
challenge offered (RFC 7616 §3.4: "the values of the opaque and algorithm
fields must be those supplied in the WWW-Authenticate response header field").
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

MD5 = "MD5"
SHA_256 = "SHA-256"
SHA_512_256 = "SHA-512-256"

# FIPS 180-4 / NIST example: SHA-512/256("abc"). A build that maps the name to a
# truncated SHA-512 (different initial values) gives another digest; refuse it.
_SHA512_256_OF_ABC = "53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23"


def _encode(text: str) -> bytes:
    # RFC 7616 §4: usernames and passwords are UTF-8; header text decoded with
    # surrogateescape (proxy.sip.message) gets its original bytes back.
    return text.encode("utf-8", "surrogateescape")


@dataclass(frozen=True, slots=True)
class DigestAlgorithm:
    """One ``algorithm=`` value and the hash behind it (RFC 7616 §3.2 H)."""

    name: str  # as written in the algorithm parameter (IANA registry spelling)
    hashlib_name: str

    def hash(self, text: str) -> str:
        """H(data): the lower-case hex digest of the UTF-8 text (RFC 7616 §3.3)."""
        return hashlib.new(self.hashlib_name, _encode(text)).hexdigest()

    @property
    def hex_length(self) -> int:
        """Length of a digest in hex characters."""
        return hashlib.new(self.hashlib_name).digest_size * 2

    def keyed(self, secret: str, data: str) -> str:
        """KD(secret, data) = H(concat(secret, ":", data)) (RFC 7616 §3.4.1)."""
        return self.hash(f"{secret}:{data}")

    def ha1(self, username: str, realm: str, password: str) -> str:
        """HA1 = H(username ":" realm ":" passwd) (RFC 7616 §3.4.2, non-session)."""
        return self.hash(f"{username}:{realm}:{password}")


def _has_real_sha512_256() -> bool:
    if "sha512_256" not in hashlib.algorithms_available:
        return False
    try:
        return hashlib.new("sha512_256", b"abc").hexdigest() == _SHA512_256_OF_ABC
    except ValueError:  # listed but refused (e.g. a FIPS provider policy)
        return False


def _available() -> dict[str, DigestAlgorithm]:
    # Strongest first: the order challenges are offered in by default (RFC 8760
    # §2.4: one header field per algorithm, the most preferred at the top).
    found = [DigestAlgorithm(SHA_256, "sha256"), DigestAlgorithm(MD5, "md5")]
    if _has_real_sha512_256():
        found.insert(0, DigestAlgorithm(SHA_512_256, "sha512_256"))
    return {algorithm.name: algorithm for algorithm in found}


_ALGORITHMS = _available()


def supported_algorithms() -> tuple[str, ...]:
    """The algorithm names this build can verify, most preferred first."""
    return tuple(_ALGORITHMS)


def algorithm_named(name: str) -> DigestAlgorithm | None:
    """The algorithm for an ``algorithm=`` value (case-insensitive), or None."""
    wanted = name.upper()
    return next((item for key, item in _ALGORITHMS.items() if key == wanted), None)


def ha1_values(
    username: str, realm: str, password: str, algorithms: Iterable[str] | None = None
) -> dict[str, str]:
    """HA1 per algorithm name, for storing instead of the password (RFC 7616 §3.4.2).

    ``algorithms`` defaults to every supported one. Used by ``vipproxy passwd``.
    """
    names = supported_algorithms() if algorithms is None else tuple(algorithms)
    values: dict[str, str] = {}
    for name in names:
        algorithm = algorithm_named(name)
        if algorithm is None:
            raise ValueError(f"unsupported digest algorithm {name!r}")
        values[algorithm.name] = algorithm.ha1(username, realm, password)
    return values


def digest_response(
    algorithm: DigestAlgorithm,
    ha1: str,
    method: str,
    digest_uri: str,
    *,
    nonce: str,
    nc: str,
    cnonce: str,
    qop: str = "auth",
) -> str:
    """The expected ``response`` for qop=auth (RFC 7616 §3.4.1):
    KD(HA1, nonce ":" nc ":" cnonce ":" qop ":" HA2), with HA2 = H(method ":" uri)
    (§3.4.3; RFC 3261 §22.4: the method is the request's, the uri its Request-URI).
    ``qop`` is hashed as the client wrote it.
    """
    ha2 = algorithm.hash(f"{method}:{digest_uri}")
    return algorithm.keyed(ha1, f"{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
