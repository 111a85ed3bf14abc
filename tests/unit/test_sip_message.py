"""Parsing, serializing and editing SIP messages (proxy/sip/message.py)."""

from __future__ import annotations

import pytest
from sipfactory import parse_request, parse_response, refused

from proxy.sip.errors import SipParseError
from proxy.sip.message import (
    Request,
    drop_first_value,
    error_response_for,
    insert_header_before,
    make_response,
    parse_cseq,
    parse_max_forwards,
    parse_message,
    prepend_header,
    remove_header,
    replace_first_value,
    set_header,
    set_header_lines,
)


def crlf(text: str, body: bytes = b"") -> bytes:
    return text.replace("\n", "\r\n").encode() + body


INVITE_HEAD = """INVITE sip:bob@biloxi.example.com SIP/2.0
Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds
Max-Forwards: 70
To: Bob <sip:bob@biloxi.example.com>
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774
Call-ID: a84b4c76e66710@pc33.atlanta.example.com
CSeq: 314159 INVITE
X-Unknown: kept as is
Content-Type: application/sdp
"""
SDP = b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"


def invite(extra: str = "", body: bytes = SDP) -> bytes:
    return crlf(INVITE_HEAD + extra + f"Content-Length: {len(body)}\n\n", body)




RESPONSE_HEAD = """SIP/2.0 180 Ringing Now
Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bKnashds8
Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds
To: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774
Call-ID: a84b4c76e66710@pc33.atlanta.example.com
CSeq: 314159 INVITE
Content-Length: 0

"""


# ---------------------------------------------------------------------------
# Start lines


def test_request_line_and_fields() -> None:
    request = parse_request(invite())
    assert (request.method, request.uri, request.version) == (
        "INVITE",
        "sip:bob@biloxi.example.com",
        "SIP/2.0",
    )
    assert request.body == SDP
    assert request.call_id == "a84b4c76e66710@pc33.atlanta.example.com"
    assert request.cseq == (314159, "INVITE")
    assert request.max_forwards == 70


def test_status_line_keeps_the_reason_phrase_with_its_spaces() -> None:
    response = parse_response(crlf(RESPONSE_HEAD))
    assert (response.status, response.reason, response.body) == (180, "Ringing Now", b"")


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("INVITE sip:bob@biloxi.example.com", "request line"),
        ("INVITE  sip:bob@biloxi.example.com SIP/2.0", "request line"),
        ("INV<ITE sip:bob@biloxi.example.com SIP/2.0", "method"),
        ("INVITE sip:bob@biloxi.example.com HTTP/1.1", "version"),
        ("INVITE bob@biloxi.example.com SIP/2.0", "Request-URI"),
        ("INVITE sip:bob@bi loxi SIP/2.0", "request line"),
        ("INVITE sip:bob@biloxi.example.com:99999 SIP/2.0", "port"),
        ("INVITE sip:bob@[::1 SIP/2.0", "IPv6"),
    ],
)
def test_malformed_request_lines_are_400(line: str, fragment: str) -> None:
    data = invite().replace(b"INVITE sip:bob@biloxi.example.com SIP/2.0", line.encode(), 1)
    error = refused(data)
    assert (error.status_hint, error.is_request) == (400, True)
    assert fragment in error.reason


def test_other_sip_version_is_505() -> None:
    data = invite().replace(b" SIP/2.0\r\n", b" SIP/3.0\r\n", 1)
    assert refused(data).status_hint == 505


@pytest.mark.parametrize("status_line", ["SIP/2.0 99 Low", "SIP/2.0 700 High", "SIP/2.0 2x0 OK"])
def test_malformed_status_lines_are_refused(status_line: str) -> None:
    error = refused(crlf(RESPONSE_HEAD.replace("SIP/2.0 180 Ringing Now", status_line)))
    assert not error.is_request
    assert "status line" in error.reason


def test_crlf_before_the_start_line_is_ignored() -> None:
    # RFC 3261 §7.5.
    assert parse_message(b"\r\n\r\n" + invite()) == parse_message(invite())


