"""RFC 4475 SIP torture test messages against the message layer.

The messages live in ``tests/torture_messages.py`` (the end-to-end test sends
the same ones to the running proxy). §3.1.1 messages are valid: they must parse
and the fields a proxy uses must read correctly. §3.1.2 messages are invalid: they must raise
SipParseError with a reason, never another exception. A few messages are
syntactically invalid only in headers a proxy does not act on (Date, Contact),
or valid with a scheme a proxy may not route: RFC 3261 §16.3 step 1 says such
components "SHOULD be ignored and remain unchanged when the message is
forwarded", so they parse, and the error comes from whoever interprets them.
"""

from __future__ import annotations

import pytest
from sipfactory import parse_request, parse_response, refused
from torture_messages import (
    BADASPEC,
    BADBRANCH,
    BADDATE,
    BADDN,
    BADINV01,
    BADVERS,
    BIGCODE,
    CLERR,
    DBLREQ,
    ESC01,
    ESC02,
    ESCNULL,
    ESCRURI,
    INSUF,
    INTMETH,
    LONGREQ,
    LTGTRURI,
    LWSDISP,
    LWSRURI,
    LWSSTART,
    MALFORMED,
    MCL01,
    MISMATCH01,
    MISMATCH02,
    MPART01,
    MPART01_BODY,
    MULTI01,
    NCL,
    NOREASON,
    NOVELSC,
    QUOTBAL,
    REGBADCT,
    SCALAR02,
    SCALARLG,
    SEMIURI,
    TRANSPORTS,
    TRWS,
    UNKSCM,
    UNREASON,
    UNREASON_TEXT,
    WSINV,
    ZEROMF,
)

from proxy.sip.address import parse_name_addr
from proxy.sip.errors import SipParseError
from proxy.sip.message import error_response_for, parse_message
from proxy.sip.uri import SipUri, parse_uri
from proxy.sip.via import parse_via

# ---------------------------------------------------------------------------
# Valid messages (RFC 4475 §3.1.1, plus badbranch and zeromf)


def test_wsinv_short_tortuous_invite() -> None:
    request = parse_request(WSINV)
    assert request.method == "INVITE"
    uri = parse_uri(request.uri)
    assert isinstance(uri, SipUri)
    assert (uri.user, uri.host, uri.params) == (
        "vivekg",
        "chair-dnrc.example.com",
        (("unknownparam", None),),
    )
    to = parse_name_addr(request.header("To") or "")
    assert (to.display_name, to.uri, to.tag) == (
        None,
        "sip:vivekg@chair-dnrc.example.com",
        "1918181833n",
    )
    sender = parse_name_addr(request.header("from") or "")
    assert sender.display_name == 'J Rosenberg \\"'
    assert sender.tag == "98asjd8"
    assert request.max_forwards == 68
    assert request.call_id == "wsinv.ndaksdj@192.0.2.1"
    assert request.cseq == (9, "INVITE")
    vias = [parse_via(value) for value in request.header_values("via")]
    assert [(via.transport, via.host, via.branch) for via in vias] == [
        ("UDP", "192.0.2.2", "390skdjuw"),
        ("TCP", "spindle.example.com", "z9hG4bK9ikj8"),
        ("UDP", "192.168.255.111", "z9hG4bK30239"),
    ]
    assert request.header("subject") == ""
    assert request.header("newfangledheader") == "newfangled value continued newfangled value"
    # Unknown headers are forwarded unchanged, even when they would not parse as params.
    assert request.header("UnknownHeaderWithUnusualValue") == ";;,,;;,;"
    contact = parse_name_addr(request.header("contact") or "")
    assert contact.display_name == 'Quoted string ""'
    assert contact.params == (("newparam", "newvalue"), ("secondparam", None), ("q", "0.33"))
    route = parse_uri(parse_name_addr(request.header("route") or "").uri)
    assert isinstance(route, SipUri) and route.is_loose_router
    assert route.param("unknown-no-value") == ""
    assert len(request.body) == 150
    assert parse_message(request.serialize()) == request


