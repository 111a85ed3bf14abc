"""RFC 4475 SIP torture test messages against the message layer.

The messages are rewritten from RFC 4475 §3 (line ends are CRLF, as in the RFC's
bit-exact archive). §3.1.1 messages are valid: they must parse and the fields a
proxy uses must read correctly. §3.1.2 messages are invalid: they must raise
SipParseError with a reason, never another exception. A few messages are
syntactically invalid only in headers a proxy does not act on (Date, Contact),
or valid with a scheme a proxy may not route: RFC 3261 §16.3 step 1 says such
components "SHOULD be ignored and remain unchanged when the message is
forwarded", so they parse, and the error comes from whoever interprets them.
"""

from __future__ import annotations

import pytest
from sipfactory import parse_request, parse_response, refused

from proxy.sip.address import parse_name_addr
from proxy.sip.errors import SipParseError
from proxy.sip.message import error_response_for, parse_message
from proxy.sip.uri import SipUri, parse_uri
from proxy.sip.via import parse_via


def crlf(text: bytes) -> bytes:
    """The RFC shows messages with line ends; on the wire they are CRLF."""
    return text.replace(b"\n", b"\r\n")


def sdp(origin: bytes, connection: bytes, timing: bytes = b"0 0") -> bytes:
    """The SDP body most RFC 4475 messages carry."""
    return crlf(
        b"v=0\n"
        b"o=mhandley 29739 7272939 IN IP4 " + origin + b"\n"
        b"s=-\n"
        b"c=IN IP4 " + connection + b"\n"
        b"t=" + timing + b"\n"
        b"m=audio 49217 RTP/AVP 0 12\n"
        b"m=video 3227 RTP/AVP 31\n"
        b"a=rtpmap:31 LPC\n"
    )




# ---------------------------------------------------------------------------
# Valid messages (RFC 4475 §3.1.1, plus badbranch and zeromf)


WSINV = crlf(
    b"INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0\n"
    b"TO :\n"
    b" sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n\n"
    rb'from   : "J Rosenberg \\\""       <sip:jdrosen@example.com>' + b"\n"
    b"  ;\n"
    b"  tag = 98asjd8\n"
    b"MaX-fOrWaRdS: 0068\n"
    b"Call-ID: wsinv.ndaksdj@192.0.2.1\n"
    b"Content-Length   : 150\n"
    b"cseq: 0009\n"
    b"  INVITE\n"
    b"Via  : SIP  /   2.0\n"
    b" /UDP\n"
    b"    192.0.2.2;branch=390skdjuw\n"
    b"s :\n"
    b"NewFangledHeader:   newfangled value\n"
    b" continued newfangled value\n"
    b"UnknownHeaderWithUnusualValue: ;;,,;;,;\n"
    b"Content-Type: application/sdp\n"
    b"Route:\n"
    b" <sip:services.example.com;lr;unknownwith=value;unknown-no-value>\n"
    b"v:  SIP  / 2.0  / TCP     spindle.example.com   ;\n"
    b"  branch  =   z9hG4bK9ikj8  ,\n"
    b" SIP  /    2.0   / UDP  192.168.255.111   ; branch=\n"
    b" z9hG4bK30239\n"
    rb'm:"Quoted string \"\"" <sip:jdrosen@example.com> ; newparam =' + b"\n"
    b"      newvalue ;\n"
    b"  secondparam ; q = 0.33\n"
    b"\n"
) + sdp(b"192.0.2.3", b"192.0.2.4")


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


INTMETH = crlf(
    b"!interesting-Method0123456789_*+`.%indeed'~ sip:1_unusual.URI~(to-be!sure)&isn't+it$/"
    b"crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com SIP/2.0\n"
    b"Via: SIP/2.0/TCP host1.example.com;branch=z9hG4bK-.!%66*_+`'~\n"
    b'To: "BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f" <sip:1_unusual.URI~(to-be!sure)&isn\'t+it$/'
    b"crazy?,/;;*@example.com>\n"
    b"From: token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;fromParam''~+*_!.-%="
    b'"\xd1\x80\xd0\xb0\xd0\xb1\xd0\xbe\xd1\x82\xd0\xb0\xd1\x8e\xd1\x89\xd0\xb8\xd0\xb9"'
    b";tag=_token~1'+`*%!-.\n"
    b"Call-ID: intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{\n"
    b"CSeq: 139122385 !interesting-Method0123456789_*+`.%indeed'~\n"
    b"Max-Forwards: 255\n"
    b"extensionHeader-!.%*+_`'~:\xef\xbb\xbf\xe5\xa4\xa7\xe5\x81\x9c\xe9\x9b\xbb\n"
    b"Content-Length: 0\n"
    b"\n"
)


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