@pytest.mark.parametrize("data", [b"", b"\r\n\r\n", b"\r\n"])
def test_empty_datagrams_are_refused(data: bytes) -> None:
    error = refused(data)
    assert (error.headers, error.is_request) == ((), False)


def test_bare_lf_line_ends_are_tolerated() -> None:
    data = invite().replace(b"\r\n", b"\n")
    request = parse_request(data.replace(SDP.replace(b"\r\n", b"\n"), SDP))
    assert request.header("x-unknown") == "kept as is"
    assert request.body == SDP


# ---------------------------------------------------------------------------
# Header names and values


def test_header_names_are_case_insensitive_and_compact_forms_match() -> None:
    data = invite().replace(b"Call-ID:", b"i:").replace(b"To:", b"tO :").replace(b"Via:", b"v:")
    request = parse_request(data)
    assert request.header("CALL-ID") == request.header("i") == request.call_id
    assert request.header("t") == "Bob <sip:bob@biloxi.example.com>"
    assert request.header("VIA") == "SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds"
    # The names stay as the sender wrote them.
    assert [name for name, _ in request.headers][:4] == ["v", "Max-Forwards", "tO", "From"]
    assert request.has_header("x-UNKNOWN")
    assert not request.has_header("route")
    assert request.header("route") is None


def test_comma_joined_and_repeated_lines_mean_the_same_list() -> None:
    request = parse_request(
        invite(
            'Route: <sip:p1.example.com;lr>, "Proxy, Two" <sip:p2.example.com;lr>\n'
            "Route: <sip:p3.example.com;lr;x=a,b>\n"
        )
    )
    assert request.header_lines("route") == [
        '<sip:p1.example.com;lr>, "Proxy, Two" <sip:p2.example.com;lr>',
        "<sip:p3.example.com;lr;x=a,b>",
    ]
    assert request.header_values("route") == [
        "<sip:p1.example.com;lr>",
        '"Proxy, Two" <sip:p2.example.com;lr>',
        "<sip:p3.example.com;lr;x=a,b>",
    ]


def test_folded_lines_become_one_value() -> None:
    request = parse_request(
        invite("Subject: I know you're there,\n   pick up the phone\n\tand talk to me!\n")
    )
    assert request.header("subject") == ("I know you're there, pick up the phone and talk to me!")


def test_top_via_is_the_first_value_of_the_first_line() -> None:
    request = parse_request(
        invite().replace(
            b"Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds",
            b"Via: SIP/2.0/TCP a.example.com;branch=z9hG4bK1, SIP/2.0/UDP b.example.com\r\n"
            b"Via: SIP/2.0/UDP c.example.com",
        )
    )
    assert request.top_via == "SIP/2.0/TCP a.example.com;branch=z9hG4bK1"
    assert len(request.header_values("via")) == 3


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("Bad Name: x", "header name"),
        ("NoColonHere", "header line"),
        ("Call-ID: second@example.com", "More than one Call-ID"),
        ("Max-Forwards: 256", "Max-Forwards"),
        ("Max-Forwards: seventy", "Max-Forwards"),
    ],
)
def test_malformed_header_lines_are_400(line: str, fragment: str) -> None:
    data = invite().replace(b"X-Unknown: kept as is", line.encode())
    error = refused(data)
    assert error.status_hint == 400
    assert fragment in error.reason
    assert error.is_request
    # Every well-formed line is kept, so the request can still be answered.
    response = error_response_for(error.headers, error.status_hint, error.reason)
    assert response is not None
    assert response.reason == error.reason
    assert response.cseq == (314159, "INVITE")


def test_continuation_before_any_header_is_refused() -> None:
    data = invite().replace(b"SIP/2.0\r\nVia:", b"SIP/2.0\r\n  folded\r\nVia:")
    assert "continuation" in refused(data).reason


