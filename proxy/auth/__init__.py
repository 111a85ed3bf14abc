"""SIP digest authentication (RFC 3261 §22, RFC 7616, RFC 8760), pure.

:class:`DigestAuthority` makes challenges and judges credentials; time is passed
in and nothing here does I/O. See :mod:`proxy.auth.digest`.
"""

from proxy.auth.algorithms import MD5, SHA_256, SHA_512_256, ha1_values, supported_algorithms
from proxy.auth.digest import (
    PROXY_CHALLENGE,
    REGISTRAR_CHALLENGE,
    Authenticated,
    AuthMemory,
    AuthOutcome,
    AuthSettings,
    Blocked,
    Challenge,
    ChallengeKind,
    DigestAuthority,
    UserSecret,
)

__all__ = [
    "MD5",
    "PROXY_CHALLENGE",
    "REGISTRAR_CHALLENGE",
    "SHA_256",
    "SHA_512_256",
    "AuthMemory",
    "AuthOutcome",
    "AuthSettings",
    "Authenticated",
    "Blocked",
    "Challenge",
    "ChallengeKind",
    "DigestAuthority",
    "UserSecret",
    "ha1_values",
    "supported_algorithms",
]