ESC01 = crlf(
    b"INVITE sip:sips%3Auser%40example.com@example.net SIP/2.0\n"
    b"To: sip:%75se%72@example.com\n"
    b"From: <sip:I%20have%20spaces@example.net>;tag=938\n"
    b"Max-Forwards: 87\n"
    b"i: esc01.239409asdfakjkn23onasd0-3234\n"
    b"CSeq: 234234 INVITE\n"
    b"Via: SIP/2.0/UDP host5.example.net;branch=z9hG4bKkdjuw\n"
    b"C: application/sdp\n"
    b"Contact:\n"
    b"  <sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31>\n"
    b"Content-Length: 150\n"
    b"\n"
) + sdp(b"192.0.2.1", b"192.0.2.1")


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


ESC02 = crlf(
    b"RE%47IST%45R sip:registrar.example.com SIP/2.0\n"
    b'To: "%Z%45" <sip:resource@example.com>\n'
    b'From: "%Z%45" <sip:resource@example.com>;tag=f232jadfj23\n'
    b"Call-ID: esc02.asdfnqwo34rq23i34jrjasdcnl23nrlknsdf\n"
    b"Via: SIP/2.0/TCP host.example.com;branch=z9hG4bK209%fzsnel234\n"
    b"CSeq: 29344 RE%47IST%45R\n"
    b"Max-Forwards: 70\n"
    b"Contact: <sip:alias1@host1.example.com>\n"
    b"C%6Fntact: <sip:alias2@host2.example.com>\n"
    b"Contact: <sip:alias3@host3.example.com>\n"
    b"l: 0\n"
    b"\n"
)


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


ESCNULL = crlf(
    b"REGISTER sip:example.com SIP/2.0\n"
    b"To: sip:null-%00-null@example.com\n"
    b"From: sip:null-%00-null@example.com;tag=839923423\n"
    b"Max-Forwards: 70\n"
    b"Call-ID: escnull.39203ndfvkjdasfkq3w4otrq0adsfdfnavd\n"
    b"CSeq: 14398234 REGISTER\n"
    b"Via: SIP/2.0/UDP host5.example.com;branch=z9hG4bKkdjuw\n"
    b"Contact: <sip:%00@host5.example.com>\n"
    b"Contact: <sip:%00%00@host5.example.com>\n"
    b"L:0\n"
    b"\n"
)


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


LWSDISP = crlf(
    b"OPTIONS sip:user@example.com SIP/2.0\n"
    b"To: sip:user@example.com\n"
    b"From: caller<sip:caller@example.com>;tag=323\n"
    b"Max-Forwards: 70\n"
    b"Call-ID: lwsdisp.1234abcd@funky.example.com\n"
    b"CSeq: 60 OPTIONS\n"
    b"Via: SIP/2.0/UDP funky.example.com;branch=z9hG4bKkdjuw\n"
    b"l: 0\n"
    b"\n"
)


def test_lwsdisp_display_name_without_space_before_angle() -> None:
    sender = parse_name_addr(parse_request(LWSDISP).header("from") or "")
    assert (sender.display_name, sender.uri, sender.tag) == (
        "caller",
        "sip:caller@example.com",
        "323",
    )


_LONG = b"long" * 20
_VIA_NAMES = (
    b"Via: ",
    b"v: ",
    b"V: ",
    b"Via: ",
    b"ViA: ",
    b"VIa: ",
    b"VIA: ",
    b"via: ",
    b"viA: ",
    b"vIa: ",
    b"vIA: ",
    b"V :  ",
    b"v :  ",
    b"V  : ",
    b"v  : ",
    b"Via : ",
    b"Via  : ",
)
LONGREQ = crlf(
    b"INVITE sip:user@example.com SIP/2.0\n"
    b'To: "I have a user name of ' + b"extreme" * 10 + b' proportion"'
    b"<sip:user@example.com:6000;"
    b"unknownparam1=very" + _LONG + b"value;longparam" + b"name" * 25 + b"=shortvalue;"
    b"very" + _LONG + b"longParameterNameWithNoValue>\n"
    b"F: sip:"
    + b"amazinglylongcallername" * 5
    + b"@example.net;tag=12"
    + b"982" * 50
    + b"424;unknownheaderparam"
    + b"name" * 20
    + b"=unknowheaderparam"
    + b"value" * 15
    + b";unknownValueless"
    + b"paramname" * 10
    + b"\n"
    b"Call-ID: longreq.one" + b"really" * 20 + b"longcallid\n"
    b"CSeq: 3882340 INVITE\n"
    b"Unknown-"
    + b"Long" * 20
    + b"-Name: unknown-"
    + _LONG
    + b"-value; unknown-"
    + _LONG
    + b"-parameter-name = unknown-"
    + _LONG
    + b"-parameter-value\n"
    + b"".join(
        name + b"SIP/2.0/TCP sip%d.example.com\n" % number
        for name, number in zip(_VIA_NAMES, range(33, 16, -1), strict=True)
    )
    + b"".join(b"Via: SIP/2.0/TCP sip%d.example.com\n" % number for number in range(16, 0, -1))
    + b"Via: SIP/2.0/TCP host.example.com;received=192.0.2.5;branch=very"
    + b"long" * 50
    + b"branchvalue\n"
    b"Max-Forwards: 70\n"
    b"Contact: <sip:" + b"amazinglylongcallername" * 5 + b"@host5.example.net>\n"
    b"Content-Type: application/sdp\n"
    b"l: 150\n"
    b"\n"
) + sdp(b"192.0.2.1", b"192.0.2.1")


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