@pytest.mark.parametrize("header", ["Via", "From", "To", "Call-ID", "CSeq"])
def test_missing_mandatory_header_is_named(header: str) -> None:
    request = parse_request(invite())
    data = request.with_headers(remove_header(request.headers, header)).serialize()
    assert refused(data).reason == f"Missing {header} header"


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("Via", "SIP/2.0/UDP", "Via"),
        ("Via", "SIP/2.0/UDP host;;branch=z9hG4bK1", "parameter"),
        ("From", '"Alice <sip:alice@atlanta.example.com>;tag=1', "quote"),
        ("To", "Bob <sip:bob@biloxi.example.com", "'<'"),
        ("CSeq", "314159", "CSeq"),
        ("CSeq", "2147483648 INVITE", "CSeq"),
        ("CSeq", "314159 BYE", "CSeq method"),
    ],
)
def test_malformed_headers_the_proxy_uses_are_400(name: str, value: str, fragment: str) -> None:
    request = parse_request(invite())
    data = request.with_headers(set_header(request.headers, name, value)).serialize()
    error = refused(data)
    assert fragment in error.reason
    assert error.status_hint == 400


def test_headers_the_proxy_does_not_use_are_not_judged() -> None:
    # RFC 3261 §16.3 step 1: they "SHOULD be ignored and remain unchanged".
    extra = "Contact: <<garbage>>;;\nDate: yesterday\nExpires: never\n"
    request = parse_request(invite(extra))
    assert request.header("contact") == "<<garbage>>;;"
    assert parse_message(request.serialize()) == request


# ---------------------------------------------------------------------------
# Content-Length and bodies


def test_body_is_cut_at_content_length_and_extra_bytes_dropped() -> None:
    request = parse_request(invite() + b"garbage after the body")
    assert request.body == SDP


def test_body_shorter_than_content_length_is_refused() -> None:
    assert "larger" in refused(invite()[:-3]).reason


@pytest.mark.parametrize("value", ["-1", "12a", "", "١٢", "9" * 5000])
def test_malformed_content_length_is_refused(value: str) -> None:
    data = invite().replace(f"Content-Length: {len(SDP)}".encode(), f"l: {value}".encode())
    assert "Content-Length" in refused(data).reason


def test_without_content_length_the_body_runs_to_the_end() -> None:
    request = parse_request(crlf(INVITE_HEAD + "\n", SDP))
    assert request.body == SDP


def test_compact_content_length_is_honoured() -> None:
    data = invite().replace(f"Content-Length: {len(SDP)}".encode(), b"l: 3")
    assert parse_request(data).body == SDP[:3]


def test_opaque_binary_body_survives_byte_for_byte() -> None:
    body = bytes(range(256)) * 3 + b"\r\n\r\n\x00"
    data = invite(body=body)
    request = parse_request(data)
    assert request.body == body
    assert request.serialize() == data


def test_undecodable_header_bytes_survive_byte_for_byte() -> None:
    data = invite("X-Binary: \xff\xfe latin-1 \xe9t\xe9\n".encode("latin-1").decode("latin-1"))
    raw = data.replace("X-Binary: ÿþ latin-1 été".encode(), b"X-Binary: \xff\xfe latin-1 \xe9t\xe9")
    request = parse_request(raw)
    assert request.serialize() == raw


# ---------------------------------------------------------------------------
# Serialization


def test_serialize_is_the_received_bytes_for_a_canonical_message() -> None:
    data = invite()
    assert parse_message(data).serialize() == data


def test_serialize_normalises_only_whitespace_around_colons() -> None:
    data = invite("X-Spaced   :   value  \n")
    serialized = parse_message(data).serialize()
    assert b"X-Spaced: value\r\n" in serialized
    assert parse_message(serialized) == parse_message(data)