def test_intmeth_wide_range_of_valid_characters() -> None:
    request = parse_request(INTMETH)
    method = "!interesting-Method0123456789_*+`.%indeed'~"
    assert request.method == method
    assert request.cseq == (139122385, method)
    uri = parse_uri(request.uri)
    assert isinstance(uri, SipUri)
    assert uri.user == "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
    assert uri.password == "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"
    assert (uri.host, uri.headers) == ("example.com", "")
    assert parse_via(request.top_via).branch == "z9hG4bK-.!%66*_+`'~"
    to = parse_name_addr(request.header("to") or "")
    assert to.display_name == "BEL:\x07 NUL:\x00 DEL:\x7f"
    sender = parse_name_addr(request.header("from") or "")
    assert sender.display_name == "token1~` token2'+_ token3*%!.-"
    assert sender.tag == "_token~1'+`*%!-."
    assert sender.param("fromParam''~+*_!.-%") == '"работающий"'
    assert request.call_id == "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
    assert request.header("extensionHeader-!.%*+_`'~") == "\ufeff大停電"
    assert request.max_forwards == 255
    assert parse_message(request.serialize()) == request


def test_esc01_percent_escapes_stay_as_received() -> None:
    request = parse_request(ESC01)
    uri = parse_uri(request.uri)
    assert isinstance(uri, SipUri)
    assert (uri.user, uri.host) == ("sips%3Auser%40example.com", "example.net")
    to = parse_uri(parse_name_addr(request.header("t") or "").uri)
    assert isinstance(to, SipUri) and to.user == "%75se%72"
    assert request.call_id == "esc01.239409asdfakjkn23onasd0-3234"
    assert request.header("content-type") == "application/sdp"
    contact = parse_uri(parse_name_addr(request.header("m") or "").uri)
    assert isinstance(contact, SipUri)
    assert contact.user == "cal%6Cer"
    assert contact.params == (("%6C%72", None), ("n%61me", "v%61lue%25%34%31"))
    assert len(request.body) == 150


def test_esc02_percent_is_not_an_escape_in_methods_and_names() -> None:
    request = parse_request(ESC02)
    assert request.method == "RE%47IST%45R"  # an unknown method, not REGISTER
    assert parse_name_addr(request.header("to") or "").display_name == "%Z%45"
    assert parse_via(request.top_via).branch == "z9hG4bK209%fzsnel234"
    assert request.header_values("contact") == [
        "<sip:alias1@host1.example.com>",
        "<sip:alias3@host3.example.com>",
    ]
    assert request.header("C%6Fntact") == "<sip:alias2@host2.example.com>"


def test_escnull_escaped_nulls_in_user_parts() -> None:
    request = parse_request(ESCNULL)
    users = []
    for value in request.header_values("contact"):
        uri = parse_uri(parse_name_addr(value).uri)
        assert isinstance(uri, SipUri)
        users.append(uri.user)
    assert users == ["%00", "%00%00"]
    sender = parse_name_addr(request.header("from") or "")
    assert (sender.uri, sender.tag) == ("sip:null-%00-null@example.com", "839923423")
    assert request.body == b""


def test_lwsdisp_display_name_without_space_before_angle() -> None:
    sender = parse_name_addr(parse_request(LWSDISP).header("from") or "")
    assert (sender.display_name, sender.uri, sender.tag) == (
        "caller",
        "sip:caller@example.com",
        "323",
    )


