"""The RFC 4475 §3 SIP torture messages, shared by the unit and end-to-end tests.

The messages are rewritten from RFC 4475 §3 (line ends are CRLF, as in the RFC's
bit-exact archive). ``tests/unit/test_sip_torture.py`` feeds them to the parser;
``tests/e2e/test_torture.py`` sends them to the running proxy over UDP and TCP.
Each constant is named after the RFC's message; :data:`MESSAGES` lists them all
by that name and :data:`MALFORMED` names those an element must refuse.
"""

from __future__ import annotations


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


# ---------------------------------------------------------------------------
# Every message by its RFC 4475 name


MESSAGES: dict[str, bytes] = {
    "wsinv": WSINV,
    "intmeth": INTMETH,
    "esc01": ESC01,
    "esc02": ESC02,
    "escnull": ESCNULL,
    "lwsdisp": LWSDISP,
    "longreq": LONGREQ,
    "dblreq": DBLREQ,
    "semiuri": SEMIURI,
    "transports": TRANSPORTS,
    "mpart01": MPART01,
    "unreason": UNREASON,
    "noreason": NOREASON,
    "badbranch": BADBRANCH,
    "zeromf": ZEROMF,
    "unkscm": UNKSCM,
    "novelsc": NOVELSC,
    "regbadct": REGBADCT,
    "baddate": BADDATE,
    "badinv01": BADINV01,
    "clerr": CLERR,
    "ncl": NCL,
    "scalar02": SCALAR02,
    "scalarlg": SCALARLG,
    "quotbal": QUOTBAL,
    "ltgtruri": LTGTRURI,
    "lwsruri": LWSRURI,
    "lwsstart": LWSSTART,
    "trws": TRWS,
    "escruri": ESCRURI,
    "badaspec": BADASPEC,
    "baddn": BADDN,
    "badvers": BADVERS,
    "mismatch01": MISMATCH01,
    "mismatch02": MISMATCH02,
    "bigcode": BIGCODE,
    "insuf": INSUF,
    "multi01": MULTI01,
    "mcl01": MCL01,
}

# The messages a receiver must refuse: RFC 4475 §3.1.2 plus insuf, multi01 and
# mcl01 of §3.3. Everything else is well formed (§3.1.1), or fails only when an
# element interprets it (unkscm, novelsc, regbadct, baddate).
MALFORMED = frozenset({
    "badinv01", "clerr", "ncl", "scalar02", "scalarlg", "quotbal", "ltgtruri", "lwsruri",
    "lwsstart", "trws", "escruri", "badaspec", "baddn", "badvers", "mismatch01",
    "mismatch02", "bigcode", "insuf", "multi01", "mcl01",
})