def test_constructed_message_equals_parsed_one() -> None:
    request = Request(
        "OPTIONS",
        "sip:bob@example.com",
        (
            ("Via", "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1"),
            ("From", "<sip:a@example.com>;tag=1"),
            ("To", "<sip:bob@example.com>"),
            ("Call-ID", "c1"),
            ("CSeq", "1 OPTIONS"),
            ("Content-Length", "0"),
        ),
    )
    assert request.serialize().startswith(b"OPTIONS sip:bob@example.com SIP/2.0\r\nVia: ")
    assert parse_message(request.serialize()) == request
    assert request.header("call-id") == "c1"


def test_proxy_edits_keep_unknown_headers_and_their_order() -> None:
    request = parse_request(invite("X-Second: 2\nx-third: 3\n"))
    headers = prepend_header(
        request.headers, "Via", "SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp"
    )
    headers = set_header(headers, "Max-Forwards", "69")
    forwarded = parse_request(request.with_headers(headers).serialize())
    names = [name for name, _ in forwarded.headers]
    assert names == ["Via", *[name for name, _ in request.headers]]
    assert forwarded.header_lines("x-unknown") == ["kept as is"]
    assert forwarded.max_forwards == 69
    assert forwarded.body == request.body


# ---------------------------------------------------------------------------
# Scalar header parsers


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1 INVITE", (1, "INVITE")),
        ("0009   ACK", (9, "ACK")),
        ("2147483647 BYE", (2**31 - 1, "BYE")),
    ],
)
def test_parse_cseq(value: str, expected: tuple[int, str]) -> None:
    assert parse_cseq(value) == expected


@pytest.mark.parametrize("value", ["", "1", "INVITE 1", "-1 INVITE", "1 IN VITE", "1 IN<VITE"])
def test_parse_cseq_refuses(value: str) -> None:
    with pytest.raises(SipParseError):
        parse_cseq(value)


@pytest.mark.parametrize(("value", "expected"), [("0", 0), ("070", 70), ("255", 255)])
def test_parse_max_forwards(value: str, expected: int) -> None:
    assert parse_max_forwards(value) == expected


# ---------------------------------------------------------------------------
# Header edit helpers

HEADERS = (
    ("Via", "SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/UDP b;branch=z9hG4bK2"),
    ("v", "SIP/2.0/UDP c;branch=z9hG4bK3"),
    ("Route", "<sip:r1;lr>"),
    ("Route", "<sip:r2;lr>"),
    ("To", "<sip:bob@example.com>"),
)


def test_prepend_header_goes_first() -> None:
    assert prepend_header(HEADERS, "Via", "x")[0] == ("Via", "x")
    assert prepend_header(HEADERS, "Via", "x")[1:] == HEADERS


def test_insert_header_before_the_first_match_or_at_the_end() -> None:
    assert insert_header_before(HEADERS, "route", "Record-Route", "<sip:p;lr>")[2] == (
        "Record-Route",
        "<sip:p;lr>",
    )
    assert insert_header_before(HEADERS, "Contact", "X", "y")[-1] == ("X", "y")


def test_drop_first_value_splits_a_joined_line() -> None:
    dropped = drop_first_value(HEADERS, "via")
    assert dropped[0] == ("Via", "SIP/2.0/UDP b;branch=z9hG4bK2")
    assert dropped[1:] == HEADERS[1:]


def test_drop_first_value_removes_a_single_valued_line() -> None:
    assert drop_first_value(HEADERS, "Route") == (*HEADERS[:2], *HEADERS[3:])
    assert drop_first_value(HEADERS, "Record-Route") == HEADERS


def test_replace_first_value_keeps_the_rest_of_the_line() -> None:
    replaced = replace_first_value(HEADERS, "VIA", "SIP/2.0/UDP a;branch=z9hG4bK1;received=1.2.3.4")
    assert replaced[0] == (
        "Via",
        "SIP/2.0/UDP a;branch=z9hG4bK1;received=1.2.3.4, SIP/2.0/UDP b;branch=z9hG4bK2",
    )
    assert replaced[1:] == HEADERS[1:]


