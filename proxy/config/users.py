"""The ``users`` section: everybody with a line or a phone.

Shape of one entry::

    alice:
      name: Alice Chen                      # optional; the id when absent
      lines: ["+14155550100", "1000"]       # numbers, normalised to E.164
      endpoints: ["sip:alice@127.0.0.10:5060", registered]
      auth: {username: alice, password: "${ALICE_SIP_PASSWORD}"}   # optional
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator, model_validator

from proxy.config.addresses import REGISTERED, Email, Endpoint, HexDigest, PhoneNumber
from proxy.config.checks import (
    EnvText,
    Section,
    Text,
    at_least_one,
    fail,
    min_items,
    problems_at,
)


class Ha1(Section):
    """Precomputed HA1 values (RFC 7616 §3.4.2), one per digest algorithm, so the
    password itself need not be stored. At least one is needed."""

    md5: Annotated[str | None, HexDigest(32), Field(description="MD5(user:realm:password)")] = (
        None
    )
    sha_256: Annotated[
        str | None, HexDigest(64), Field(alias="sha-256", description="SHA-256 HA1")
    ] = None
    sha_512_256: Annotated[
        str | None, HexDigest(64), Field(alias="sha-512-256", description="SHA-512-256 HA1")
    ] = None

    @model_validator(mode="after")
    def _at_least_one(self) -> Ha1:
        if self.md5 is None and self.sha_256 is None and self.sha_512_256 is None:
            raise fail("needs at least one of: md5, sha-256, sha-512-256")
        return self

    def by_algorithm(self) -> dict[str, str]:
        """Algorithm name as in RFC 8760 (``MD5``, ``SHA-256``, ...) -> HA1."""
        named = {"MD5": self.md5, "SHA-256": self.sha_256, "SHA-512-256": self.sha_512_256}
        return {name: value for name, value in named.items() if value is not None}


class UserAuth(Section):
    """How the user's phones authenticate (digest, RFC 7616): a password, or its
    precomputed HA1 values. ``${VAR}`` in a value is read from the environment."""

    username: Annotated[
        str | None, EnvText(), Field(description="the digest username; the user's id if absent")
    ] = None
    password: Annotated[str | None, EnvText(), Field(description="the password")] = None
    ha1: Annotated[Ha1 | None, Field(description="precomputed HA1 values instead of a password")
                   ] = None

    @model_validator(mode="after")
    def _password_or_ha1(self) -> UserAuth:
        if (self.password is None) == (self.ha1 is None):
            raise fail("needs exactly one of: password, ha1")
        return self


class User(Section):
    name: Annotated[str | None, Text(), Field(description="the user's name; the id if absent")
                    ] = None
    lines: Annotated[
        tuple[Annotated[str, PhoneNumber()], ...],
        Field(description="the user's numbers (shared lines): phone numbers or extensions"),
    ] = ()
    endpoints: Annotated[
        tuple[Annotated[str, Endpoint()], ...],
        at_least_one("endpoint"),
        Field(
            description="a list of sip: URIs where the user's phones ring, or registered",
            json_schema_extra=min_items(1),
        ),
    ]
    auth: Annotated[UserAuth | None, Field(description="digest credentials of the phones")] = None
    email: Annotated[
        str, Email(), Field(description="where the user's notifications (invitations) go")
    ] = ""

    @model_validator(mode="after")
    def _registering_needs_credentials(self) -> User:
        # Only digest credentials prove a REGISTER comes from the user's phone; the
        # address it comes from proves nothing (RFC 3261 §10.3 step 3, §22).
        if REGISTERED in self.endpoints and self.auth is None:
            raise problems_at([(("endpoints",), f"'{REGISTERED}' needs the user's auth "
                                "(password or ha1): a phone registers with its "
                                "credentials")])
        return self

    @field_validator("lines")
    @classmethod
    def _lines_once(cls, lines: tuple[str, ...]) -> tuple[str, ...]:
        """A number written twice (in any format) is a mistake; between users the
        rule is in ``proxy.config.document``, here it holds even if another user
        has a problem."""
        twice = [
            ((index,), f"{number} is already a line of this user; lines are unique")
            for index, number in enumerate(lines)
            if number in lines[:index]
        ]
        if twice:
            raise problems_at(twice)
        return lines