def test_longreq_long_values_and_many_vias() -> None:
    request = parse_request(LONGREQ)
    to = parse_name_addr(request.header("to") or "")
    assert to.display_name is not None and to.display_name.endswith("extreme proportion")
    to_uri = parse_uri(to.uri)
    assert isinstance(to_uri, SipUri)
    assert to_uri.port == 6000
    assert to_uri.param("unknownparam1") == "very" + "long" * 20 + "value"
    assert len(to_uri.params) == 3
    sender = parse_name_addr(request.header("from") or "")
    assert sender.tag == "12" + "982" * 50 + "424"
    vias = [parse_via(value) for value in request.header_values("via")]
    assert len(vias) == 34
    assert [via.host for via in vias[:33]] == [f"sip{n}.example.com" for n in range(33, 0, -1)]
    assert vias[-1].param("received") == "192.0.2.5"
    assert vias[-1].branch == "very" + "long" * 50 + "branchvalue"
    unknown = request.header("unknown-" + "long" * 20 + "-name") or ""
    assert unknown.endswith("-parameter-value")
    assert len(request.body) == 150
    assert parse_message(request.serialize()) == request


def test_dblreq_bytes_after_the_body_are_ignored() -> None:
    request = parse_request(DBLREQ)
    assert request.method == "REGISTER"
    assert request.call_id == "dblreq.0ha0isndaksdj99sdfafnl3lk233412"
    assert request.body == b""
    assert b"INVITE" not in request.serialize()


def test_semiuri_semicolon_in_the_user_part() -> None:
    request = parse_request(SEMIURI)
    uri = parse_uri(request.uri)
    assert isinstance(uri, SipUri)
    assert (uri.user, uri.host, uri.params) == ("user;par=u%40example.net", "example.com", ())
    assert request.header_values("accept") == [
        "application/sdp",
        "application/pkcs7-mime",
        "multipart/mixed",
        "multipart/signed",
        "message/sip",
        "message/sipfrag",
    ]


def test_transports_every_known_and_an_unknown_transport() -> None:
    request = parse_request(TRANSPORTS)
    vias = [parse_via(value) for value in request.header_values("via")]
    assert [via.transport for via in vias] == ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]
    assert [via.sent_by for via in vias][:3] == [
        ("t1.example.com", 5060),
        ("t2.example.com", 5060),
        ("t3.example.com", 5061),
    ]
    assert request.call_id == "transports.kijh4akdnaqjkwendsasfdj"


def test_mpart01_binary_multipart_body_is_opaque() -> None:
    request = parse_request(MPART01)
    assert request.body == MPART01_BODY
    via = parse_via(request.top_via)
    assert (via.sent_by, via.has_param("rport"), via.param("rport")) == (
        ("127.0.0.1", 5070),
        True,
        "",
    )
    assert request.serialize() == MPART01


def test_unreason_utf8_reason_phrase() -> None:
    response = parse_response(UNREASON)
    assert (response.status, response.reason) == (200, UNREASON_TEXT)
    assert response.cseq == (35, "INVITE")
    assert parse_name_addr(response.header("to") or "").tag == "2229"
    assert len(response.body) == 154
    assert response.serialize() == UNREASON


def test_noreason_empty_reason_phrase() -> None:
    response = parse_response(NOREASON)
    assert (response.status, response.reason) == (100, "")
    assert response.serialize() == NOREASON


def test_badbranch_is_syntactically_valid() -> None:
    # RFC 4475 badbranch: a magic cookie without an id; the transaction layer decides.
    assert parse_via(parse_request(BADBRANCH).top_via).branch == "z9hG4bK"


def test_zeromf_parses_and_leaves_483_to_the_core() -> None:
    assert parse_request(ZEROMF).max_forwards == 0


# ---------------------------------------------------------------------------
# Application-layer cases (RFC 4475 §3.3 and two of §3.1.2) that must parse;
# interpreting them fails


@pytest.mark.parametrize("data", [UNKSCM, NOVELSC], ids=["unkscm", "novelsc"])
def test_unknown_request_uri_scheme_parses_and_routing_it_is_416(data: bytes) -> None:
    # RFC 4475 unkscm, novelsc: "A parser must accept this as a well-formed SIP
    # request"; an element that must interpret the URI answers 416.
    request = parse_request(data)
    with pytest.raises(SipParseError) as caught:
        parse_uri(request.uri)
    assert caught.value.status_hint == 416