def test_set_header_replaces_in_place_and_drops_duplicates() -> None:
    updated = set_header(HEADERS, "ROUTE", "<sip:only;lr>")
    assert updated == (*HEADERS[:2], ("Route", "<sip:only;lr>"), HEADERS[4])


def test_set_header_appends_when_absent() -> None:
    assert set_header(HEADERS, "Max-Forwards", "70")[-1] == ("Max-Forwards", "70")


def test_remove_header_removes_every_line_in_any_spelling() -> None:
    assert remove_header(HEADERS, "via") == HEADERS[2:]


# ---------------------------------------------------------------------------
# Building responses


def test_make_response_copies_what_rfc3261_8_2_6_2_asks() -> None:
    request = parse_request(invite("Record-Route: <sip:p.example.com;lr>\n"))
    response = make_response(request, 180, "Ringing", to_tag="t1", extra=(("Contact", "<sip:b>"),))
    assert (response.status, response.reason, response.body) == (180, "Ringing", b"")
    assert response.header_values("via") == request.header_values("via")
    assert response.header("from") == request.header("from")
    assert response.call_id == request.call_id
    assert response.cseq == request.cseq
    assert response.header("to") == "Bob <sip:bob@biloxi.example.com>;tag=t1"
    assert response.header("record-route") is None  # the proxy's answers make no dialog
    assert response.header("x-unknown") is None
    assert response.headers[-2:] == (("Contact", "<sip:b>"), ("Content-Length", "0"))
    assert parse_message(response.serialize()) == response


def test_make_response_copies_a_repeated_header_once() -> None:
    request = parse_request(invite()).with_headers(
        (*parse_request(invite()).headers, ("CSeq", "2 INVITE"), ("Call-ID", "other"))
    )
    response = make_response(request, 400, "Bad Request", to_tag="t1")
    assert response.header_lines("cseq") == [request.header("cseq")]
    assert response.header_lines("call-id") == [request.call_id]
    assert parse_message(response.serialize()) == response


def test_make_response_100_gets_no_tag_and_no_record_route() -> None:
    request = parse_request(invite("Record-Route: <sip:p.example.com;lr>\n"))
    trying = make_response(request, 100, "Trying", to_tag="t1")
    assert trying.header("to") == "Bob <sip:bob@biloxi.example.com>"
    final = make_response(request, 486, "Busy Here", to_tag="t1")
    assert final.header("record-route") is None


def test_make_response_keeps_an_existing_to_tag() -> None:
    request = parse_request(
        invite().replace(b"To: Bob <sip:bob@biloxi.example.com>", b"t: <sip:b>;tag=x")
    )
    assert make_response(request, 200, "OK", to_tag="other").header("to") == "<sip:b>;tag=x"


def test_error_response_for_a_request_that_failed_to_parse() -> None:
    error = refused(invite().replace(b"CSeq: 314159 INVITE", b"CSeq: 314159 BYE"))
    response = error_response_for(error.headers, error.status_hint, error.reason)
    assert response is not None
    assert (response.status, response.reason) == (400, error.reason)
    assert response.header("cseq") == "314159 BYE"
    assert response.header("to") == "Bob <sip:bob@biloxi.example.com>;tag=vp-err"


def test_error_response_needs_a_via_to_go_back_along() -> None:
    assert error_response_for((("Call-ID", "x"),), 400, "Bad") is None
    response = error_response_for((("Via", "SIP/2.0/UDP a;branch=z9hG4bK1"),), 400, "Bad")
    assert response is not None
    assert response.top_via == "SIP/2.0/UDP a;branch=z9hG4bK1"


def test_set_header_lines_puts_one_value_a_line_where_the_first_was() -> None:
    updated = set_header_lines(HEADERS, "route", ["<sip:a;lr>", "<sip:b;lr>"])
    assert updated == (*HEADERS[:2], ("route", "<sip:a;lr>"), ("route", "<sip:b;lr>"), HEADERS[4])
    assert set_header_lines(HEADERS, "X-New", ["1", "2"])[-2:] == (("X-New", "1"), ("X-New", "2"))
