"""Fuzzing: nothing but SipParseError ever escapes the parser or the framer.

Inputs are arbitrary bytes and valid messages with random damage (bytes
replaced, inserted or deleted, lines duplicated, the message cut short). Whatever
parses must also survive its own serialization unchanged.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.sip.errors import SipParseError
from proxy.sip.framing import StreamFramer
from proxy.sip.message import parse_message

SEEDS = [
    b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds;rport\r\n"
    b"Max-Forwards: 70\r\n"
    b'To: "Bob" <sip:bob@biloxi.example.com>\r\n'
    b'From: "Alice" <sip:alice@atlanta.example.com>;tag=1928301774\r\n'
    b"Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"Contact: <sip:alice@pc33.atlanta.example.com>\r\n"
    b"Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: 26\r\n"
    b"\r\n"
    b"v=0\r\no=- 1 1 IN IP4 ::1\r\n",
    b"SIP/2.0 200 OK\r\n"
    b"v: SIP/2.0/TCP [2001:db8::1]:5070;branch=z9hG4bKa;received=2001:db8::9\r\n"
    b"Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n"
    b"t: <sip:bob@biloxi.example.com>;tag=a6c85cf\r\n"
    b"f: sip:alice@atlanta.example.com;tag=1928301774\r\n"
    b"i: a84b4c76e66710\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"Subject: folded\r\n  value\r\n"
    b"l: 0\r\n"
    b"\r\n",
]


def _check_parse(data: bytes) -> None:
    try:
        message = parse_message(data)
    except SipParseError as error:
        assert error.reason
        assert isinstance(error.headers, tuple)
        return
    assert parse_message(message.serialize()) == message


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["replace", "insert", "delete", "duplicate", "cut"]))
        if action == "replace" and position < len(data):
            data[position] = draw(st.integers(0, 255))
        elif action == "insert":
            noise = draw(st.sampled_from([b"\r\n", b" ", b";", b",", b":", b"\x00", b"\xff", b'"']))
            data[position:position] = noise
        elif action == "delete":
            del data[position : position + draw(st.integers(1, 8))]
        elif action == "duplicate":
            start = data.rfind(b"\r\n", 0, position) + 2
            end = data.find(b"\r\n", position)
            if end > start:
                data[start:start] = data[start : end + 2]
        else:
            del data[position:]
    return bytes(data)


@settings(max_examples=2000)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_only_raise_sip_parse_error(data: bytes) -> None:
    _check_parse(data)


@settings(max_examples=3000)
@given(damaged())
def test_damaged_messages_only_raise_sip_parse_error(data: bytes) -> None:
    _check_parse(data)


@settings(max_examples=1000)
@given(
    st.lists(st.one_of(damaged(), st.binary(max_size=80), st.sampled_from(SEEDS)), max_size=5),
    st.integers(min_value=1, max_value=97),
)
def test_framer_only_raises_sip_parse_error(pieces: list[bytes], chunk: int) -> None:
    stream = b"".join(pieces)
    framer = StreamFramer(max_message_size=512)
    try:
        for start in range(0, len(stream), chunk):
            for frame in framer.feed(stream[start : start + chunk]):
                assert len(frame) <= 512
                _check_parse(frame)
    except SipParseError as error:
        assert error.reason
    assert framer.take_pings() >= 0
