"""STUN Binding on the SIP UDP port (RFC 5389 as RFC 5626 §8 uses it), checked against
the test vectors of RFC 5769, and the UDP endpoint that answers it."""

from __future__ import annotations

import struct
from typing import Any

import pytest

from proxy import stun
from proxy.sip.hop import Hop
from proxy.transport.udp import UdpEndpoint


def _hex(text: str) -> bytes:
    return bytes.fromhex("".join(text.split()))


# RFC 5769 §2.1 "Sample Request": a Binding request with SOFTWARE, PRIORITY,
# ICE-CONTROLLED, USERNAME, MESSAGE-INTEGRITY and FINGERPRINT.
SAMPLE_REQUEST = _hex("""
    00 01 00 58 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
    80 22 00 10 53 54 55 4e 20 74 65 73 74 20 63 6c 69 65 6e 74
    00 24 00 04 6e 00 01 ff
    80 29 00 08 93 2f f9 b1 51 26 3b 36
    00 06 00 09 65 76 74 6a 3a 68 36 76 59 20 20 20
    00 08 00 14 9a ea a7 0c bf d8 cb 56 78 1e f2 b5 b2 d3 f2 49 c1 b5 71 a2
    80 28 00 04 e5 7a 3b cf""")
# RFC 5769 §2.2 "Sample IPv4 Response": XOR-MAPPED-ADDRESS 192.0.2.1:32853.
SAMPLE_IPV4_RESPONSE = _hex("""
    01 01 00 3c 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
    80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
    00 20 00 08 00 01 a1 47 e1 12 a6 43
    00 08 00 14 2b 91 f5 99 fd 9e 90 c3 8c 74 89 f9 2a f9 ba 53 f0 6b e7 d7
    80 28 00 04 c0 7d 4c 96""")
# RFC 5769 §2.3 "Sample IPv6 Response": [2001:db8:1234:5678:11:2233:4455:6677]:32853.
SAMPLE_IPV6_RESPONSE = _hex("""
    01 01 00 48 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
    80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
    00 20 00 14 00 02 a1 47 01 13 a9 fa a5 d3 f1 79 bc 25 f4 b5 be d2 b9 d9
    00 08 00 14 a3 82 95 4e 4b e6 7b f1 17 84 c9 7c 82 92 c2 75 bf e3 ed 41
    80 28 00 04 c8 fb 0b 4c""")
TRANSACTION = _hex("b7 e7 a7 01 bc 34 d6 86 fa 87 df ae")
MAPPED_IPV4 = ("192.0.2.1", 32853)
MAPPED_IPV6 = ("2001:db8:1234:5678:11:2233:4455:6677", 32853)


def attribute(message: bytes, kind: int) -> bytes:
    values = [value for found, value in stun.parse(message).attributes if found == kind]
    assert len(values) == 1, (kind, values)
    return values[0]


def binding_request(*attributes: tuple[int, bytes]) -> bytes:
    return stun.encode(stun.BINDING_REQUEST, TRANSACTION, attributes)


# --- the codec against RFC 5769 ---------------------------------------------------------


@pytest.mark.parametrize("vector", [SAMPLE_REQUEST, SAMPLE_IPV4_RESPONSE, SAMPLE_IPV6_RESPONSE])
def test_the_rfc_5769_vectors_are_stun_and_parse_with_their_fingerprint(vector: bytes) -> None:
    assert stun.is_stun(vector)
    message = stun.parse(vector)  # raises when the FINGERPRINT does not match
    assert message.transaction_id == TRANSACTION
    assert message.attributes[-1] == (stun.FINGERPRINT, vector[-4:])


def test_the_sample_request_is_read_attribute_by_attribute() -> None:
    message = stun.parse(SAMPLE_REQUEST)
    assert message.message_type == stun.BINDING_REQUEST
    assert [kind for kind, _ in message.attributes] == [
        0x8022, 0x0024, 0x8029, 0x0006, 0x0008, stun.FINGERPRINT]
    assert attribute(SAMPLE_REQUEST, 0x8022) == b"STUN test client"
    assert attribute(SAMPLE_REQUEST, 0x0006) == b"evtj:h6vY"  # unpadded


@pytest.mark.parametrize(("vector", "mapped"), [(SAMPLE_IPV4_RESPONSE, MAPPED_IPV4),
                                                (SAMPLE_IPV6_RESPONSE, MAPPED_IPV6)])
def test_xor_mapped_address_is_encoded_as_the_rfc_5769_responses_carry_it(
    vector: bytes, mapped: tuple[str, int]
) -> None:
    assert stun.xor_mapped_address(*mapped, TRANSACTION) == attribute(
        vector, stun.XOR_MAPPED_ADDRESS)


def test_the_fingerprint_is_the_crc_of_what_comes_before_it() -> None:
    for vector in (SAMPLE_REQUEST, SAMPLE_IPV4_RESPONSE, SAMPLE_IPV6_RESPONSE):
        assert struct.pack("!I", stun.fingerprint(vector[:-8])) == vector[-4:]


def test_a_corrupted_message_fails_its_fingerprint_and_is_not_answered() -> None:
    corrupted = bytearray(SAMPLE_REQUEST)
    corrupted[30] ^= 0x01  # inside SOFTWARE
    assert stun.is_stun(bytes(corrupted))
    with pytest.raises(stun.StunError, match="FINGERPRINT"):
        stun.parse(bytes(corrupted))
    assert stun.answer(bytes(corrupted), *MAPPED_IPV4) is None


# --- what the SIP port answers ----------------------------------------------------------