def test_regbadct_contact_is_refused_by_whoever_reads_it() -> None:
    # A proxy forwards the Contact it does not use unchanged (RFC 3261 §16.3 step 1);
    # a registrar reading it gets the 400 that RFC 4475 regbadct asks for.
    request = parse_request(REGBADCT)
    assert request.header("contact") == "sip:user@example.com?Route=%3Csip:sip.example.com%3E"
    with pytest.raises(SipParseError) as caught:
        parse_name_addr(request.header("contact") or "")
    assert caught.value.status_hint == 400
    assert "<>" in caught.value.reason


def test_baddate_is_forwarded_unchanged() -> None:
    # RFC 4475 baddate: rejecting is acceptable, "though an element shouldn't do
    # that unless the contents of the Date header field were actually important to
    # its processing". A proxy never reads Date.
    request = parse_request(BADDATE)
    assert request.header("date") == "Fri, 01 Jan 2010 16:00:00 EST"
    assert request.serialize() == BADDATE


# ---------------------------------------------------------------------------
# Invalid messages (RFC 4475 §3.1.2, plus insuf, multi01 and mcl01 of §3.3)


INVALID = {
    # name: (message, status_hint, a word the reason must contain)
    "badinv01": (BADINV01, 400, "parameter"),
    "clerr": (CLERR, 400, "Content-Length"),
    "ncl": (NCL, 400, "Content-Length"),
    "scalar02": (SCALAR02, 400, "CSeq"),
    "scalarlg": (SCALARLG, 400, "CSeq"),
    "quotbal": (QUOTBAL, 400, "quote"),
    "ltgtruri": (LTGTRURI, 400, "Request-URI"),
    "lwsruri": (LWSRURI, 400, "request line"),
    "lwsstart": (LWSSTART, 400, "request line"),
    "trws": (TRWS, 400, "request line"),
    "escruri": (ESCRURI, 400, "Request-URI"),
    "badaspec": (BADASPEC, 400, "Whitespace"),
    "baddn": (BADDN, 400, "quoted"),
    "badvers": (BADVERS, 505, "version"),
    "mismatch01": (MISMATCH01, 400, "CSeq method"),
    "mismatch02": (MISMATCH02, 400, "CSeq method"),
    "bigcode": (BIGCODE, 400, "status line"),
    "insuf": (INSUF, 400, "Missing"),
    "multi01": (MULTI01, 400, "More than one"),
    "mcl01": (MCL01, 400, "More than one Content-Length"),
}


def test_every_malformed_message_has_an_expected_refusal() -> None:
    assert set(INVALID) == MALFORMED


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_message_is_refused_with_a_reason(name: str) -> None:
    data, status, word = INVALID[name]
    error = refused(data)
    assert error.status_hint == status
    assert word in error.reason


def test_refused_request_can_still_be_answered_when_it_can_be_routed_back() -> None:
    # RFC 4475 badinv01: "An element receiving this request should respond with a
    # 400 Bad Request error"; the reason phrase names the problem.
    error = refused(BADINV01)
    assert error.is_request
    response = error_response_for(error.headers, error.status_hint, error.reason)
    assert response is not None
    assert (response.status, response.reason) == (400, error.reason)
    assert response.call_id == "badinv01.0ha0isndaksdjasdf3234nas"
    assert response.header("via") == "SIP/2.0/UDP 192.0.2.15;;,;,,"
    assert parse_name_addr(response.header("to") or "").tag is not None


def test_request_missing_headers_is_answered_along_its_via() -> None:
    # RFC 4475 insuf: "should respond with a 400 Bad Request"; Via and CSeq are
    # enough for the sender to match the answer (RFC 3261 §17.1.3).
    error = refused(INSUF)
    assert error.is_request
    response = error_response_for(error.headers, error.status_hint, error.reason)
    assert response is not None
    assert (response.status, response.reason) == (400, "Missing From header")
    assert response.cseq == (193942, "INVITE")


def test_refused_response_is_marked_as_a_response() -> None:
    assert not refused(BIGCODE).is_request
