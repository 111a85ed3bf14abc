"""Matching messages to transactions (RFC 3261 §17.1.3, §17.2.3, §9.2)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sipfactory import request, response

from proxy.sip.errors import SipParseError
from proxy.sip.message import Request, Response
from proxy.transaction.keys import (
    client_key,
    client_key_for,
    server_key,
    server_key_for_cancelled_invite,
)

BRANCH = "z9hG4bK-key-1"
INVITE = request("INVITE", branch=BRANCH)


def test_rfc3261_server_key_is_branch_sent_by_and_method() -> None:
    assert server_key(INVITE) == (BRANCH, "127.0.0.1", 5070, "INVITE")


def test_a_retransmission_matches_its_original() -> None:
    assert server_key(request("INVITE", branch=BRANCH)) == server_key(INVITE)


def test_ack_of_a_non_2xx_matches_its_invite() -> None:
    ack = request("ACK", branch=BRANCH, to_tag="bob-tag")
    assert server_key(ack) == server_key(INVITE)


def test_ack_of_a_2xx_has_a_new_branch_and_does_not_match() -> None:
    ack = request("ACK", branch="z9hG4bK-key-2", to_tag="bob-tag")
    assert server_key(ack) != server_key(INVITE)


def test_cancel_is_its_own_transaction_but_names_the_invite() -> None:
    cancel = request("CANCEL", branch=BRANCH)
    assert server_key(cancel) != server_key(INVITE)
    assert server_key(cancel) == (BRANCH, "127.0.0.1", 5070, "CANCEL")
    assert server_key_for_cancelled_invite(cancel) == server_key(INVITE)


def test_sent_by_is_part_of_the_key() -> None:
    other_port = request("INVITE", branch=BRANCH, via_port=5071)
    other_host = request("INVITE", branch=BRANCH, via_host="127.0.0.2")
    assert server_key(other_port) != server_key(INVITE)
    assert server_key(other_host) != server_key(INVITE)


def test_sent_by_host_case_and_default_port_do_not_matter() -> None:
    implicit = request("INVITE", branch=BRANCH, via_host="LocalHost", via_port=None)
    explicit = request("INVITE", branch=BRANCH, via_host="localhost", via_port=5060)
    assert server_key(implicit) == server_key(explicit)


def test_same_branch_other_method_is_another_transaction() -> None:
    assert server_key(request("OPTIONS", branch=BRANCH)) != server_key(INVITE)


# -- RFC 2543 peers: no magic cookie -------------------------------------------------

OLD_INVITE = request("INVITE", branch="old-branch-1")


@pytest.mark.parametrize("branch", ["old-branch-1", None])
def test_rfc2543_retransmission_and_ack_match_without_cookie(branch: str | None) -> None:
    invite = request("INVITE", branch=branch)
    assert server_key(request("INVITE", branch=branch)) == server_key(invite)
    ack = request("ACK", branch=branch, to_tag="from-our-response")
    assert server_key(ack) == server_key(invite)
    cancel = request("CANCEL", branch=branch)
    assert server_key(cancel) != server_key(invite)
    assert server_key_for_cancelled_invite(cancel) == server_key(invite)


@pytest.mark.parametrize(
    "other",
    [
        request("INVITE", branch="old-branch-1", cseq=2),
        request("INVITE", branch="old-branch-1", from_tag="someone-else"),
        request("INVITE", branch="old-branch-1", call_id="call-2@127.0.0.1"),
        request("INVITE", branch="old-branch-1", uri="sip:carol@127.0.0.1"),
        request("INVITE", branch="old-branch-2"),
        request("INVITE", branch="old-branch-1", via_port=5071),
    ],
)
def test_rfc2543_key_tells_other_requests_apart(other: Request) -> None:
    assert server_key(other) != server_key(OLD_INVITE)


def test_rfc2543_and_rfc3261_keys_never_collide() -> None:
    assert len(server_key(OLD_INVITE)) != len(server_key(INVITE))


# -- client side ---------------------------------------------------------------------


def test_client_key_of_a_response_is_the_key_we_registered() -> None:
    assert client_key_for(INVITE) == (BRANCH, "INVITE")
    assert client_key(response(INVITE, 180)) == client_key_for(INVITE)
    assert client_key(response(INVITE, 486)) == client_key_for(INVITE)


def test_client_key_tells_cancel_from_its_invite() -> None:
    cancel = request("CANCEL", branch=BRANCH)
    assert client_key(response(cancel, 200)) == client_key_for(cancel) == (BRANCH, "CANCEL")
    assert client_key_for(cancel) != client_key_for(INVITE)


def test_ack_belongs_to_the_invite_on_the_client_side_too() -> None:
    assert client_key_for(request("ACK", branch=BRANCH)) == client_key_for(INVITE)


def test_response_without_branch_gets_a_key_no_transaction_has() -> None:
    bare = request("INVITE", branch=None)
    assert client_key(response(bare, 200)) == ("", "INVITE")


def test_garbage_top_via_matches_nothing_or_raises_sip_parse_error() -> None:
    # The parser has already refused a response whose top Via does not parse; a
    # response built by hand with one gets a key no transaction of ours has.
    broken = Response(200, "OK", (("Via", "garbage"), ("CSeq", "1 INVITE")))
    assert client_key(broken) == ("", "INVITE")
    with pytest.raises(SipParseError):
        server_key(INVITE.with_headers((("Via", "SIP/2.0/UDP"), *INVITE.headers[1:])))


_VALUES = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=40)


@given(via=_VALUES, cseq=_VALUES, from_value=_VALUES, method=st.sampled_from(["INVITE", "ACK"]))
def test_keys_only_ever_raise_sip_parse_error(
    via: str, cseq: str, from_value: str, method: str
) -> None:
    headers = (("Via", via), ("From", from_value), ("CSeq", cseq), ("Call-ID", "x"))
    odd_request = Request(method, "sip:bob@127.0.0.1", headers)
    odd_response = Response(200, "OK", headers)
    matches: list[Callable[[], object]] = [
        lambda: server_key(odd_request),
        lambda: server_key_for_cancelled_invite(odd_request),
        lambda: client_key_for(odd_request),
        lambda: client_key(odd_response),
    ]
    for match in matches:
        with contextlib.suppress(SipParseError):
            match()


@given(branch=st.text(alphabet="abcdefXYZ0123456789-.", min_size=1, max_size=12))
def test_well_formed_vias_always_match_their_own_retransmission(branch: str) -> None:
    invite = request("INVITE", branch=f"z9hG4bK{branch}")
    assert server_key(request("INVITE", branch=f"z9hG4bK{branch}")) == server_key(invite)
    assert client_key(response(invite, 200)) == client_key_for(invite)


_NUMBERS = st.text(alphabet=st.characters(categories=["N"]), min_size=1, max_size=6)


@given(host=st.sampled_from(["127.0.0.1", "[::1]", "proxy.example"]), port=_NUMBERS)
def test_odd_sent_by_ports_only_ever_raise_sip_parse_error(host: str, port: str) -> None:
    via = f"SIP/2.0/UDP {host}:{port};branch=z9hG4bK-1"
    odd = INVITE.with_headers((("Via", via), *INVITE.headers[1:]))
    with contextlib.suppress(SipParseError):
        assert server_key(odd)[2] == int(port)
