"""STUN Binding on the SIP UDP port: the keep-alive a phone sends its edge proxy
(RFC 5626 §4.4.2, §8; the messages are RFC 5389's).

A phone behind a NAT keeps its UDP flow to the proxy open by sending STUN
Binding requests to the proxy's SIP port; the answer tells it the address the
proxy sees (XOR-MAPPED-ADDRESS), so it also learns when its NAT binding has
changed and must register again (RFC 5626 §4.4.2). Pure: bytes and the sender's
address in, the bytes to send back (or nothing) out. Standard library only.
"""

from __future__ import annotations

import ipaddress
import struct
import zlib
from dataclasses import dataclass

MAGIC_COOKIE = 0x2112A442
# RFC 5389 §6: type, length (of the attributes), magic cookie, transaction id.
_HEADER = struct.Struct("!HHI12s")
_ATTRIBUTE = struct.Struct("!HH")
_HEADER_BYTES = _HEADER.size  # 20

# RFC 5389 §6 and §18.1: the message types of the Binding method.
BINDING_REQUEST = 0x0001
BINDING_SUCCESS = 0x0101
BINDING_ERROR = 0x0111

# RFC 5389 §18.2: attribute types.
XOR_MAPPED_ADDRESS = 0x0020
ERROR_CODE = 0x0009
UNKNOWN_ATTRIBUTES = 0x000A
FINGERPRINT = 0x8028
# The comprehension-required attributes (0x0000-0x7FFF) RFC 5389 defines, so this
# server knows them. USERNAME and MESSAGE-INTEGRITY are among them: it has no
# credentials, so it checks neither (§10 leaves authentication to the usage).
_KNOWN = frozenset({0x0001, 0x0006, 0x0008, 0x0009, 0x000A, 0x0014, 0x0015, 0x0020})
_COMPREHENSION_OPTIONAL = 0x8000
# RFC 5389 §15.5: the CRC-32 of the message is XOR'ed with this ("STUN").
_FINGERPRINT_XOR = 0x5354554E
_FAMILY = {4: 0x01, 6: 0x02}  # §15.1
_UNKNOWN_ATTRIBUTE = (420, "Unknown Attribute")


class StunError(ValueError):
    """A datagram that looks like STUN but cannot be read: it is dropped."""


@dataclass(frozen=True, slots=True)
class StunMessage:
    """A STUN message: its type, transaction id and attributes, in order, unpadded."""

    message_type: int
    transaction_id: bytes
    attributes: tuple[tuple[int, bytes], ...]

    def has(self, attribute: int) -> bool:
        """Whether the message carries ``attribute``."""
        return any(kind == attribute for kind, _ in self.attributes)


def is_stun(datagram: bytes) -> bool:
    """Whether a datagram is STUN rather than SIP (RFC 5389 §6, §7.3; RFC 5626 §8 sends
    both to one port): the two top bits zero (a SIP message starts with a letter),
    the magic cookie, and a length that is a multiple of 4 and fills the datagram."""
    if len(datagram) < _HEADER_BYTES or datagram[0] & 0xC0:
        return False
    length: int
    cookie: int
    _, length, cookie, _ = _HEADER.unpack_from(datagram)
    return cookie == MAGIC_COOKIE and length % 4 == 0 and _HEADER_BYTES + length == len(datagram)


def parse(datagram: bytes) -> StunMessage:
    """Read a datagram that :func:`is_stun` accepted; StunError when an attribute
    runs past the end or a FINGERPRINT is not last or does not match (§7.3, §15.5)."""
    message_type, _, _, transaction_id = _HEADER.unpack_from(datagram)
    attributes: list[tuple[int, bytes]] = []
    offset = _HEADER_BYTES
    while offset < len(datagram):
        if offset + _ATTRIBUTE.size > len(datagram):
            raise StunError("truncated attribute header")
        kind, length = _ATTRIBUTE.unpack_from(datagram, offset)
        start = offset + _ATTRIBUTE.size
        if start + length > len(datagram):
            raise StunError(f"attribute 0x{kind:04x} runs past the message")
        if kind == FINGERPRINT:
            _check_fingerprint(datagram, offset, datagram[start:start + length])
        attributes.append((kind, datagram[start:start + length]))
        offset = start + _padded(length)
    return StunMessage(message_type, transaction_id, tuple(attributes))