DBLREQ = crlf(
    b"REGISTER sip:example.com SIP/2.0\n"
    b"To: sip:j.user@example.com\n"
    b"From: sip:j.user@example.com;tag=43251j3j324\n"
    b"Max-Forwards: 8\n"
    b"I: dblreq.0ha0isndaksdj99sdfafnl3lk233412\n"
    b"Contact: sip:j.user@host.example.com\n"
    b"CSeq: 8 REGISTER\n"
    b"Via: SIP/2.0/UDP 192.0.2.125;branch=z9hG4bKkdjuw23492\n"
    b"Content-Length: 0\n"
    b"\n"
    b"INVITE sip:joe@example.com SIP/2.0\n"
    b"t: sip:joe@example.com\n"
    b"From: sip:caller@example.net;tag=141334\n"
    b"Max-Forwards: 8\n"
    b"Call-ID: dblreq.0ha0isnda977644900765@192.0.2.15\n"
    b"CSeq: 8 INVITE\n"
    b"Via: SIP/2.0/UDP 192.0.2.15;branch=z9hG4bKkdjuw380234\n"
    b"Content-Type: application/sdp\n"
    b"Content-Length: 150\n"
    b"\n"
) + sdp(b"192.0.2.15", b"192.0.2.15")


def test_dblreq_bytes_after_the_body_are_ignored() -> None:
    request = parse_request(DBLREQ)
    assert request.method == "REGISTER"
    assert request.call_id == "dblreq.0ha0isndaksdj99sdfafnl3lk233412"
    assert request.body == b""
    assert b"INVITE" not in request.serialize()


SEMIURI = crlf(
    b"OPTIONS sip:user;par=u%40example.net@example.com SIP/2.0\n"
    b"To: sip:j_user@example.com\n"
    b"From: sip:caller@example.org;tag=33242\n"
    b"Max-Forwards: 3\n"
    b"Call-ID: semiuri.0ha0isndaksdj\n"
    b"CSeq: 8 OPTIONS\n"
    b"Accept: application/sdp, application/pkcs7-mime,\n"
    b"        multipart/mixed, multipart/signed,\n"
    b"        message/sip, message/sipfrag\n"
    b"Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKkdjuw\n"
    b"l: 0\n"
    b"\n"
)


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


TRANSPORTS = crlf(
    b"OPTIONS sip:user@example.com SIP/2.0\n"
    b"To: sip:user@example.com\n"
    b"From: <sip:caller@example.com>;tag=323\n"
    b"Max-Forwards: 70\n"
    b"Call-ID:  transports.kijh4akdnaqjkwendsasfdj\n"
    b"Accept: application/sdp\n"
    b"CSeq: 60 OPTIONS\n"
    b"Via: SIP/2.0/UDP t1.example.com;branch=z9hG4bKkdjuw\n"
    b"Via: SIP/2.0/SCTP t2.example.com;branch=z9hG4bKklasjdhf\n"
    b"Via: SIP/2.0/TLS t3.example.com;branch=z9hG4bK2980unddj\n"
    b"Via: SIP/2.0/UNKNOWN t4.example.com;branch=z9hG4bKasd0f3en\n"
    b"Via: SIP/2.0/TCP t5.example.com;branch=z9hG4bK0a9idfnee\n"
    b"l: 0\n"
    b"\n"
)


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


