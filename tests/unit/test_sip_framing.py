"""TCP stream framing by Content-Length (proxy/sip/framing.py)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.sip.errors import MessageTooLarge, SipParseError
from proxy.sip.framing import StreamFramer
from proxy.sip.message import parse_message


def message(number: int, body: bytes = b"", length_header: str = "Content-Length") -> bytes:
    return (
        f"OPTIONS sip:bob@example.com SIP/2.0\r\n"
        f"Via: SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bK{number}\r\n"
        f"From: <sip:alice@example.com>;tag={number}\r\n"
        f"To: <sip:bob@example.com>\r\n"
        f"Call-ID: call-{number}\r\n"
        f"CSeq: {number} OPTIONS\r\n"
        f"{length_header}: {len(body)}\r\n"
        f"\r\n"
    ).encode() + body


def feed_all(framer: StreamFramer, chunks: list[bytes]) -> list[bytes]:
    return [frame for chunk in chunks for frame in framer.feed(chunk)]


def test_one_message_in_one_read() -> None:
    framer = StreamFramer()
    data = message(1, b"hello")
    assert framer.feed(data) == [data]
    assert framer.buffered == 0
    assert parse_message(data).body == b"hello"


def test_several_messages_in_one_read() -> None:
    messages = [message(1), message(2, b"body\r\n\r\nwith a blank line"), message(3, b"\x00" * 9)]
    assert StreamFramer().feed(b"".join(messages)) == messages


def test_one_message_split_at_every_position() -> None:
    # Splits inside the CRLF CRLF, inside "Content-Length" and inside the body.
    data = message(7, b"0123456789")
    for cut in range(1, len(data)):
        framer = StreamFramer()
        assert framer.feed(data[:cut]) == []
        assert framer.feed(data[cut:]) == [data], f"split at {cut}"


def test_byte_by_byte() -> None:
    data = message(1, b"abc") + message(2)
    framer = StreamFramer()
    assert feed_all(framer, [data[i : i + 1] for i in range(len(data))]) == [
        message(1, b"abc"),
        message(2),
    ]


@pytest.mark.parametrize(
    "line",
    [b"l: 3", b"L:3", b"content-LENGTH: 3", b"Content-Length   :   3  ", b"Content-Length:\r\n 3"],
)
def test_content_length_spellings(line: bytes) -> None:
    # Compact form and any case (RFC 3261 §7.3.3), HCOLON whitespace, a folded value.
    data = message(1, b"xyz").replace(b"Content-Length: 3", line)
    assert StreamFramer().feed(data + message(2)) == [data, message(2)]


def test_a_header_ending_in_l_is_not_content_length() -> None:
    data = message(1, b"abcd").replace(b"To:", b"X-Total: 99\r\nTo:")
    assert StreamFramer().feed(data) == [data]


def test_same_content_length_twice_is_accepted() -> None:
    data = message(1, b"ab").replace(b"\r\n\r\n", b"\r\nl: 2\r\n\r\n")
    assert StreamFramer().feed(data) == [data]


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (message(1).replace(b"Content-Length: 0\r\n", b""), "Missing Content-Length"),
        (message(1).replace(b"Content-Length: 0", b"Content-Length: -5"), "Malformed"),
        (message(1).replace(b"Content-Length: 0", b"Content-Length: five"), "Malformed"),
        (message(1).replace(b"Content-Length: 0", b"Content-Length: 0\r\nl: 4"), "Conflicting"),
    ],
)
def test_unframeable_heads_raise(data: bytes, fragment: str) -> None:
    with pytest.raises(SipParseError) as caught:
        StreamFramer().feed(data)
    assert fragment in caught.value.reason


def test_head_without_end_over_the_limit_raises() -> None:
    framer = StreamFramer(max_message_size=1000)
    assert framer.feed(b"INVITE sip:x SIP/2.0\r\n" + b"X: y\r\n" * 100) == []
    with pytest.raises(MessageTooLarge) as caught:
        framer.feed(b"X: y\r\n" * 100)
    assert caught.value.status_hint == 513


def test_body_over_the_limit_raises_before_it_arrives() -> None:
    framer = StreamFramer(max_message_size=300)
    head = message(1).replace(b"Content-Length: 0", b"Content-Length: 200")
    with pytest.raises(MessageTooLarge):
        framer.feed(head)


def test_message_exactly_at_the_limit_passes() -> None:
    data = message(1, b"x" * 100)
    assert StreamFramer(max_message_size=len(data)).feed(data) == [data]


def test_crlf_ping_between_messages_is_counted_and_dropped() -> None:
    framer = StreamFramer()
    assert framer.feed(message(1) + b"\r\n\r\n" + message(2) + b"\r\n\r\n\r\n\r\n") == [
        message(1),
        message(2),
    ]
    assert framer.take_pings() == 3
    assert framer.take_pings() == 0
    assert framer.buffered == 0


def test_ping_split_across_reads_is_one_ping() -> None:
    framer = StreamFramer()
    assert feed_all(framer, [b"\r\n", b"\r", b"\n"]) == []
    assert framer.take_pings() == 1
    assert framer.buffered == 0


def test_pings_are_never_a_framing_error_however_many_arrive() -> None:
    # RFC 5626 §3.5.1: a connection kept alive for hours sends pings without end;
    # they are not a head growing past the size limit.
    framer = StreamFramer(max_message_size=len(message(1)))
    assert framer.feed(b"\r\n\r\n" * 100) == []  # twice the limit
    assert framer.feed(b"\r\n\r\n" + message(1)) == [message(1)]
    assert (framer.take_pings(), framer.buffered) == (101, 0)


def test_single_crlf_before_a_message_is_ignored() -> None:
    # RFC 3261 §7.5; also the CRLF pong a client may send back (RFC 5626 §4.4.1).
    framer = StreamFramer()
    assert framer.feed(b"\r\n") == []
    assert framer.feed(message(1)) == [message(1)]
    assert framer.take_pings() == 0


# ---------------------------------------------------------------------------
# Any split of any stream of messages and pings yields the same messages.

_BODIES = st.binary(max_size=300)
_PINGS = st.integers(min_value=0, max_value=2)


@settings(max_examples=300)
@given(
    st.lists(st.tuples(_BODIES, _PINGS), min_size=1, max_size=8),
    st.lists(st.integers(min_value=1, max_value=200), min_size=1, max_size=40),
)
def test_any_split_of_a_stream_yields_the_same_messages(
    items: list[tuple[bytes, int]], chunk_sizes: list[int]
) -> None:
    messages = [message(number, body) for number, (body, _) in enumerate(items)]
    stream = b"".join(
        b"\r\n\r\n" * pings + data for data, (_, pings) in zip(messages, items, strict=True)
    )
    chunks = []
    position = 0
    for size in chunk_sizes * (len(stream) // sum(chunk_sizes) + 1):
        if position >= len(stream):
            break
        chunks.append(stream[position : position + size])
        position += size
    framer = StreamFramer()
    assert feed_all(framer, chunks) == messages
    assert framer.take_pings() == sum(pings for _, pings in items)
    assert framer.buffered == 0
    assert [parse_message(frame).call_id for frame in messages] == [
        f"call-{number}" for number in range(len(items))
    ]
