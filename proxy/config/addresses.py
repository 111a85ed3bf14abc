"""Checks for the addresses and names in the file: SIP URIs, phone numbers, IP
networks, host names, user ids, e-mail addresses, database URLs."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import ClassVar
from urllib.parse import SplitResult, urlsplit

from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError

from proxy.config.checks import TEXT_SCHEMA, Check, expand_env, fail, kind, text_of
from proxy.config.context import ConfigContext
from proxy.policy.directory import IpNetwork
from proxy.policy.numbers import MAX_EXTENSION_DIGITS, is_country_code, normalize_number
from proxy.sip.errors import SipParseError
from proxy.sip.hop import host_name, sendable_transport
from proxy.sip.uri import SipUri, parse_uri

REGISTERED = "registered"  # an endpoint: wherever the user's phones register
_SIP_HINT = ("must be a sip: URI with an IP address or a host name, such as"
             " sip:alice@127.0.0.10:5060 or sip:pbx.example.com")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")  # RFC 1123 §2.1
_ROUTE_USER = re.compile(r'^[^\s@;:<>"]+$')  # a non-number route: a plain SIP user part
_STORE_SCHEMES = ("sqlite+aiosqlite", "postgresql+asyncpg")


def sip_target(text: str) -> str:
    """A ``sip:`` URI the proxy can send an INVITE to, as written."""
    try:
        uri = parse_uri(text)
    except SipParseError as error:
        raise fail(f"{_SIP_HINT} ({error.reason})") from None
    if not isinstance(uri, SipUri):
        raise fail(f"{_SIP_HINT}; a tel: URI names a number, not where to send the call")
    try:
        # The same check the proxy makes when it sends: UDP or TCP, no TLS.
        sendable_transport(uri)
    except SipParseError as error:
        raise fail(f"{_SIP_HINT}; {error.reason}") from None
    name = host_name(uri)
    if name is not None and not is_host_name(name.host):
        raise fail(f"{_SIP_HINT}; {name.host!r} is neither an IP address nor a host name")
    return text.strip()


def is_host_name(text: str) -> bool:
    """RFC 1123 §2.1: dot-separated labels of letters, digits and inner hyphens."""
    labels = text.removesuffix(".").split(".")
    return len(text) <= 253 and all(_HOST_LABEL.match(label) for label in labels)


class SipTarget(Check):
    schema: ClassVar[JsonSchemaValue] = {"type": "string", "pattern": "^\\s*sip:"}

    def check(self, value: object, context: ConfigContext) -> str:
        return sip_target(text_of(value))


class Endpoint(Check):
    """Where a user's phone rings: a static ``sip:`` URI, or ``registered`` for the
    addresses the user's phones register (RFC 3261 §10)."""

    def check(self, value: object, context: ConfigContext) -> str:
        text = text_of(value)
        if text.strip() == REGISTERED:
            return REGISTERED
        try:
            return sip_target(text)
        except PydanticCustomError as error:
            raise fail(
                f"{error.message()}, or {REGISTERED} (the phones the user registers)"
            ) from None

    def json_schema(self) -> JsonSchemaValue:
        return {"anyOf": [{"const": REGISTERED}, SipTarget.schema]}


class PhoneNumber(Check):
    """A phone number, normalised to E.164 with the file's country code, or a short
    extension's digits (``proxy.policy.numbers``)."""

    schema = TEXT_SCHEMA

    def check(self, value: object, context: ConfigContext) -> str:
        text = text_of(value)
        number = normalize_number(text, context.country_code)
        if number is None:
            raise fail(
                f"{text!r} is not a phone number; allowed: digits with an optional leading +"
                f" and separators (spaces - . ( )), up to 15 digits, or an extension of up to"
                f" {MAX_EXTENSION_DIGITS} digits"
            )
        return number


@dataclass(frozen=True, slots=True)
class ContactNumber:
    """One of a VIP contact's numbers, normalised as ``PhoneNumber`` reads it, and
    what it is (``mobile``, ``office``; empty when not said)."""

    number: str
    label: str = ""


class LabelledPhoneNumber(Check):
    """A VIP contact's number: a phone number, or ``{number: ..., label: mobile}``
    to say which of the contact's numbers it is."""

    schema: ClassVar[JsonSchemaValue] = {"oneOf": [
        TEXT_SCHEMA,
        {"type": "object", "required": ["number"], "additionalProperties": False,
         "properties": {"number": TEXT_SCHEMA, "label": {"type": "string"}}},
    ]}

    def check(self, value: object, context: ConfigContext) -> ContactNumber:
        if not isinstance(value, dict):
            return ContactNumber(PhoneNumber().check(value, context))
        unknown = sorted(str(key) for key in value if key not in ("number", "label"))
        if unknown:
            raise fail(f"unknown key {unknown[0]!r}; allowed: label, number")
        if "number" not in value:
            raise fail("number is required: the phone number (label says what it is)")
        label = value.get("label", "")
        if not isinstance(label, str):
            raise fail(f"label must be a string, got {kind(label)}")
        return ContactNumber(PhoneNumber().check(value["number"], context), label)


class CountryCode(Check):
    schema: ClassVar[JsonSchemaValue] = {**TEXT_SCHEMA, "pattern": "^[1-9][0-9]{0,2}$"}

    def check(self, value: object, context: ConfigContext) -> str:
        code = text_of(value)
        if not is_country_code(code):
            raise fail(
                f"{code!r} is not a country code; allowed: 1 to 3 digits without +,"
                " such as 1 or 44"
            )
        return code


class Network(Check):
    """An IP address or a network in CIDR notation, without host bits."""

    def check(self, value: object, context: ConfigContext) -> IpNetwork:
        text = text_of(value)
        try:
            return ipaddress.ip_network(text.strip())
        except ValueError as error:
            raise fail(
                f"must be an IP address or network such as 192.0.2.7 or 10.0.0.0/24 ({error})"
            ) from None