# RFC 4475 mpart01 carries a binary S/MIME part; its exact octets are only in the
# RFC's archive, so this body keeps the structure with binary octets of our own,
# NULs and CR LF CR LF included, which a framer must not mistake for anything.
MPART01_BODY = (
    crlf(
        b"--7a9cbec02ceef655\n"
        b"Content-Type: text/plain\n"
        b"Content-Transfer-Encoding: binary\n"
        b"\n"
        b"Hello\n"
        b"--7a9cbec02ceef655\n"
        b"Content-Type: application/octet-stream\n"
        b"Content-Transfer-Encoding: binary\n"
        b"\n"
    )
    + (bytes(range(256)) + b"\x00\x00\r\n\r\n\x30\x82\x01\x52\x06\x09\x2a\x86\x48\x86\xf7\x0d")
    + crlf(b"\n--7a9cbec02ceef655--\n")
)
MPART01 = (
    crlf(
        b"MESSAGE sip:kumiko@example.org SIP/2.0\n"
        b"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-d87543-4dade06d0bdb11ee-1--d87543-"
        b";rport\n"
        b"Max-Forwards: 70\n"
        b"Route: <sip:127.0.0.1:5080>\n"
        b"Identity: r5mwreLuyDRYBi/0TiPwEsY3rEVsk/G2WxhgTV1PF7hHuLIK0YWVKZhKv9Mj8UeXqkMVbnVq37CD"
        b"+813gvYjcBUaZngQmXc9WNZSDNGCzA+fWl9MEUHWIZo1CeJebdY/XlgKeTa0Olvq0rt70Q5jiSfbqMJmQFte"
        b"eivUhkMWYUA=\n"
        b"Contact: <sip:fluffy@127.0.0.1:5070>\n"
        b"To: <sip:kumiko@example.org>\n"
        b"From: <sip:fluffy@example.com>;tag=2fb0dcc9\n"
        b"Call-ID: 3d9485ad0c49859b@Zmx1ZmZ5LW1hYy0xNi5sb2NhbA..\n"
        b"CSeq: 1 MESSAGE\n"
        b"Content-Transfer-Encoding: binary\n"
        b"Content-Type: multipart/mixed;boundary=7a9cbec02ceef655\n"
        b"Date: Sat, 15 Oct 2005 04:44:56 GMT\n"
        b"User-Agent: SIPimp.org/0.2.5 (curses)\n"
    )
    + b"Content-Length: %d\r\n\r\n" % len(MPART01_BODY)
    + MPART01_BODY
)


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


UNREASON_TEXT = "= 2**3 * 5**2 но сто девяносто девять - простое"
UNREASON = (
    b"SIP/2.0 200 "
    + UNREASON_TEXT.encode()
    + b"\r\n"
    + crlf(
        b"Via: SIP/2.0/UDP 192.0.2.198;branch=z9hG4bK1324923\n"
        b"Call-ID: unreason.1234ksdfak3j2erwedfsASdf\n"
        b"CSeq: 35 INVITE\n"
        b"From: sip:user@example.com;tag=11141343\n"
        b"To: sip:user@example.edu;tag=2229\n"
        b"Content-Length: 154\n"
        b"Content-Type: application/sdp\n"
        b"Contact: <sip:user@host198.example.com>\n"
        b"\n"
    )
    + sdp(b"192.0.2.198", b"192.0.2.198")
)


def test_unreason_utf8_reason_phrase() -> None:
    response = parse_response(UNREASON)
    assert (response.status, response.reason) == (200, UNREASON_TEXT)
    assert response.cseq == (35, "INVITE")
    assert parse_name_addr(response.header("to") or "").tag == "2229"
    assert len(response.body) == 154
    assert response.serialize() == UNREASON


NOREASON = b"SIP/2.0 100 \r\n" + crlf(
    b"Via: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaoe\n"
    b"Call-ID: noreason.asndj203insdf99223ndf\n"
    b"CSeq: 35 INVITE\n"
    b"From: <sip:user@example.com>;tag=39ansfi3\n"
    b"To: <sip:user@example.edu>;tag=902jndnke3\n"
    b"Content-Length: 0\n"
    b"Contact: <sip:user@host105.example.com>\n"
    b"\n"
)


def test_noreason_empty_reason_phrase() -> None:
    response = parse_response(NOREASON)
    assert (response.status, response.reason) == (100, "")
    assert response.serialize() == NOREASON


BADBRANCH = crlf(
    b"OPTIONS sip:user@example.com SIP/2.0\n"
    b"To: sip:user@example.com\n"
    b"From: sip:caller@example.org;tag=33242\n"
    b"Max-Forwards: 3\n"
    b"Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK\n"
    b"Accept: application/sdp\n"
    b"Call-ID: badbranch.sadonfo23i420jv0as0derf3j3n\n"
    b"CSeq: 8 OPTIONS\n"
    b"l: 0\n"
    b"\n"
)


def test_badbranch_is_syntactically_valid() -> None:
    # RFC 4475 badbranch: a magic cookie without an id; the transaction layer decides.
    assert parse_via(parse_request(BADBRANCH).top_via).branch == "z9hG4bK"


ZEROMF = crlf(
    b"OPTIONS sip:user@example.com SIP/2.0\n"
    b"To: sip:user@example.com\n"
    b"From: sip:caller@example.net;tag=3ghsd41\n"
    b"Call-ID: zeromf.jfasdlfnm2o2l43r5u0asdfas\n"
    b"CSeq: 39234321 OPTIONS\n"
    b"Via: SIP/2.0/UDP host1.example.com;branch=z9hG4bKkdjuw2349i\n"
    b"Max-Forwards: 0\n"
    b"Content-Length: 0\n"
    b"\n"
)


