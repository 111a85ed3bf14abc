"""Why a call is diverted (RFC 5806 reason, RFC 4458 cause) and how the headers say it."""

from __future__ import annotations

import pytest
from sipfactory import request

from proxy.core.decorate import decorate_for_target
from proxy.core.diversion import (
    NO_ANSWER,
    UNAVAILABLE,
    UNCONDITIONAL,
    USER_BUSY,
    Diversion,
    diversion_after,
)
from proxy.policy.plan import Target, TargetRole

LINE = "sip:1000@127.0.0.1:5060"
MAILBOX = Target("sip:vm-alice@127.0.0.20:5072", TargetRole.VOICEMAIL)
DELEGATE = Target("sip:bob@127.0.0.11", TargetRole.DELEGATE)


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        pytest.param([486, 486], USER_BUSY, id="everybody-busy"),
        pytest.param([600], USER_BUSY, id="busy-everywhere"),
        pytest.param([408, 408], NO_ANSWER, id="nobody-answered-in-time"),
        pytest.param([480], NO_ANSWER, id="temporarily-unavailable"),
        pytest.param([486, 408], NO_ANSWER, id="busy-and-rang-out"),
        pytest.param([603, 487], NO_ANSWER, id="declined-and-cancelled-with-the-stage"),
        pytest.param([486, 404], USER_BUSY, id="busy-and-not-found"),
        pytest.param([404, 404], UNAVAILABLE, id="everybody-404"),
        pytest.param([503, 500, 403], UNAVAILABLE, id="every-branch-failed"),
        pytest.param([], UNAVAILABLE, id="nothing-to-ring"),
    ],
)
def test_the_reason_follows_what_the_branches_answered(
    statuses: list[int], expected: Diversion
) -> None:
    assert diversion_after(statuses) == expected


def test_reason_and_cause_are_rfc_7544_pairs() -> None:
    pairs = {d.reason: d.cause for d in (UNCONDITIONAL, USER_BUSY, NO_ANSWER, UNAVAILABLE)}
    assert pairs == {"unconditional": 302, "user-busy": 486, "no-answer": 408, "unavailable": 503}


def _to_mailbox(diversion: Diversion, *extra: tuple[str, str]) -> list[tuple[str, str]]:
    invite = request("INVITE", uri=MAILBOX.uri, extra=extra)
    decorated = decorate_for_target(
        invite, MAILBOX, original_uri=LINE, diversion=diversion, strip_asserted_identity=False
    )
    return [(n, v) for n, v in decorated.headers if n in ("History-Info", "Diversion")]


def test_history_info_entries_go_out_as_separate_lines_with_the_cause() -> None:
    assert _to_mailbox(USER_BUSY) == [
        ("History-Info", "<sip:1000@127.0.0.1:5060?Reason=SIP%3Bcause%3D486>;index=1"),
        ("History-Info", "<sip:vm-alice@127.0.0.20:5072;cause=486>;index=1.1;mp=1"),
        ("Diversion", "<sip:1000@127.0.0.1:5060>;reason=user-busy;counter=1;privacy=off"),
    ]


def test_entries_already_on_the_call_are_kept_one_a_line_before_ours() -> None:
    headers = _to_mailbox(
        NO_ANSWER,
        ("History-Info", "<sip:+14155550100@pbx>;index=1, <sip:1000@127.0.0.1:5060>;index=1.1"),
        ("Diversion", "<sip:+14155550100@pbx>;reason=unconditional;counter=1"),
    )
    assert headers == [
        ("History-Info", "<sip:+14155550100@pbx>;index=1"),
        ("History-Info", "<sip:1000@127.0.0.1:5060>;index=1.1"),
        ("History-Info", "<sip:vm-alice@127.0.0.20:5072;cause=408>;index=1.1.1;mp=1.1"),
        # RFC 5806: the latest diversion on top.
        ("Diversion", "<sip:1000@127.0.0.1:5060>;reason=no-answer;counter=1;privacy=off"),
        ("Diversion", "<sip:+14155550100@pbx>;reason=unconditional;counter=1"),
    ]


def test_a_delegate_gets_the_line_in_history_info_without_a_cause() -> None:
    invite = request("INVITE", uri=DELEGATE.uri)
    decorated = decorate_for_target(
        invite, DELEGATE, original_uri=LINE, diversion=None, strip_asserted_identity=False
    )
    assert decorated.header_lines("History-Info") == [
        f"<{LINE}>;index=1",
        f"<{DELEGATE.uri}>;index=1.1;mp=1",
    ]
    assert decorated.header("Diversion") is None
