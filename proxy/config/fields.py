"""Field readers shared by the directory sections: SIP URIs, phone numbers, lists.

Each reader records a problem on its node and returns None when the value is
unusable, like the ``Node`` accessors it builds on.
"""

from __future__ import annotations

from proxy.config.reader import Node
from proxy.policy.numbers import MAX_EXTENSION_DIGITS, normalize_number
from proxy.sip.errors import SipParseError
from proxy.sip.hop import hop_for_uri
from proxy.sip.uri import SipUri, parse_uri

# Seconds a stage may ring: long enough for a person, short enough that the
# caller hears an outcome before RFC 3261 Timer C (> 3 min) cancels the branch.
RING_TIMEOUT_MINIMUM = 0.5
RING_TIMEOUT_MAXIMUM = 180.0


def mapping_of(node: Node | None, allowed_keys: tuple[str, ...] | None = None) -> dict[str, Node]:
    """The children of an optional mapping; absent or invalid reads as empty."""
    return (node.mapping(allowed_keys) or {}) if node is not None else {}


def items_of(node: Node | None) -> list[Node]:
    """The items of an optional list; absent or invalid reads as empty."""
    return (node.items() or []) if node is not None else []


def required(fields: dict[str, Node], key: str, parent: Node, hint: str) -> Node | None:
    """The child ``key`` of a mapping, or None after a problem naming what is expected."""
    child = fields.get(key)
    if child is None:
        path = f"{parent.path}.{key}" if parent.path else key
        Node(None, path, parent.problems).problem(f"is required: {hint}")
    return child


def non_empty_items(node: Node, what: str) -> list[Node]:
    """The items of a list that must hold at least one ``what``."""
    items = node.items()
    if items is None:
        return []
    if not items:
        node.problem(f"needs at least one {what}")
    return items


def sip_uri(node: Node) -> str | None:
    """A ``sip:`` URI the proxy can send an INVITE to, as written."""
    text = node.string()
    if text is None:
        return None
    hint = "must be a sip: URI with an IP address, such as sip:alice@127.0.0.10:5060"
    try:
        uri = parse_uri(text)
    except SipParseError as error:
        node.problem(f"{hint} ({error.reason})")
        return None
    if not isinstance(uri, SipUri):
        node.problem(f"{hint}; a tel: URI names a number, not where to send the call")
        return None
    try:
        # The same check the proxy makes when it sends: IP literal, UDP or TCP, no TLS.
        hop_for_uri(uri)
    except SipParseError as error:
        node.problem(f"{hint}; {error.reason}")
        return None
    return text.strip()


def phone_number(node: Node, default_country_code: str) -> str | None:
    """A phone number normalised to E.164, or a short extension's digits."""
    text = node.string()
    if text is None:
        return None
    number = normalize_number(text, default_country_code)
    if number is None:
        node.problem(
            f"{text!r} is not a phone number; allowed: digits with an optional leading +"
            f" and separators (spaces - . ( )), up to 15 digits, or an extension of up to"
            f" {MAX_EXTENSION_DIGITS} digits"
        )
    return number


def ring_timeout(node: Node) -> float | None:
    """How long a stage rings."""
    return node.duration(RING_TIMEOUT_MINIMUM, RING_TIMEOUT_MAXIMUM)