def test_zeromf_parses_and_leaves_483_to_the_core() -> None:
    assert parse_request(ZEROMF).max_forwards == 0


# ---------------------------------------------------------------------------
# Application-layer cases (RFC 4475 §3.3 and two of §3.1.2) that must parse;
# interpreting them fails


UNKSCM = crlf(
    b"OPTIONS nobodyKnowsThisScheme:totallyopaquecontent SIP/2.0\n"
    b"To: sip:user@example.com\n"
    b"From: sip:caller@example.net;tag=384\n"
    b"Max-Forwards: 3\n"
    b"Call-ID: unkscm.nasdfasser0q239nwsdfasdkl34\n"
    b"CSeq: 3923423 OPTIONS\n"
    b"Via: SIP/2.0/TCP host9.example.com;branch=z9hG4bKkdjuw39234\n"
    b"Content-Length: 0\n"
    b"\n"
)
NOVELSC = crlf(
    b"OPTIONS soap.beep://192.0.2.103:3002 SIP/2.0\n"
    b"To: sip:user@example.com\n"
    b"From: sip:caller@example.net;tag=384\n"
    b"Max-Forwards: 3\n"
    b"Call-ID: novelsc.asdfasser0q239nwsdfasdkl34\n"
    b"CSeq: 3923423 OPTIONS\n"
    b"Via: SIP/2.0/TCP host9.example.com;branch=z9hG4bKkdjuw39234\n"
    b"Content-Length: 0\n"
    b"\n"
)


@pytest.mark.parametrize("data", [UNKSCM, NOVELSC], ids=["unkscm", "novelsc"])
def test_unknown_request_uri_scheme_parses_and_routing_it_is_416(data: bytes) -> None:
    # RFC 4475 unkscm, novelsc: "A parser must accept this as a well-formed SIP
    # request"; an element that must interpret the URI answers 416.
    request = parse_request(data)
    with pytest.raises(SipParseError) as caught:
        parse_uri(request.uri)
    assert caught.value.status_hint == 416


REGBADCT = crlf(
    b"REGISTER sip:example.com SIP/2.0\n"
    b"To: sip:user@example.com\n"
    b"From: sip:user@example.com;tag=998332\n"
    b"Max-Forwards: 70\n"
    b"Call-ID: regbadct.k345asrl3fdbv@10.0.0.1\n"
    b"CSeq: 1 REGISTER\n"
    b"Via: SIP/2.0/UDP 135.180.130.133:5060;branch=z9hG4bKkdjuw\n"
    b"Contact: sip:user@example.com?Route=%3Csip:sip.example.com%3E\n"
    b"l: 0\n"
    b"\n"
)


def test_regbadct_contact_is_refused_by_whoever_reads_it() -> None:
    # A proxy forwards the Contact it does not use unchanged (RFC 3261 §16.3 step 1);
    # a registrar reading it gets the 400 that RFC 4475 regbadct asks for.
    request = parse_request(REGBADCT)
    assert request.header("contact") == "sip:user@example.com?Route=%3Csip:sip.example.com%3E"
    with pytest.raises(SipParseError) as caught:
        parse_name_addr(request.header("contact") or "")
    assert caught.value.status_hint == 400
    assert "<>" in caught.value.reason


BADDATE = crlf(
    b"INVITE sip:user@example.com SIP/2.0\n"
    b"To: sip:user@example.com\n"
    b"From: sip:caller@example.net;tag=2234923\n"
    b"Max-Forwards: 70\n"
    b"Call-ID: baddate.239423mnsadf3j23lj42--sedfnm234\n"
    b"CSeq: 1392934 INVITE\n"
    b"Via: SIP/2.0/UDP host.example.com;branch=z9hG4bKkdjuw\n"
    b"Date: Fri, 01 Jan 2010 16:00:00 EST\n"
    b"Contact: <sip:caller@host5.example.net>\n"
    b"Content-Type: application/sdp\n"
    b"Content-Length: 150\n"
    b"\n"
) + sdp(b"192.0.2.5", b"192.0.2.5")


def test_baddate_is_forwarded_unchanged() -> None:
    # RFC 4475 baddate: rejecting is acceptable, "though an element shouldn't do
    # that unless the contents of the Date header field were actually important to
    # its processing". A proxy never reads Date.
    request = parse_request(BADDATE)
    assert request.header("date") == "Fri, 01 Jan 2010 16:00:00 EST"
    assert request.serialize() == BADDATE


