"""URIs, Via values, name-addr / addr-spec and parameters (uri, via, address, params)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.sip import address, checks
from proxy.sip import via as via_module
from proxy.sip.address import NameAddr, parse_name_addr
from proxy.sip.errors import SipParseError
from proxy.sip.params import find_param, format_params, parse_params, with_param
from proxy.sip.replaces import parse_replaces
from proxy.sip.uri import SipUri, TelUri, parse_uri, split_host_port, uri_scheme, uri_user
from proxy.sip.via import parse_via

# ---------------------------------------------------------------------------
# URIs


def test_sip_uri_with_every_part() -> None:
    uri = parse_uri("sips:alice:secret@atlanta.example.com:5061;transport=tcp;lr?subject=hi&x=1")
    assert uri == SipUri(
        "sips",
        "alice",
        "secret",
        "atlanta.example.com",
        5061,
        (("transport", "tcp"), ("lr", None)),
        "subject=hi&x=1",
    )
    assert uri.param("TRANSPORT") == "tcp"
    assert uri.is_loose_router
    assert str(uri) == "sips:alice:secret@atlanta.example.com:5061;transport=tcp;lr?subject=hi&x=1"


def test_sip_uri_without_user_or_port() -> None:
    uri = parse_uri("SIP:proxy.example.com")
    assert isinstance(uri, SipUri)
    assert (uri.scheme, uri.user, uri.host, uri.port, uri.params) == (
        "sip",
        None,
        "proxy.example.com",
        None,
        (),
    )
    assert not uri.is_loose_router


def test_ipv6_hosts_keep_their_brackets() -> None:
    uri = parse_uri("sip:bob@[2001:db8::10]:5070;maddr=[2001:db8::1]")
    assert isinstance(uri, SipUri)
    assert (uri.host, uri.port, uri.param("maddr")) == ("[2001:db8::10]", 5070, "[2001:db8::1]")
    assert str(uri) == "sip:bob@[2001:db8::10]:5070;maddr=[2001:db8::1]"


def test_user_part_may_hold_reserved_characters() -> None:
    uri = parse_uri("sip:a;b=c?d/e@example.com;p")
    assert isinstance(uri, SipUri)
    assert (uri.user, uri.host, uri.params, uri.headers) == (
        "a;b=c?d/e",
        "example.com",
        (("p", None),),
        "",
    )


def test_with_param_replaces_in_place_or_appends() -> None:
    uri = parse_uri("sip:example.com;lr;transport=udp")
    assert isinstance(uri, SipUri)
    # The existing parameter keeps its place and its spelling.
    assert str(uri.with_param("Transport", "tcp")) == "sip:example.com;lr;transport=tcp"
    assert str(uri.with_param("maddr", "192.0.2.1")) == (
        "sip:example.com;lr;transport=udp;maddr=192.0.2.1"
    )


def test_tel_uri() -> None:
    uri = parse_uri("tel:+1-201-555-0123;phone-context=example.com")
    assert uri == TelUri("+1-201-555-0123", (("phone-context", "example.com"),))
    assert uri.param("phone-context") == "example.com"
    assert str(uri) == "tel:+1-201-555-0123;phone-context=example.com"


@pytest.mark.parametrize(
    "text",
    [
        "sip:",
        "sip:@example.com",
        "sip:bob@",
        "sip:bob@exa mple.com",
        "sip:bob@example.com:0",
        "sip:bob@example.com:65536",
        "sip:bob@example.com:50a",
        "sip:bob@[2001:db8::1",
        "sip:bob@[2001:db8::1]x",
        "sip:bob@example.com;;lr",
        "sip:bob@example.com;lr;",
        "tel:",
        "<sip:bob@example.com>",
        "bob@example.com",
    ],
)
def test_malformed_uris_are_400(text: str) -> None:
    with pytest.raises(SipParseError) as caught:
        parse_uri(text)
    assert caught.value.status_hint == 400


@pytest.mark.parametrize("text", ["http://example.com/", "mailto:bob@example.com", "im:bob@x"])
def test_other_schemes_are_416(text: str) -> None:
    with pytest.raises(SipParseError) as caught:
        parse_uri(text)
    assert caught.value.status_hint == 416


def test_uri_scheme_and_uri_user() -> None:
    assert uri_scheme("SIPS:x") == "sips"
    assert uri_scheme("soap.beep://192.0.2.103:3002") == "soap.beep"
    assert uri_scheme("<sip:x>") is None
    assert uri_scheme("sip:") is None
    assert uri_user("sip:alice@example.com;user=phone") == "alice"
    assert uri_user("tel:+4930123") == "+4930123"
    assert uri_user("sip:example.com") is None
    assert uri_user("garbage") is None


def test_split_host_port_tolerates_spaces_around_the_colon() -> None:
    assert split_host_port("host.example.com : 5062") == ("host.example.com", 5062)
    assert split_host_port("[::1]:5060") == ("[::1]", 5060)
    assert split_host_port("192.0.2.1") == ("192.0.2.1", None)


# ---------------------------------------------------------------------------
# Via


def test_via_with_branch_received_rport_and_maddr() -> None:
    via = parse_via(
        "SIP/2.0/UDP pc33.atlanta.example.com:5066;branch=z9hG4bK776;received=192.0.2.9"
        ";rport=50000;maddr=239.255.255.1;ttl=16"
    )
    assert (via.protocol, via.transport, via.host, via.port) == (
        "SIP/2.0",
        "UDP",
        "pc33.atlanta.example.com",
        5066,
    )
    assert via.branch == "z9hG4bK776"
    assert via.param("received") == "192.0.2.9"
    assert via.param("RPORT") == "50000"
    assert via.param("maddr") == "239.255.255.1"
    assert via.sent_by == ("pc33.atlanta.example.com", 5066)
    assert str(via) == (
        "SIP/2.0/UDP pc33.atlanta.example.com:5066;branch=z9hG4bK776;received=192.0.2.9"
        ";rport=50000;maddr=239.255.255.1;ttl=16"
    )


def test_via_rport_flag_and_filling_it_in() -> None:
    # RFC 3581 §4: the server fills in the rport flag and adds received.
    via = parse_via("SIP/2.0/UDP 10.0.0.7;rport;branch=z9hG4bKx")
    assert via.has_param("rport") and via.param("rport") == ""
    filled = via.with_param("rport", "40000").with_param("received", "192.0.2.77")
    assert str(filled) == "SIP/2.0/UDP 10.0.0.7;rport=40000;branch=z9hG4bKx;received=192.0.2.77"


@pytest.mark.parametrize(
    ("value", "sent_by"),
    [
        ("SIP/2.0/TCP host", ("host", 5060)),
        ("SIP/2.0/tls host", ("host", 5061)),
        ("SIP/2.0/WSS host", ("host", 443)),
        ("SIP/2.0/UDP [2001:db8::5]:5070;branch=z9hG4bKv6", ("[2001:db8::5]", 5070)),
        ("SIP / 2.0 / UDP   host : 5080 ; branch = z9hG4bK1", ("host", 5080)),
    ],
)
def test_via_sent_by_and_default_ports(value: str, sent_by: tuple[str, int]) -> None:
    assert parse_via(value).sent_by == sent_by


def test_via_without_branch_is_well_formed() -> None:
    # RFC 2543 peers send none; the transaction layer falls back (RFC 3261 §17.2.3).
    assert parse_via("SIP/2.0/UDP host").branch is None


@pytest.mark.parametrize(
    "value",
    [
        "",
        "SIP/2.0/UDP",
        "SIP/2.0 host",
        "SIP/2.0/UDP host;;branch=z9hG4bK1",
        "SIP/2.0/UDP host;branch=z9hG4bK1;",
        "SIP/2.0/UDP host junk",
        "SIP/2.0/UDP host:99999",
        "SIP/2.0/UDP ho<st",
        'SIP/2.0/UDP host;x="unclosed',
    ],
)
def test_malformed_via_values(value: str) -> None:
    with pytest.raises(SipParseError):
        parse_via(value)


# ---------------------------------------------------------------------------
# name-addr and addr-spec


def test_name_addr_with_quoted_display_name() -> None:
    address = parse_name_addr(
        '"Bob \\"B\\" Smith" <sip:bob@biloxi.example.com;transport=tcp>;tag=a1'
    )
    assert address == NameAddr(
        'Bob "B" Smith', "sip:bob@biloxi.example.com;transport=tcp", (("tag", "a1"),)
    )
    assert address.tag == "a1"
    assert str(address) == '"Bob \\"B\\" Smith" <sip:bob@biloxi.example.com;transport=tcp>;tag=a1'


def test_addr_spec_params_belong_to_the_header() -> None:
    # RFC 3261 §20.10: without <>, ";tag" is a header parameter, not a URI one.
    address = parse_name_addr("sip:bob@biloxi.example.com;tag=a1;x")
    assert (address.display_name, address.uri, address.params) == (
        None,
        "sip:bob@biloxi.example.com",
        (("tag", "a1"), ("x", None)),
    )


def test_token_display_name_and_editing() -> None:
    address = parse_name_addr("Alice Liddell <sip:alice@example.com> ; tag = 9")
    assert (address.display_name, address.tag) == ("Alice Liddell", "9")
    edited = address.with_display_name("VIP Alice").with_param("tag", "10")
    assert str(edited) == '"VIP Alice" <sip:alice@example.com>;tag=10'


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ('"unclosed <sip:a@b>', "quote"),
        ('"x" sip:a@b', "'<uri>'"),
        ("<sip:a@b", "'<'"),
        ("< sip:a@b>", "Whitespace"),
        ("<sip:a@b> junk", "after '>'"),
        ("Bell, Alexander <sip:a@b>", "quoted"),
        ("sip:a@b?subject=x", "'<>'"),
        ("<nocolon>", "URI"),
        ("*", "URI"),
        ("<sip:a@b>;;tag=1", "parameter"),
    ],
)
def test_malformed_addresses(value: str, fragment: str) -> None:
    with pytest.raises(SipParseError) as caught:
        parse_name_addr(value)
    assert fragment in caught.value.reason


# ---------------------------------------------------------------------------
# Parameters


def test_params_helpers() -> None:
    params = parse_params(' lr ; q = 0.5;tag="a;b" ')
    assert params == (("lr", None), ("q", "0.5"), ("tag", '"a;b"'))
    assert find_param(params, "LR") == ""
    assert find_param(params, "missing") is None
    assert format_params(params) == ';lr;q=0.5;tag="a;b"'
    assert with_param(params, "Q", "1") == (("lr", None), ("q", "1"), ("tag", '"a;b"'))
    with pytest.raises(SipParseError):
        parse_params("")  # what follows a trailing ";"


# ---------------------------------------------------------------------------
# The fast paths of checks.py and of the parsers accept nothing the full parsers refuse.

_VIA_ALPHABET = st.sampled_from(
    ["SIP/2.0/", "UDP", "TCP", " ", "host", ".", "-", "[", "]", ":", "1", "5060", "65535", "0",
     ";", "=", "branch", "z9hG4bK", "rport", '"', ",", "<", "_", "a"]
)  # fmt: skip
_ADDRESS_ALPHABET = st.sampled_from(
    ["sip:", "tel:", "x:", "bob", "@", "example.com", "<", ">", '"', "\\", " ", ";", "tag",
     "=", "1", "?", ",", "Bob", "%", "*", ":", "lr", "TAG", "\t", "-", "'"]
)  # fmt: skip
_URI_ALPHABET = st.sampled_from(
    ["sip:", "sips:", "bob", "@", "example.com", "[::1]", ":", "5060", "0", "99999", ";", "lr",
     "=", "?", "h=v", "%41", "/", "&", " ", "a;b", ",", "$"]
)  # fmt: skip


def _text(alphabet: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.lists(alphabet, max_size=12).map("".join)


@settings(max_examples=400)
@given(_text(_VIA_ALPHABET))
def test_plain_via_fast_path_reads_what_the_full_parser_reads(value: str) -> None:
    if via_module._PLAIN_VIA.fullmatch(value):
        assert parse_via(value) == via_module._read_via(value)


@settings(max_examples=1000)
@given(_text(_ADDRESS_ALPHABET))
def test_plain_name_addr_fast_path_reads_what_the_full_parser_reads(value: str) -> None:
    if address.PLAIN_NAME_ADDR.fullmatch(value):
        assert parse_name_addr(value) == address._read_name_addr(value)


@settings(max_examples=400)
@given(_text(_URI_ALPHABET))
def test_plain_sip_uri_fast_path_is_a_subset_of_parse_uri(value: str) -> None:
    if checks._PLAIN_SIP_URI.fullmatch(value):
        uri = parse_uri(value)
        assert isinstance(uri, SipUri) and not uri.headers


@pytest.mark.parametrize(
    ("check", "value"),
    [
        (via_module.check_via, "SIP/2.0/UDP host:65000;branch=z9hG4bK1"),  # slow path, valid
        (checks.check_name_addr, '"A \\"q\\"" <sip:a@b>'),
        (checks.check_sip_request_uri, "sip:user:pw@example.com"),
        (checks.check_sip_request_uri, "tel:+123"),
    ],
)
def test_checks_accept_unusual_valid_values(check: object, value: str) -> None:
    assert callable(check)
    check(value)


@pytest.mark.parametrize(
    ("check", "value"),
    [
        (via_module.check_via, "SIP/2.0/UDP host;;"),
        (checks.check_name_addr, "<sip:a@b>;;"),
        (checks.check_sip_request_uri, "sip:a@b?Route=x"),
        (checks.check_sip_request_uri, "sip:a@b:0"),
    ],
)
def test_checks_refuse_malformed_values(check: object, value: str) -> None:
    assert callable(check)
    with pytest.raises(SipParseError):
        check(value)


def test_replaces_names_the_dialog_from_the_recipients_side() -> None:
    replaces = parse_replaces("98732@sip.example.com ;from-tag=r33th4x0r;to-tag=ff87ff")
    assert (replaces.call_id, replaces.to_tag, replaces.from_tag, replaces.early_only) == (
        "98732@sip.example.com", "ff87ff", "r33th4x0r", False)
    assert parse_replaces(replaces.header_value()) == replaces
    assert parse_replaces("a@b;to-tag=1;from-tag=2;early-only").early_only


@pytest.mark.parametrize("value", ["", "a@b", "a@b;to-tag=1", "a@b;from-tag=2",
                                   ";to-tag=1;from-tag=2"])
def test_a_replaces_without_its_call_id_or_a_tag_is_malformed(value: str) -> None:
    with pytest.raises(SipParseError):
        parse_replaces(value)