def _check_fingerprint(datagram: bytes, offset: int, value: bytes) -> None:
    # §15.5: the last attribute, the CRC of everything before it.
    if offset + _ATTRIBUTE.size + 4 != len(datagram):
        raise StunError("FINGERPRINT is not the last attribute")
    if value != struct.pack("!I", fingerprint(datagram[:offset])):
        raise StunError("FINGERPRINT does not match")


def answer(datagram: bytes, host: str, port: int) -> bytes | None:
    """What the SIP port sends back to a datagram from ``host``:``port`` that
    :func:`is_stun` accepted.

    A Binding request gets a success response with XOR-MAPPED-ADDRESS, the
    address the request came from (§7.3.1, §15.2), or a 420 naming the
    comprehension-required attributes it does not know (§7.3.1). The response
    carries a FINGERPRINT when the request did, so a client that tells STUN from
    SIP by it (§8) recognises it. Indications, responses, other methods and
    unreadable messages get nothing (§7.3.2-§7.3.4).
    """
    try:
        request = parse(datagram)
    except StunError:
        return None
    if request.message_type != BINDING_REQUEST:
        return None
    unknown = [kind for kind, _ in request.attributes
               if kind < _COMPREHENSION_OPTIONAL and kind not in _KNOWN]
    if unknown:
        status, reason = _UNKNOWN_ATTRIBUTE
        response = encode(BINDING_ERROR, request.transaction_id, (
            (ERROR_CODE, _error_code(status, reason)),
            (UNKNOWN_ATTRIBUTES, b"".join(struct.pack("!H", kind) for kind in unknown)),
        ))
    else:
        response = encode(BINDING_SUCCESS, request.transaction_id, (
            (XOR_MAPPED_ADDRESS, xor_mapped_address(host, port, request.transaction_id)),))
    return with_fingerprint(response) if request.has(FINGERPRINT) else response


def encode(message_type: int, transaction_id: bytes,
           attributes: tuple[tuple[int, bytes], ...]) -> bytes:
    """A STUN message: the header, then each attribute padded to 4 bytes (§15)."""
    body = b"".join(_ATTRIBUTE.pack(kind, len(value)) + value.ljust(_padded(len(value)), b"\0")
                    for kind, value in attributes)
    return _HEADER.pack(message_type, len(body), MAGIC_COOKIE, transaction_id) + body


def with_fingerprint(message: bytes) -> bytes:
    """``message`` with a FINGERPRINT attribute appended, its length field counting it
    before the CRC is taken (§15.5)."""
    length = len(message) - _HEADER_BYTES + _ATTRIBUTE.size + 4
    counted = message[:2] + struct.pack("!H", length) + message[4:]
    return counted + _ATTRIBUTE.pack(FINGERPRINT, 4) + struct.pack("!I", fingerprint(counted))


def fingerprint(prefix: bytes) -> int:
    """The FINGERPRINT value of a message whose bytes before the attribute are ``prefix``."""
    return zlib.crc32(prefix) ^ _FINGERPRINT_XOR


def xor_mapped_address(host: str, port: int, transaction_id: bytes) -> bytes:
    """The XOR-MAPPED-ADDRESS value for ``host``:``port`` (§15.2): the port XOR'ed with
    the cookie's top 16 bits, an IPv4 address with the cookie, an IPv6 address with
    the cookie followed by the transaction id."""
    address = ipaddress.ip_address(host)
    mask = struct.pack("!I", MAGIC_COOKIE) + transaction_id
    packed = address.packed
    xored = bytes(byte ^ key for byte, key in zip(packed, mask, strict=False))
    return struct.pack("!BBH", 0, _FAMILY[address.version], port ^ (MAGIC_COOKIE >> 16)) + xored


def _error_code(status: int, reason: str) -> bytes:
    # §15.6: 21 reserved bits, the hundreds in 3 bits, the rest in 8, then the reason.
    return struct.pack("!HBB", 0, status // 100, status % 100) + reason.encode()


def _padded(length: int) -> int:
    return (length + 3) & ~3