# ---------------------------------------------------------------------------
# Invalid messages (RFC 4475 §3.1.2, plus insuf, multi01 and mcl01 of §3.3)


BADINV01 = crlf(
    b"INVITE sip:user@example.com SIP/2.0\n"
    b"To: sip:j.user@example.com\n"
    b"From: sip:caller@example.net;tag=134161461246\n"
    b"Max-Forwards: 7\n"
    b"Call-ID: badinv01.0ha0isndaksdjasdf3234nas\n"
    b"CSeq: 8 INVITE\n"
    b"Via: SIP/2.0/UDP 192.0.2.15;;,;,,\n"
    b'Contact: "Joe" <sip:joe@example.org>;;;;\n'
    b"Content-Length: 152\n"
    b"Content-Type: application/sdp\n"
    b"\n"
) + sdp(b"192.0.2.15", b"192.0.2.15")
CLERR = crlf(
    b"INVITE sip:user@example.com SIP/2.0\n"
    b"Max-Forwards: 80\n"
    b"To: sip:j.user@example.com\n"
    b"From: sip:caller@example.net;tag=93942939o2\n"
    b"Contact: <sip:caller@hungry.example.net>\n"
    b"Call-ID: clerr.0ha0isndaksdjweiafasdk3\n"
    b"CSeq: 8 INVITE\n"
    b"Via: SIP/2.0/UDP host5.example.com;branch=z9hG4bK-39234-23523\n"
    b"Content-Type: application/sdp\n"
    b"Content-Length: 9999\n"
    b"\n"
) + sdp(b"192.0.2.155", b"192.0.2.155")
NCL = crlf(
    b"INVITE sip:user@example.com SIP/2.0\n"
    b"Max-Forwards: 254\n"
    b"To: sip:j.user@example.com\n"
    b"From: sip:caller@example.net;tag=32394234\n"
    b"Call-ID: ncl.0ha0isndaksdj2193423r542w35\n"
    b"CSeq: 0 INVITE\n"
    b"Via: SIP/2.0/UDP 192.0.2.53;branch=z9hG4bKkdjuw\n"
    b"Contact: <sip:caller@example53.example.net>\n"
    b"Content-Type: application/sdp\n"
    b"Content-Length: -999\n"
    b"\n"
) + sdp(b"192.0.2.53", b"192.0.2.53")
SCALAR02 = crlf(
    b"REGISTER sip:example.com SIP/2.0\n"
    b"Via: SIP/2.0/TCP host129.example.com;branch=z9hG4bK342sdfoi3\n"
    b"To: <sip:user@example.com>\n"
    b"From: <sip:user@example.com>;tag=239232jh3\n"
    b"CSeq: 36893488147419103232 REGISTER\n"
    b"Call-ID: scalar02.23o0pd9vanlq3wnrlnewofjas9ui32\n"
    b"Max-Forwards: 300\n"
    b"Expires: 1" + b"0" * 100 + b"\n"
    b"Contact: <sip:user@host129.example.com>\n"
    b"  ;expires=280297596632815\n"
    b"Content-Length: 0\n"
    b"\n"
)
SCALARLG = crlf(
    b"SIP/2.0 503 Service Unavailable\n"
    b"Via: SIP/2.0/TCP host129.example.com;branch=z9hG4bKzzxdiwo34sw;received=192.0.2.129\n"
    b"To: <sip:user@example.com>\n"
    b"From: <sip:other@example.net>;tag=2easdjfejw\n"
    b"CSeq: 9292394834772304023312 OPTIONS\n"
    b"Call-ID: scalarlg.noase0of0234hn2qofoaf0232aewf2394r\n"
    b"Retry-After: 949302838503028349304023988\n"
    b'Warning: 1812 overture "In Progress"\n'
    b"Content-Length: 0\n"
    b"\n"
)
QUOTBAL = crlf(
    b"INVITE sip:user@example.com SIP/2.0\n"
    b'To: "Mr. J. User <sip:j.user@example.com>\n'
    b"From: sip:caller@example.net;tag=93334\n"
    b"Max-Forwards: 10\n"
    b"Call-ID: quotbal.aksdj\n"
    b"Contact: <sip:caller@host59.example.net>\n"
    b"CSeq: 8 INVITE\n"
    b"Via: SIP/2.0/UDP 192.0.2.59:5050;branch=z9hG4bKkdjuw39234\n"
    b"Content-Type: application/sdp\n"
    b"Content-Length: 152\n"
    b"\n"
) + sdp(b"192.0.2.15", b"192.0.2.15")
LTGTRURI = crlf(
    b"INVITE <sip:user@example.com> SIP/2.0\n"
    b"To: sip:user@example.com\n"
    b"From: sip:caller@example.net;tag=39291\n"
    b"Max-Forwards: 23\n"
    b"Call-ID: ltgtruri.1@192.0.2.5\n"
    b"CSeq: 1 INVITE\n"
    b"Via: SIP/2.0/UDP 192.0.2.5\n"
    b"Contact: <sip:caller@host5.example.net>\n"
    b"Content-Type: application/sdp\n"
    b"Content-Length: 159\n"
    b"\n"
) + sdp(b"192.0.2.5", b"192.0.2.5", b"3149328700 0")
LWSRURI = crlf(
    b"INVITE sip:user@example.com; lr SIP/2.0\n"
    b"To: sip:user@example.com;tag=3xfe-9921883-z9f\n"
    b"From: sip:caller@example.net;tag=231413434\n"
    b"Max-Forwards: 5\n"
    b"Call-ID: lwsruri.asdfasdoeoi2323-asdfwrn23-asd834rk423\n"
    b"CSeq: 2130706432 INVITE\n"
    b"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKkdjuw2395\n"
    b"Contact: <sip:caller@host1.example.net>\n"
    b"Content-Type: application/sdp\n"
    b"Content-Length: 159\n"
    b"\n"
) + sdp(b"192.0.2.1", b"192.0.2.1", b"3149328700 0")
LWSSTART = crlf(
    b"INVITE  sip:user@example.com  SIP/2.0\n"
    b"Max-Forwards: 8\n"
    b"To: sip:user@example.com\n"
    b"From: sip:caller@example.net;tag=8814\n"
    b"Call-ID: lwsstart.dfknq234oi243099adsdfnawe3@example.com\n"
    b"CSeq: 1893884 INVITE\n"
    b"Via: SIP/2.0/UDP host1.example.com;branch=z9hG4bKkdjuw3923\n"
    b"Contact: <sip:caller@host1.example.net>\n"
    b"Content-Type: application/sdp\n"
    b"Content-Length: 150\n"
    b"\n"
) + sdp(b"192.0.2.1", b"192.0.2.1")
TRWS = b"OPTIONS sip:remote-target@example.com SIP/2.0  \r\n" + crlf(
    b"Via: SIP/2.0/TCP host1.examle.com;branch=z9hG4bK299342093\n"
    b"To: <sip:remote-target@example.com>\n"
    b"From: <sip:local-resource@example.com>;tag=329429089\n"
    b"Call-ID: trws.oicu34958239neffasdhr2345r\n"
    b"Accept: application/sdp\n"
    b"CSeq: 238923 OPTIONS\n"
    b"Max-Forwards: 70\n"
    b"Content-Length: 0\n"
    b"\n"
)
ESCRURI = crlf(
    b"INVITE sip:user@example.com?Route=%3Csip:example.com%3E SIP/2.0\n"
    b"To: sip:user@example.com\n"
    b"From: sip:caller@example.net;tag=341518\n"
    b"Max-Forwards: 7\n"
    b"Contact: <sip:caller@host39923.example.net>\n"
    b"Call-ID: escruri.23940-asdfhj-aje3br-234q098w-fawerh2q-h4n5\n"
    b"CSeq: 149209342 INVITE\n"
    b"Via: SIP/2.0/UDP host-of-the-hour.example.com;branch=z9hG4bKkdjuw\n"
    b"Content-Type: application/sdp\n"
    b"Content-Length: 150\n"
    b"\n"
) + sdp(b"192.0.2.1", b"192.0.2.1")
BADASPEC = crlf(
    b"OPTIONS sip:user@example.org SIP/2.0\n"
    b"Via: SIP/2.0/UDP host4.example.com:5060;branch=z9hG4bKkdju43234\n"
    b"Max-Forwards: 70\n"
    b'From: "Bell, Alexander" <sip:a.g.bell@example.com>;tag=433423\n'
    b'To: "Watson, Thomas" < sip:t.watson@example.org >\n'
    b"Call-ID: badaspec.sdf0234n2nds0a099u23h3hnnw009cdkne3\n"
    b"Accept: application/sdp\n"
    b"CSeq: 3923239 OPTIONS\n"
    b"l: 0\n"
    b"\n"
)
BADDN = crlf(
    b"OPTIONS sip:t.watson@example.org SIP/2.0\n"
    b"Via:     SIP/2.0/UDP c.example.com:5060;branch=z9hG4bKkdjuw\n"
    b"Max-Forwards:      70\n"
    b"From:    Bell, Alexander <sip:a.g.bell@example.com>;tag=43\n"
    b"To:      Watson, Thomas <sip:t.watson@example.org>\n"
    b"Call-ID: baddn.31415@c.example.com\n"
    b"Accept: application/sdp\n"
    b"CSeq:    3923239 OPTIONS\n"
    b"l: 0\n"
    b"\n"
)
BADVERS = crlf(
    b"OPTIONS sip:t.watson@example.org SIP/7.0\n"
    b"Via:     SIP/7.0/UDP c.example.com;branch=z9hG4bKkdjuw\n"
    b"Max-Forwards:     70\n"
    b"From:    A. Bell <sip:a.g.bell@example.com>;tag=qweoiqpe\n"
    b"To:      T. Watson <sip:t.watson@example.org>\n"
    b"Call-ID: badvers.31417@c.example.com\n"
    b"CSeq:    1 OPTIONS\n"
    b"l: 0\n"
    b"\n"
)
MISMATCH01 = crlf(
    b"OPTIONS sip:user@example.com SIP/2.0\n"
    b"To: sip:j.user@example.com\n"
    b"From: sip:caller@example.net;tag=34525\n"
    b"Max-Forwards: 6\n"
    b"Call-ID: mismatch01.dj0234sxdfl3\n"
    b"CSeq: 8 INVITE\n"
    b"Via: SIP/2.0/UDP host.example.com;branch=z9hG4bKkdjuw\n"
    b"l: 0\n"
    b"\n"
)
MISMATCH02 = crlf(
    b"NEWMETHOD sip:user@example.com SIP/2.0\n"
    b"To: sip:j.user@example.com\n"
    b"From: sip:caller@example.net;tag=34525\n"
    b"Max-Forwards: 6\n"
    b"Call-ID: mismatch02.dj0234sxdfl3\n"
    b"CSeq: 8 INVITE\n"
    b"Contact: <sip:caller@host.example.net>\n"
    b"Via: SIP/2.0/UDP host.example.net;branch=z9hG4bKkdjuw\n"
    b"Content-Type: application/sdp\n"
    b"l: 138\n"
    b"\n"
    b"v=0\n"
    b"o=mhandley 29739 7272939 IN IP4 192.0.2.1\n"
    b"c=IN IP4 192.0.2.1\n"
    b"m=audio 49217 RTP/AVP 0 12\n"
    b"m=video 3227 RTP/AVP 31\n"
    b"a=rtpmap:31 LPC\n"
)
BIGCODE = crlf(
    b"SIP/2.0 4294967301 better not break the receiver\n"
    b"Via: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaoe\n"
    b"Call-ID: bigcode.asdof3uj203asdnf3429uasdhfas3ehjasdfas9i\n"
    b"CSeq: 353494 INVITE\n"
    b"From: <sip:user@example.com>;tag=39ansfi3\n"
    b"To: <sip:user@example.edu>;tag=902jndnke3\n"
    b"Content-Length: 0\n"
    b"Contact: <sip:user@host105.example.com>\n"
    b"\n"
)
INSUF = crlf(
    b"INVITE sip:user@example.com SIP/2.0\n"
    b"CSeq: 193942 INVITE\n"
    b"Via: SIP/2.0/UDP 192.0.2.95;branch=z9hG4bKkdj.insuf\n"
    b"Content-Type: application/sdp\n"
    b"l: 152\n"
    b"\n"
) + sdp(b"192.0.2.95", b"192.0.2.95")
MULTI01 = (
    crlf(
        b"INVITE sip:user@company.com SIP/2.0\n"
        b"Contact: <sip:caller@host25.example.net>\n"
        b"Via: SIP/2.0/UDP 192.0.2.25;branch=z9hG4bKkdjuw\n"
        b"Max-Forwards: 70\n"
        b"CSeq: 5 INVITE\n"
        b"Call-ID: multi01.98asdh@192.0.2.1\n"
        b"CSeq: 59 INVITE\n"
        b"Call-ID: multi01.98asdh@192.0.2.2\n"
        b"From: sip:caller@example.com;tag=3413415\n"
        b"To: sip:user@example.com\n"
        b"To: sip:other@example.net\n"
        b"From: sip:caller@example.net;tag=2923420123\n"
        b"Content-Type: application/sdp\n"
        b"l: 154\n"
        b"Contact: <sip:caller@host36.example.net>\n"
        b"Max-Forwards: 5\n"
        b"\n"
    )
    + sdp(b"192.0.2.25", b"192.0.2.25")
    + b"\r\n"
)
MCL01 = crlf(
    b"OPTIONS sip:user@example.com SIP/2.0\n"
    b"Via: SIP/2.0/UDP host5.example.net;branch=z9hG4bK293423\n"
    b"To: sip:user@example.com\n"
    b"From: sip:other@example.net;tag=3923942\n"
    b"Call-ID: mcl01.fhn2323orihawfdoa3o4r52o3irsdf\n"
    b"CSeq: 15932 OPTIONS\n"
    b"Content-Length: 13\n"
    b"Max-Forwards: 60\n"
    b"Content-Length: 5\n"
    b"Content-Type: text/plain\n"
    b"\n"
    b"There's no way to know how many octets are supposed to be here.\n"
)

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
