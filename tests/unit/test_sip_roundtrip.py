"""Property: parse_message(m.serialize()) == m for generated requests and responses.

The generated messages carry the headers a proxy checks (valid, in any order, in
any case, sometimes in compact form), unknown headers with arbitrary text
values, and arbitrary bodies, with or without Content-Length.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.sip.message import Header, Request, Response, parse_message

TOKEN_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~"
tokens = st.text(alphabet=TOKEN_CHARS, min_size=1, max_size=10)
labels = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=8)
hostnames = st.lists(labels, min_size=1, max_size=3).map(".".join)
ipv4 = st.tuples(*[st.integers(0, 255)] * 4).map(lambda parts: ".".join(map(str, parts)))
ipv6 = st.lists(st.integers(0, 0xFFFF).map("{:x}".format), min_size=8, max_size=8).map(
    lambda groups: "[" + ":".join(groups) + "]"
)
hosts = st.one_of(hostnames, ipv4, ipv6)
ports = st.one_of(st.just(""), st.integers(1, 65535).map(":{}".format))
users = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_.!~*'()&=+$,;?/%", min_size=1)
params = st.lists(
    st.tuples(tokens, st.one_of(st.none(), tokens)).map(
        lambda pair: f";{pair[0]}" if pair[1] is None else f";{pair[0]}={pair[1]}"
    ),
    max_size=3,
).map("".join)
sip_uris = st.builds(
    "{}:{}{}{}{}".format,
    st.sampled_from(["sip", "sips", "SIP"]),
    st.one_of(st.just(""), users.map("{}@".format)),
    hosts,
    ports,
    params,
)
request_uris = st.one_of(sip_uris, st.just("tel:+12015550123"), st.just("urn:service:sos"))
# Display names as quoted strings with quoted-pairs, or tokens.
quoted = st.text(
    alphabet=st.characters(exclude_categories=["Cs", "Cc"], exclude_characters='"\\'),
    max_size=12,
)
display_names = st.one_of(
    st.just(""),
    quoted.map('"{}" '.format),
    st.just('"a \\"quoted\\" \\\\ name" '),
    tokens.map("{} ".format),
)
addresses = st.one_of(
    st.builds("{}<{}>{}".format, display_names, sip_uris, params),
    st.builds(
        "{}{}".format, sip_uris.filter(lambda uri: ";" not in uri and "?" not in uri), params
    ),
)
vias = st.builds(
    "SIP/2.0/{} {}{};branch=z9hG4bK{}{}".format,
    st.sampled_from(["UDP", "TCP", "TLS", "WS"]),
    hosts,
    ports,
    tokens,
    st.sampled_from(["", ";rport", ";rport=5060;received=192.0.2.1", ";maddr=239.1.1.1"]),
)
# Unknown header values: any text on one line, without surrounding blanks (the
# parser strips spaces and tabs around a value, as HCOLON and line ends allow).
line_text = st.text(
    alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\r\n"),
    max_size=30,
).filter(lambda text: text == text.strip(" \t"))
unknown_headers = st.lists(st.tuples(tokens.map("X-{}".format), line_text), max_size=6)


def _spelled(name: str, compact: str | None) -> st.SearchStrategy[str]:
    spellings = [name, name.lower(), name.upper()]
    if compact is not None:
        spellings.append(compact)
    return st.sampled_from(spellings)


@st.composite
def headers_for(draw: st.DrawFn, method: str, body: bytes) -> tuple[Header, ...]:
    headers: list[Header] = [
        (draw(_spelled("Via", "v")), draw(vias)),
        (draw(_spelled("From", "f")), draw(addresses)),
        (draw(_spelled("To", "t")), draw(addresses)),
        (draw(_spelled("Call-ID", "i")), draw(tokens) + "@" + draw(hosts)),
        (draw(_spelled("CSeq", None)), f"{draw(st.integers(0, 2**31 - 1))} {method}"),
        *draw(unknown_headers),
    ]
    if draw(st.booleans()):
        headers.append((draw(_spelled("Max-Forwards", None)), str(draw(st.integers(0, 255)))))
    if draw(st.booleans()):
        headers.append((draw(_spelled("Via", "v")), draw(vias)))
    if body or draw(st.booleans()):
        headers.append((draw(_spelled("Content-Length", "l")), str(len(body))))
    return tuple(draw(st.permutations(headers)))


@st.composite
def requests(draw: st.DrawFn) -> Request:
    method = draw(st.one_of(st.sampled_from(["INVITE", "ACK", "BYE", "CANCEL"]), tokens))
    body = draw(st.binary(max_size=64))
    return Request(method, draw(request_uris), draw(headers_for(method, body)), body)


@st.composite
def responses(draw: st.DrawFn) -> Response:
    method = draw(st.sampled_from(["INVITE", "OPTIONS", "BYE"]))
    body = draw(st.binary(max_size=64))
    reason = draw(line_text)
    return Response(draw(st.integers(100, 699)), reason, draw(headers_for(method, body)), body)


@settings(max_examples=500)
@given(requests())
def test_requests_round_trip(request: Request) -> None:
    parsed = parse_message(request.serialize())
    assert parsed == request
    assert parsed.headers == request.headers  # order and spelling preserved


@settings(max_examples=500)
@given(responses())
def test_responses_round_trip(response: Response) -> None:
    assert parse_message(response.serialize()) == response


@settings(max_examples=300)
@given(requests())
def test_a_requests_wire_size_is_its_serialized_length(request: Request) -> None:
    """Exact for ASCII text; a non-ASCII character of a header counts one byte short
    of its UTF-8 form, which the transport choice it serves can afford."""
    data = request.serialize()
    head = data[: len(data) - len(request.body)]
    if head.isascii():
        assert request.wire_size() == len(data)
    else:
        assert request.wire_size() < len(data)
