"""The ``outbound`` section: where calls to numbers outside the directory go.

Shape (a list; the first row that matches wins)::

    outbound:
      - {pattern: "^\\\\+44\\\\d{10}$", gateway: "sip:10.0.0.6:5060"}  # UK numbers
      - {prefix: "+1", gateway: "sip:10.0.0.5:5060"}                 # North America
      - {prefix: "+", gateway: "sip:10.0.0.5:5060"}                  # any other E.164

A row has a ``prefix`` or a ``pattern`` (a regular expression searched in the
number: anchor it with ^ and $), never both. Both see the called number
normalised as everywhere else (``+14155550199``; a short extension as its
digits), so a prefix for the US is ``+1``, not ``1``. A gateway is a ``sip:``
URI with an IP address or a host name (resolved as RFC 3263 says) and no user
part; it is a trusted peer (RFC 3325 §2) without being listed under
``trusted_peers``: by its IP here, by the addresses its name resolves to in
``proxy.policy.trust``.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from proxy.config.addresses import sip_target
from proxy.config.checks import Check, Section, fail, text_of
from proxy.config.context import ConfigContext
from proxy.policy.directory import IpNetwork
from proxy.policy.outbound import OutboundRule
from proxy.sip.hop import host_name
from proxy.sip.uri import SipUri, parse_uri

_PREFIX = re.compile(r"^\+?[0-9]*$")
_SEPARATORS = re.compile(r"[\s\-.()]")  # RFC 3966 §5.1.1 visual separators, as in numbers
_GATEWAY_HINT = ("must be a sip: URI with an IP address or a host name and no user, such as"
                 " sip:10.0.0.5:5060 or sip:pbx.example.com")


class Prefix(Check):
    """The start of a normalised number: ``+`` and digits (separators allowed)."""

    def check(self, value: object, context: ConfigContext) -> str:
        text = text_of(value)
        prefix = _SEPARATORS.sub("", text)
        if not prefix or not _PREFIX.match(prefix):
            raise fail(
                f"{text!r} is not a number prefix; allowed: + and digits as numbers are"
                " normalised (+1 for North America, +44 for the UK, 9 for extensions 9xxx)"
            )
        return prefix


class Pattern(Check):
    """A Python regular expression."""

    def check(self, value: object, context: ConfigContext) -> str:
        text = text_of(value)
        try:
            re.compile(text)
        except re.error as error:
            raise fail(f"{text!r} is not a regular expression ({error})") from None
        return text


class Gateway(Check):
    """A PBX or trunk: where the call goes, with the number as the user part."""

    def check(self, value: object, context: ConfigContext) -> str:
        text = text_of(value)
        try:
            target = sip_target(text)
        except PydanticCustomError as error:
            raise fail(f"{_GATEWAY_HINT}: {error.message()}") from None
        uri = parse_uri(target)
        if isinstance(uri, SipUri) and uri.user is not None:
            raise fail(f"{_GATEWAY_HINT}; the called number becomes the user")
        return target


_ONE_OF = "write either a prefix or a pattern (first match wins), not both"


class OutboundRoute(Section):
    """One row: the numbers it takes and the gateway they go to."""

    prefix: Annotated[
        str | None, Prefix(),
        Field(description="the normalised number starts with this (+1, +44, 9)"),
    ] = None
    pattern: Annotated[
        str | None, Pattern(),
        Field(description="a regular expression searched in the normalised number"),
    ] = None
    gateway: Annotated[
        str, Gateway(),
        Field(description="sip:HOST[:PORT] of the PBX or trunk (a trusted peer), no user part;"
                          " HOST an IP or a name resolved by NAPTR, SRV, A/AAAA"),
    ]

    @model_validator(mode="after")
    def _prefix_or_pattern(self) -> OutboundRoute:
        if (self.prefix is None) == (self.pattern is None):
            raise fail(_ONE_OF)
        return self

    def rule(self, index: int) -> OutboundRule:
        pattern = re.compile(self.pattern) if self.pattern is not None else None
        return OutboundRule(index, self.gateway, self.prefix, pattern)

    def network(self) -> IpNetwork | None:
        """The gateway's address as a trusted peer network (one address); None for a
        host name, whose addresses the trust model learns from the resolver."""
        uri = parse_uri(self.gateway)
        assert isinstance(uri, SipUri)  # checked by Gateway
        if host_name(uri) is not None:
            return None
        return ipaddress.ip_network(uri.host.removeprefix("[").removesuffix("]"))
