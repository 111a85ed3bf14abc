"""What a REGISTER asks for: its Contact values, their intervals, ``Contact: *``.

Values are parsed with the SIP layer's parsers (``parse_name_addr``, ``parse_uri``);
this module only interprets the registration parameters (RFC 3261 §10.2, §20.10,
§20.19; RFC 5626 §4.1-§4.2) and compares contact URIs (RFC 3261 §19.1.4).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

from proxy.sip.address import parse_name_addr
from proxy.sip.errors import SipParseError
from proxy.sip.expires import delta_seconds
from proxy.sip.message import Header, Request
from proxy.sip.params import q_value
from proxy.sip.uri import SipUri, parse_uri

# RFC 5626 §4.2: reg-id = 1*10DIGIT, 1 to 2**31-1.
_REG_ID = re.compile(r"[1-9][0-9]{0,9}")
# RFC 3261 §19.1.4: parameters that never match when only one URI has them.
_PARAMS_BOTH_OR_NEITHER = ("user", "ttl", "method", "maddr")


@dataclass(frozen=True, slots=True)
class Refusal:
    """The REGISTER fails with this status; nothing in the location table changes."""

    status: int
    reason: str
    headers: tuple[Header, ...] = ()


@dataclass(frozen=True, slots=True)
class RequestedContact:
    """One Contact of a REGISTER: a binding to add, refresh or remove (``expires`` 0)."""

    uri: str  # as written inside <...>
    parsed: SipUri
    expires: int  # seconds asked for: the expires parameter, else the Expires header
    q: float | None
    instance_id: str | None  # the +sip.instance value without its quotes
    reg_id: int | None  # only with an instance (RFC 5626 §6)


@dataclass(frozen=True, slots=True)
class RemoveAll:
    """``Contact: *`` with ``Expires: 0``: remove every binding of the AOR (§10.2.2)."""


@dataclass(frozen=True, slots=True)
class Query:
    """A REGISTER without Contact: list the bindings, change nothing (§10.2.3)."""


Requested = tuple[RequestedContact, ...] | RemoveAll | Query


def read_contacts(request: Request, default_expires: int) -> Requested | Refusal:
    """The bindings a REGISTER asks for, or why it is malformed (400)."""
    values = request.header_values("contact")
    if not values:
        return Query()
    header_expires = _header_expires(request, default_expires)
    if "*" in values:
        return _wildcard(values, request.header("expires"))
    contacts: list[RequestedContact] = []
    for value in values:
        contact = _contact(value, header_expires)
        if isinstance(contact, Refusal):
            return contact
        contacts.append(contact)
    return _unique(tuple(contacts))


def _header_expires(request: Request, default_expires: int) -> int:
    """§10.2.1.1: the Expires header sets the interval of Contacts without a parameter;
    without either the registrar's default applies (§10.3 step 7)."""
    value = request.header("expires")
    return default_expires if value is None else delta_seconds(value)


def _wildcard(values: list[str], expires: str | None) -> RemoveAll | Refusal:
    """§10.3 step 6: ``*`` must be the only Contact and come with ``Expires: 0``."""
    if len(values) > 1:
        return Refusal(400, "Bad Request (Contact: * must be the only Contact)")
    if expires is None or delta_seconds(expires) != 0:
        return Refusal(400, "Bad Request (Contact: * needs Expires: 0)")
    return RemoveAll()


def _contact(value: str, header_expires: int) -> RequestedContact | Refusal:
    try:
        address = parse_name_addr(value)
        uri = parse_uri(address.uri)
    except SipParseError as error:
        return Refusal(400, f"Bad Request (Contact: {error.reason})")
    if not isinstance(uri, SipUri):
        return Refusal(400, f"Bad Request (Contact {address.uri[:60]!r} is not a sip: URI)")
    if uri.scheme == "sips":
        return Refusal(400, "Bad Request (sips: contacts need TLS, which is not supported)")
    expires_param = address.param("expires")
    q_param = address.param("q")
    q = None if q_param is None else q_value(q_param)
    if q_param is not None and q is None:
        return Refusal(400, f"Bad Request (malformed q value {q_param[:12]!r})")
    instance = address.param("+sip.instance")
    instance_id = _unquoted(instance) if instance else None
    reg_id_text = address.param("reg-id")
    reg_id = None if reg_id_text is None else _reg_id(reg_id_text)
    if reg_id_text is not None and reg_id is None:
        return Refusal(400, f"Bad Request (malformed reg-id {reg_id_text[:12]!r})")
    return RequestedContact(
        uri=address.uri,
        parsed=uri,
        expires=header_expires if expires_param is None else delta_seconds(expires_param),
        q=q,
        instance_id=instance_id,
        # RFC 5626 §6: a reg-id without +sip.instance is ignored.
        reg_id=reg_id if instance_id is not None else None,
    )


def _unique(contacts: tuple[RequestedContact, ...]) -> tuple[RequestedContact, ...] | Refusal:
    """Each binding at most once per REGISTER: the same URI twice, or the same
    instance and reg-id twice (RFC 5626 §6), leaves the intent ambiguous."""
    for index, contact in enumerate(contacts):
        for earlier in contacts[:index]:
            if same_uri(contact.parsed, earlier.parsed):
                return Refusal(400, f"Bad Request (Contact {contact.uri[:60]} given twice)")
            if contact.reg_id is not None and (contact.instance_id, contact.reg_id) == (
                    earlier.instance_id, earlier.reg_id):
                return Refusal(400, "Bad Request (two Contacts with the same +sip.instance "
                                    "and reg-id)")
    return contacts


def _reg_id(text: str) -> int | None:
    text = text.strip()
    if _REG_ID.fullmatch(text) is None or int(text) >= 2**31:
        return None
    return int(text)


def _unquoted(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text.startswith('"') and text.endswith('"'):
        return text[1:-1]
    return text


def same_uri(a: SipUri, b: SipUri) -> bool:
    """RFC 3261 §19.1.4 URI equivalence, as the registrar compares contacts (§10.3 step 7).

    User and password compare case-sensitively once unescaped, the host
    case-insensitively; a port written in one URI only never matches; parameters
    present in both must match, ``user``, ``ttl``, ``method`` and ``maddr`` must be
    in both or neither, others in one URI only are ignored; headers must match.
    """
    if (a.scheme, a.port) != (b.scheme, b.port) or a.host.lower() != b.host.lower():
        return False
    if _unescaped(a.user) != _unescaped(b.user) or _unescaped(a.password) != _unescaped(
            b.password):
        return False
    params_a, params_b = _param_map(a), _param_map(b)
    for name in params_a.keys() & params_b.keys():
        if params_a[name] != params_b[name]:
            return False
    for name in _PARAMS_BOTH_OR_NEITHER:
        if (name in params_a) != (name in params_b):
            return False
    return _header_set(a.headers) == _header_set(b.headers)


def _unescaped(text: str | None) -> str | None:
    return None if text is None else unquote(text)


def _param_map(uri: SipUri) -> dict[str, str | None]:
    return {name.lower(): None if value is None else unquote(value).lower()
            for name, value in uri.params}


def _header_set(headers: str) -> frozenset[tuple[str, str]]:
    pairs = (part.partition("=") for part in headers.split("&") if part)
    return frozenset((name.lower(), unquote(value)) for name, _, value in pairs)