@pytest.mark.parametrize(("mapped", "vector"), [(MAPPED_IPV4, SAMPLE_IPV4_RESPONSE),
                                                (MAPPED_IPV6, SAMPLE_IPV6_RESPONSE)])
def test_a_binding_request_gets_a_success_with_the_senders_address(
    mapped: tuple[str, int], vector: bytes
) -> None:
    response = stun.answer(binding_request(), *mapped)
    assert response is not None
    message = stun.parse(response)
    assert (message.message_type, message.transaction_id) == (stun.BINDING_SUCCESS, TRANSACTION)
    assert message.attributes == (
        (stun.XOR_MAPPED_ADDRESS, attribute(vector, stun.XOR_MAPPED_ADDRESS)),)


def test_the_keep_alive_of_rfc_5626_is_twenty_bytes_and_so_is_most_of_its_answer() -> None:
    response = stun.answer(binding_request(), *MAPPED_IPV4)
    assert response == _hex("01 01 00 0c 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae"
                            "00 20 00 08 00 01 a1 47 e1 12 a6 43")


def test_a_request_with_a_fingerprint_gets_one_back() -> None:
    response = stun.answer(stun.with_fingerprint(binding_request()), *MAPPED_IPV4)
    assert response is not None
    message = stun.parse(response)  # checks the FINGERPRINT
    assert [kind for kind, _ in message.attributes] == [stun.XOR_MAPPED_ADDRESS, stun.FINGERPRINT]


def test_unknown_comprehension_required_attributes_get_420_naming_them() -> None:
    # The sample request is an ICE check: PRIORITY (0x0024) is ICE's, not RFC 5389's.
    # USERNAME and MESSAGE-INTEGRITY are known; ICE-CONTROLLED and SOFTWARE optional.
    response = stun.answer(SAMPLE_REQUEST, *MAPPED_IPV4)
    assert response is not None
    message = stun.parse(response)
    assert (message.message_type, message.transaction_id) == (stun.BINDING_ERROR, TRANSACTION)
    assert attribute(response, stun.ERROR_CODE) == b"\x00\x00\x04\x14Unknown Attribute"
    assert attribute(response, stun.UNKNOWN_ATTRIBUTES) == b"\x00\x24"
    assert message.has(stun.FINGERPRINT)


@pytest.mark.parametrize("datagram", [
    SAMPLE_IPV4_RESPONSE,  # a response
    stun.encode(0x0011, TRANSACTION, ()),  # a Binding indication
    stun.encode(0x0003, TRANSACTION, ()),  # a request of another method (TURN Allocate)
    # SOFTWARE saying 8 bytes where the message has 4
    struct.pack("!HHI12sHH4s", stun.BINDING_REQUEST, 8, stun.MAGIC_COOKIE, TRANSACTION,
                0x8022, 8, b"abcd"),
], ids=["response", "indication", "other method", "attribute past the end"])
def test_anything_but_a_readable_binding_request_gets_nothing(datagram: bytes) -> None:
    assert stun.is_stun(datagram)
    assert stun.answer(datagram, *MAPPED_IPV4) is None


@pytest.mark.parametrize("datagram", [
    b"OPTIONS sip:proxy SIP/2.0\r\n\r\n",
    b"\r\n\r\n",
    binding_request()[:-1],  # shorter than its header
    b"\x00\x01\x00\x00" + b"\x00" * 16,  # no magic cookie
    b"\x00\x01\x00\x04" + binding_request()[4:],  # a length the datagram does not have
])
def test_sip_and_other_datagrams_are_not_stun(datagram: bytes) -> None:
    assert not stun.is_stun(datagram)


# --- the UDP endpoint -------------------------------------------------------------------


class _Sent:
    """A datagram transport that keeps what is sent."""

    def __init__(self) -> None:
        self.datagrams: list[tuple[bytes, tuple[Any, ...]]] = []

    def get_extra_info(self, name: str) -> None:
        return None

    def sendto(self, data: bytes, addr: tuple[Any, ...]) -> None:
        self.datagrams.append((data, addr))


def endpoint() -> tuple[UdpEndpoint, _Sent, list[tuple[bytes, Hop]]]:
    received: list[tuple[bytes, Hop]] = []
    udp = UdpEndpoint(lambda data, hop: received.append((data, hop)), log=None)
    sent = _Sent()
    udp.connection_made(sent)  # type: ignore[arg-type]
    return udp, sent, received


@pytest.mark.parametrize("mapped", [MAPPED_IPV4, MAPPED_IPV6])
def test_the_udp_endpoint_answers_stun_to_its_sender_and_hands_sip_on(
    mapped: tuple[str, int]
) -> None:
    udp, sent, received = endpoint()
    sip = b"OPTIONS sip:proxy SIP/2.0\r\n\r\n"
    udp.datagram_received(binding_request(), mapped)
    udp.datagram_received(sip, mapped)
    assert sent.datagrams == [(stun.answer(binding_request(), *mapped), mapped)]
    assert received == [(sip, Hop("UDP", *mapped))]


def test_the_udp_endpoint_drops_crlf_and_stun_it_does_not_answer() -> None:
    udp, sent, received = endpoint()
    for datagram in (b"\r\n\r\n", b"", SAMPLE_IPV4_RESPONSE):
        udp.datagram_received(datagram, MAPPED_IPV4)
    assert (sent.datagrams, received) == ([], [])


def test_other_bytes_that_are_not_sip_reach_the_parser_as_before() -> None:
    udp, sent, received = endpoint()
    udp.datagram_received(b"\x00garbage", MAPPED_IPV4)  # the parser answers or drops it
    assert received == [(b"\x00garbage", Hop("UDP", *MAPPED_IPV4))]
    assert sent.datagrams == []