class IpHost(Check):
    """An IPv4 or IPv6 literal (IPv6 without brackets)."""

    def check(self, value: object, context: ConfigContext) -> str:
        host = text_of(value)
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise fail(f"{host!r} is not an IP address; allowed: IPv4 or IPv6 literal") from None
        return host


class SocketAddress(Check):
    """An IP address and an optional port, ``127.0.0.1:5353`` or ``[::1]:5353``; read
    as (host, port). ``what`` names the kind of address in errors (a DNS server)."""

    schema: ClassVar[JsonSchemaValue] = TEXT_SCHEMA

    def __init__(self, what: str, default_port: int) -> None:
        self.what, self.default_port = what, default_port

    def check(self, value: object, context: ConfigContext) -> tuple[str, int]:
        text = text_of(value).strip()
        host, port = text, str(self.default_port)
        if text.startswith("["):
            host, _, rest = text[1:].partition("]")
            port = rest.removeprefix(":") or port
        elif text.count(":") == 1:
            host, port = text.split(":")
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise fail(f"{text!r} is not {self.what}; allowed: an IP address with an"
                       f" optional port ({self.default_port}), such as 127.0.0.1:5353 or"
                       " [::1]:53") from None
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise fail(f"{port!r} is not a port; allowed: 1 to 65535")
        return host, int(port)


class Domain(Check):
    """A host name (RFC 1123) or an IP address: the proxy's SIP domain."""

    def check(self, value: object, context: ConfigContext) -> str:
        text = text_of(value).strip()
        try:
            ipaddress.ip_address(text.removeprefix("[").removesuffix("]"))
            return text
        except ValueError:
            pass
        if not is_host_name(text):
            raise fail(
                f"{text!r} is not a host name or IP address; allowed: such as"
                " example.com or 192.0.2.7"
            )
        return text.lower()


class Email(Check):
    def check(self, value: object, context: ConfigContext) -> str:
        text = text_of(value)
        if text and not _EMAIL.match(text):
            raise fail("must be an email address such as carol@acme.example")
        return text


class HttpUrl(Check):
    """An ``http://`` or ``https://`` URL with a host."""

    def check(self, value: object, context: ConfigContext) -> str:
        text = text_of(value).strip()
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise fail(f"{text!r} is not an http URL; allowed: such as"
                       " http://127.0.0.1:9000/vipproxy-events")
        return text


class UserRef(Check):
    """The id of a user defined under ``users``."""

    schema = TEXT_SCHEMA

    def check(self, value: object, context: ConfigContext) -> str:
        user_id = text_of(value)
        if user_id not in context.user_ids:
            known = ", ".join(sorted(context.user_ids)) or "none defined"
            raise fail(f"{user_id!r} is not a user; users: {known}")
        return user_id


class RouteNumber(Check):
    """A route's number: a phone number in any format, or a plain SIP user name."""

    schema = TEXT_SCHEMA

    def check(self, value: object, context: ConfigContext) -> str:
        number = text_of(value)
        if normalize_number(number, context.country_code) is None and not _ROUTE_USER.match(
            number
        ):
            raise fail("must be a phone number or a user name without spaces, @, ; or :")
        return number


class StoreUrl(Check):
    """A SQLAlchemy URL of the database: ``sqlite+aiosqlite:///path/file.db`` or
    ``postgresql+asyncpg://user:password@host/dbname``; ``${VAR}`` is expanded."""

    schema: ClassVar[JsonSchemaValue] = {
        "type": "string",
        "pattern": "^(sqlite\\+aiosqlite:///|postgresql\\+asyncpg://)",
    }

    def check(self, value: object, context: ConfigContext) -> str:
        url = expand_env(text_of(value), context).strip()
        scheme, _, rest = url.partition("://")
        hint = (
            "allowed: sqlite+aiosqlite:///path/to/file.db or"
            " postgresql+asyncpg://user:password@host:5432/dbname"
        )
        if scheme not in _STORE_SCHEMES:
            raise fail(f"{scheme!r} is not a supported database; {hint}")
        if scheme == "sqlite+aiosqlite" and (not rest.startswith("/") or rest == "/"):
            raise fail(f"a SQLite URL needs a file path after ':///'; {hint}")
        if scheme == "postgresql+asyncpg":
            parts = _split(url)
            if parts is None or not parts.hostname or parts.path.strip("/") == "":
                raise fail(f"a PostgreSQL URL needs a host and a database name; {hint}")
        return url


def _split(url: str) -> SplitResult | None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return None
    return parts


class Realm(Check):
    """A digest realm (RFC 7616 §3.3): shown to users by their phones; quoted in
    the challenge, so no double quotes or backslashes."""

    def check(self, value: object, context: ConfigContext) -> str:
        text = text_of(value)
        if not text.strip() or any(char in text for char in '"\\') or not text.isprintable():
            raise fail("must be printable text without \" or \\, such as example.com")
        return text


class HexDigest(Check):
    """A precomputed digest HA1 (RFC 7616 §3.4.2) of ``length`` hex digits."""

    def __init__(self, length: int) -> None:
        self.length = length

    def check(self, value: object, context: ConfigContext) -> str:
        text = expand_env(text_of(value), context).strip().lower()
        if not re.fullmatch(f"[0-9a-f]{{{self.length}}}", text):
            raise fail(f"must be {self.length} hex digits (the HA1 of user:realm:password)")
        return text

    def json_schema(self) -> JsonSchemaValue:
        return {"type": "string", "pattern": f"^[0-9a-fA-F]{{{self.length}}}$"}
