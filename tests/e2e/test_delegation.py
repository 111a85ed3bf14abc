"""Delegation routing end to end (issue 3): the real vipproxy between SIPp peers.

Alice (the delegator, line 1000) has Bob as her answering assistant, Carol as
her VIP contact and a shared mailbox.  Every person's phone and the mailbox is
a SIPp callee on its own 127.x.y.z address; a SIPp caller dials Alice's line
through the proxy.  The tests assert who received an INVITE, in which stage
(from the SIPp trace timestamps), what the INVITE carried, and who received
nothing at all.  Stages ring for one second so the module stays fast.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .conftest import StartProxy
from .delegation_support import (
    ACCEPTED_ASSISTANT,
    ANSWER_CALLS,
    LINE,
    NOBODY_TRUSTED,
    display_name,
    office,
    only_decision,
    vipproxy_cli,
)
from .loopback import LoopbackAllocator, wait_until
from .proxy_process import ProxyProcess, proxy_config
from .sip_trace import TracedMessage, only, via_sent_by
from .sipp import SippLauncher, SippProcess, SippResult, assert_all_passed

pytestmark = pytest.mark.e2e

# Carol's number as her phone sends it; her contact entry says "+1 (415) 555-0199".
VIP_CALLER = "14155550199"
OTHER_CALLER = "4155550123"
RING_TIMEOUT = 1.0
# A callee that must never be rung; if it is, it refuses, and its trace shows it.
NOT_RUNG = {"status": "480", "reason": "Temporarily Unavailable"}
PEOPLE = ("alice", "bob", "vm")
# Slack for process scheduling when comparing SIPp trace times.
CLOCK_SLACK = 0.5


def call_the_line(sipp: SippLauncher, proxy: ProxyProcess, keys: Mapping[str, str]) -> SippProcess:
    """A SIPp caller placing one call to Alice's line through ``proxy``."""
    return sipp.uac("caller", "uac_call.xml", remote=proxy.endpoint, service=LINE, keys=keys)


def rung_at(result: SippResult) -> float:
    """When the callee received its (only) INVITE, seconds since the epoch."""
    return only(result.received("INVITE"), f"INVITE at {result.name}").time


def silent_callee(sipp: SippLauncher, name: str) -> SippProcess:
    """A callee the test expects to receive nothing."""
    return sipp.uas(name, "uas_reject.xml", fill=NOT_RUNG)


def assert_never_rung(process: SippProcess) -> None:
    """Stop a callee that should have stayed silent and check its trace is empty."""
    process.stop()
    result = process.wait()
    assert not result.received(), f"{process.name} must not be rung:\n{result.flow()}"


def assert_from_proxy(message: TracedMessage, proxy: ProxyProcess) -> None:
    """The request was forwarded by the proxy (its top Via), not sent directly."""
    top = message.vias()[0]
    assert via_sent_by(top) == str(proxy.endpoint), f"{message.start_line}: top Via {top!r}"


def line_uri(proxy: ProxyProcess) -> str:
    """The called line as the caller dialled it: the Request-URI the proxy received."""
    return proxy.uri(LINE)


def assert_names_the_line(invite: TracedMessage, proxy: ProxyProcess) -> None:
    """RFC 7044: History-Info starts with the line that was called, then this target,
    one entry a line."""
    entries = invite.header_lines("History-Info")
    assert len(entries) == 2, f"History-Info lines: {entries!r}"
    assert re.match(rf"<{re.escape(line_uri(proxy))}[?>].*;index=1$", entries[0]), entries
    target = invite.start_line.split(" ")[1]
    assert entries[1].startswith(f"<{target}"), f"History-Info does not name {target}: {entries!r}"


def assert_delegate_invite(invite: TracedMessage, proxy: ProxyProcess, *, vip: bool) -> None:
    """A delegate sees whose call it is: History-Info, and ``[VIP] `` for a VIP caller."""
    assert_names_the_line(invite, proxy)
    shown = display_name(invite)
    if vip:
        assert shown.startswith("[VIP] "), f"From: {invite.header('From')!r}"
    else:
        assert "[VIP]" not in shown, f"From: {invite.header('From')!r}"


def assert_voicemail_invite(
    invite: TracedMessage, proxy: ProxyProcess, reason: str, cause: int
) -> None:
    """RFC 5806 Diversion and RFC 7044 History-Info name Alice's line for the mailbox,
    each History-Info entry on a line of its own (Asterisk reads them line by line),
    with why the call was diverted: the Diversion reason and its RFC 4458 cause."""
    assert_names_the_line(invite, proxy)
    called, mailbox = invite.header_lines("History-Info")
    assert called.startswith(f"<{line_uri(proxy)}?Reason=SIP%3Bcause%3D{cause}>;index=1"), called
    target = invite.start_line.split(" ")[1]
    assert mailbox == f"<{target};cause={cause}>;index=1.1;mp=1", mailbox
    diversion = invite.header("Diversion")
    match = re.match(r"\s*<sip:([^@>]+)@[^>]*>(.*)", diversion)
    assert match, f"no Diversion on the mailbox's INVITE: {invite.text}"
    assert match[1] == LINE, f"Diversion names {match[1]!r}, not the line {LINE}: {diversion!r}"
    assert f";reason={reason};" in match[2], f"Diversion: {diversion!r}"


def assert_cancel_and_ack_match_the_invite(result: SippResult) -> None:
    """The proxy's CANCEL and its ACK for a failure repeat the INVITE's From.

    RFC 3261 §9.1 (CANCEL) and §17.1.1.3 (ACK for a non-2xx): From MUST equal
    the From of the request being cancelled or acknowledged, display name too.
    """
    sent_from = only(result.received("INVITE"), f"INVITE at {result.name}").header("From")
    for request in (*result.received("CANCEL"), *result.received("ACK")):
        assert request.header("From") == sent_from, (
            f"{result.name}: {request.start_line.split()[0]} From {request.header('From')!r}"
            f" differs from the INVITE's {sent_from!r}"
        )


def assert_decision(
    proxy: ProxyProcess, *, policy: str, vip: bool, caller_source: str = "from"
) -> dict[str, Any]:
    """The proxy logged one route.decision with this policy and VIP verdict."""
    decision = only_decision(proxy)
    assert (decision["policy"], decision["vip"], decision["caller_source"]) == (
        policy,
        vip,
        caller_source,
    ), decision
    return decision


def people(callees: Mapping[str, SippProcess]) -> dict[str, str]:
    """User id -> the SIP URI of their SIPp phone, for ``office`` (the mailbox is no user)."""
    return {user: phone.uri(user) for user, phone in callees.items() if user != "vm"}


# --- the eight policy options -----------------------------------------------------


@dataclass(frozen=True)
class PolicyCase:
    """One policy option and who it rings: a tuple of callee names per stage."""

    vip: bool
    policy: str
    stages: tuple[tuple[str, ...], ...]

    @property
    def caller(self) -> str:
        """The From user: Carol (a VIP contact) or an ordinary number."""
        return VIP_CALLER if self.vip else OTHER_CALLER

    @property
    def rung(self) -> list[str]:
        """Every callee that must receive an INVITE, stage by stage."""
        return [name for stage in self.stages for name in stage]

    @property
    def answering(self) -> str:
        """The first callee of the last stage answers; earlier stages ring out."""
        return self.stages[-1][0]

    @property
    def vip_callers(self) -> str:
        """The VIP policy; when other callers are under test, one that rings differently."""
        if self.vip:
            return self.policy
        return "ring_me_then_delegates" if self.policy == "ring_me_only" else "ring_me_only"

    @property
    def other_callers(self) -> str:
        """The policy for other callers; for a VIP case one that rings only Bob."""
        return "ring_delegates_only" if self.vip else self.policy


POLICY_CASES = [
    PolicyCase(True, "ring_me_only", (("alice",),)),
    PolicyCase(True, "ring_me_then_delegates", (("alice",), ("bob",))),
    PolicyCase(False, "ring_all", (("alice", "bob"),)),
    PolicyCase(False, "ring_delegates_then_me", (("bob",), ("alice",))),
    PolicyCase(False, "ring_me_then_delegates", (("alice",), ("bob",))),
    PolicyCase(False, "ring_delegates_only", (("bob",),)),
    PolicyCase(False, "ring_me_only", (("alice",),)),
    PolicyCase(False, "voicemail", (("vm",),)),
]


def start_callee(sipp: SippLauncher, name: str, case: PolicyCase) -> SippProcess:
    """Alice, Bob or the mailbox, behaving as ``case`` needs."""
    if name not in case.rung:
        return silent_callee(sipp, name)
    if name == case.answering:
        # Answer late enough that a parallel callee is ringing (has sent 180) and
        # can be cancelled (RFC 3261 §9.1).
        pause = 500 if len(case.stages[-1]) > 1 else 0
        return sipp.uas(name, "uas_answer.xml", pause_ms=pause)
    return sipp.uas(name, "uas_ring_until_cancel.xml")


@pytest.mark.parametrize(
    "case", POLICY_CASES, ids=[f"{'vip' if c.vip else 'other'}-{c.policy}" for c in POLICY_CASES]
)
def test_policy_rings_its_stages_in_order(
    vipproxy: StartProxy, sipp: SippLauncher, case: PolicyCase
) -> None:
    callees = {name: start_callee(sipp, name, case) for name in PEOPLE}
    proxy = vipproxy(
        {},
        directory=office(
            people(callees),
            vip_callers=case.vip_callers,
            other_callers=case.other_callers,
            ring_timeout=f"{RING_TIMEOUT:g}s",
            voicemail=callees["vm"].uri("vm-alice"),
        ),
    )

    caller = call_the_line(sipp, proxy, {"caller": case.caller})
    caller_result, *answers = sipp.finish(caller, *(callees[name] for name in case.rung))
    results = dict(zip(case.rung, answers, strict=True))
    for name in PEOPLE:
        if name not in case.rung:
            assert_never_rung(callees[name])

    assert_all_passed(caller_result, *results.values())
    assert caller_result.final_status() == 200
    assert_decision(proxy, policy=case.policy, vip=case.vip)
    invites = {
        name: only(results[name].received("INVITE"), f"INVITE at {name}") for name in results
    }
    for invite in invites.values():
        assert_from_proxy(invite, proxy)
    if "bob" in invites:
        assert_delegate_invite(invites["bob"], proxy, vip=case.vip)
    if "alice" in invites:
        assert "[VIP]" not in display_name(invites["alice"]), invites["alice"].header("From")
    if "vm" in invites:
        assert_voicemail_invite(invites["vm"], proxy, "unconditional", 302)

    for earlier, later in itertools.pairwise(case.stages):
        for ringing_out in earlier:
            cancel = only(results[ringing_out].received("CANCEL"), f"CANCEL at {ringing_out}")
            # Cancelled because its stage timed out, not because somebody answered.
            assert "cause=200" not in cancel.header("Reason"), cancel.text
            for next_callee in later:
                waited = invites[next_callee].time - invites[ringing_out].time
                assert RING_TIMEOUT - CLOCK_SLACK <= waited <= RING_TIMEOUT + 1.0, (
                    f"{next_callee} rang {waited:.2f}s after {ringing_out}; "
                    f"the stage rings {RING_TIMEOUT}s"
                )
    for loser in case.stages[-1][1:]:
        apart = abs(invites[case.answering].time - invites[loser].time)
        # Rung together (about 1 ms apart when idle), not a stage later.
        assert apart < RING_TIMEOUT - CLOCK_SLACK, (
            f"{loser} rang {apart:.2f}s apart from {case.answering}"
        )
        cancel = only(results[loser].received("CANCEL"), f"CANCEL at {loser}")
        # RFC 3326: answered elsewhere, so the loser's phone logs no missed call.
        assert "cause=200" in cancel.header("Reason"), cancel.text


# --- who is a VIP, and whose word counts -----------------------------------------


def test_vip_caller_matched_across_number_formats_and_labelled_for_the_delegate_only(
    vipproxy: StartProxy, sipp: SippLauncher
) -> None:
    # Alice declines at once so Bob's stage follows without waiting.
    alice = sipp.uas("alice", "uas_reject.xml", fill={"status": "486", "reason": "Busy Here"})
    bob = sipp.uas("bob", "uas_answer.xml")
    proxy = vipproxy(
        {},
        directory=office(
            people({"alice": alice, "bob": bob}),
            vip_callers="ring_me_then_delegates",
            other_callers="ring_delegates_only",
        ),
    )

    # Carol's contact says "+1 (415) 555-0199"; her call arrives as 4155550199.
    caller = call_the_line(sipp, proxy, {"caller": "4155550199", "caller_name": "Carol Ng"})
    results = sipp.finish(caller, alice, bob)

    assert_all_passed(*results)
    decision = assert_decision(proxy, policy="ring_me_then_delegates", vip=True)
    assert decision["caller"] == "+14155550199", decision
    assert "Carol" in str(decision["vip_contact"]), decision
    invite = only(results[2].received("INVITE"), "INVITE at Bob")
    assert display_name(invite) == "[VIP] Carol Ng", invite.header("From")
    assert_delegate_invite(invite, proxy, vip=True)
    assert rung_at(results[1]) < rung_at(results[2])
    # The label is for Bob's phone: the caller's own From must come back as it was
    # sent (RFC 3261 §8.2.6.2), and the caller must not learn how it was classified.
    sent_from = only(results[0].sent("INVITE"), "INVITE sent by the caller").header("From")
    for response in results[0].received_responses("INVITE"):
        assert response.header("From") == sent_from, (
            f"the caller got {response.start_line!r} with From {response.header('From')!r};"
            f" it sent From {sent_from!r}"
        )


@pytest.mark.parametrize(
    ("trusted_peers", "believed"),
    [
        pytest.param(NOBODY_TRUSTED, False, id="untrusted-peer-ignored-and-removed"),
        pytest.param(["127.0.0.0/8"], True, id="trusted-peer-believed"),
    ],
)
def test_p_asserted_identity_counts_only_from_a_trusted_peer(
    vipproxy: StartProxy, sipp: SippLauncher, trusted_peers: list[str], believed: bool
) -> None:
    # VIPs ring Alice only, everybody else Bob only: who rings shows the verdict.
    answering, silent = ("alice", "bob") if believed else ("bob", "alice")
    callees = {
        answering: sipp.uas(answering, "uas_answer.xml"),
        silent: silent_callee(sipp, silent),
    }
    proxy = vipproxy(
        {},
        directory=office(
            people(callees),
            vip_callers="ring_me_only",
            other_callers="ring_delegates_only",
            trusted_peers=trusted_peers,
        ),
    )

    # An ordinary caller claiming, in P-Asserted-Identity, to be Carol (a VIP).
    claimed = "P-Asserted-Identity: <sip:+14155550199@127.0.0.1>"
    caller = call_the_line(sipp, proxy, {"caller": OTHER_CALLER, "extra_header": claimed})
    caller_result, answered = sipp.finish(caller, callees[answering])
    assert_never_rung(callees[silent])

    assert_all_passed(caller_result, answered)
    decision = assert_decision(
        proxy,
        policy="ring_me_only" if believed else "ring_delegates_only",
        vip=believed,
        caller_source="p-asserted-identity" if believed else "from",
    )
    assert decision["pai_ignored"] is not believed, decision
    invite = only(answered.received("INVITE"), f"INVITE at {answering}")
    # RFC 3325 §5: an identity from outside the trust domain is not passed on.
    assert invite.has_header("P-Asserted-Identity") is believed, invite.text


def test_pending_delegate_and_delegate_without_answer_calls_are_not_rung(
    vipproxy: StartProxy, sipp: SippLauncher
) -> None:
    # Bob answers late enough that a wrongly forked INVITE would reach the others first.
    callees = {
        "alice": silent_callee(sipp, "alice"),
        "bob": sipp.uas("bob", "uas_answer.xml", pause_ms=300),
        "dana": silent_callee(sipp, "dana"),
        "erin": silent_callee(sipp, "erin"),
    }
    delegates = {
        **ACCEPTED_ASSISTANT,
        "dana": {"privileges": ANSWER_CALLS, "status": "pending"},
        "erin": {"privileges": ["place_calls"], "status": "accepted"},
    }
    proxy = vipproxy(
        {},
        directory=office(
            people(callees),
            vip_callers="ring_me_only",
            other_callers="ring_delegates_only",
            delegates=delegates,
        ),
    )

    caller = call_the_line(sipp, proxy, {"caller": OTHER_CALLER})
    caller_result, bob = sipp.finish(caller, callees["bob"])
    for name in ("alice", "dana", "erin"):
        assert_never_rung(callees[name])

    assert_all_passed(caller_result, bob)
    decision = assert_decision(proxy, policy="ring_delegates_only", vip=False)
    skipped = str(decision["skipped"])
    assert "dana" in skipped and "pending" in skipped, decision
    assert "erin" in skipped and "answer_calls" in skipped, decision
    explained = vipproxy_cli(
        "explain", "--config", str(proxy.config_path), "--from", OTHER_CALLER, "--to", LINE
    )
    assert explained.returncode == 0, explained.stderr
    assert re.search(r"skipped delegate: dana \(.*pending", explained.stdout), explained.stdout


# --- moving on: busy, no answer, voicemail ---------------------------------------


@pytest.mark.parametrize(
    ("status", "reason"), [(486, "Busy Here"), (603, "Decline")], ids=["busy", "decline"]
)
def test_busy_delegator_moves_on_to_the_delegates_at_once(
    vipproxy: StartProxy, sipp: SippLauncher, status: int, reason: str
) -> None:
    alice = sipp.uas("alice", "uas_reject.xml", fill={"status": str(status), "reason": reason})
    bob = sipp.uas("bob", "uas_answer.xml")
    proxy = vipproxy(
        {},
        directory=office(
            people({"alice": alice, "bob": bob}),
            vip_callers="ring_me_only",
            other_callers="ring_me_then_delegates",
            ring_timeout="5s",
        ),
    )

    caller = call_the_line(sipp, proxy, {"caller": OTHER_CALLER})
    results = sipp.finish(caller, alice, bob)

    assert_all_passed(*results)
    assert results[0].final_status() == 200
    assert all(m.status != status for m in results[0].received()), results[0].flow()
    waited = rung_at(results[2]) - rung_at(results[1])
    assert 0 <= waited < 2.5, f"Bob rang {waited:.2f}s after Alice refused; the stage is 5s"


@pytest.mark.parametrize(
    ("phones", "refusal", "diversion_reason", "cause"),
    [
        pytest.param("uas_ring_until_cancel.xml", None, "no-answer", 408, id="nobody-answers"),
        pytest.param("uas_reject.xml", (486, "Busy Here"), "user-busy", 486, id="everybody-busy"),
        pytest.param("uas_reject.xml", (404, "Not Found"), "unavailable", 503, id="everybody-404"),
    ],
)
def test_voicemail_takes_the_call_nobody_answered(
    vipproxy: StartProxy,
    sipp: SippLauncher,
    phones: str,
    refusal: tuple[int, str] | None,
    diversion_reason: str,
    cause: int,
) -> None:
    fill = None if refusal is None else {"status": str(refusal[0]), "reason": refusal[1]}
    alice = sipp.uas("alice", phones, fill=fill)
    bob = sipp.uas("bob", phones, fill=fill)
    mailbox = sipp.uas("vm", "uas_answer.xml")
    proxy = vipproxy(
        {},
        directory=office(
            people({"alice": alice, "bob": bob}),
            vip_callers="ring_me_then_delegates",
            other_callers="ring_me_only",
            voicemail=mailbox.uri("vm-alice"),
        ),
    )

    # A VIP caller, so Bob's INVITE carries a display-name prefix.
    caller = call_the_line(sipp, proxy, {"caller": VIP_CALLER})
    caller_result, alice_result, bob_result, vm = sipp.finish(caller, alice, bob, mailbox)

    assert_all_passed(caller_result, alice_result, bob_result, vm)
    # The caller is connected to the mailbox: 200, ACK and BYE reach it via the proxy.
    assert caller_result.final_status() == 200
    invite = only(vm.received("INVITE"), "INVITE at the mailbox")
    assert_voicemail_invite(invite, proxy, diversion_reason, cause)
    for request in (*vm.received("ACK"), *vm.received("BYE")):
        assert_from_proxy(request, proxy)
    assert len(vm.received("BYE")) == 1, vm.flow()
    assert rung_at(alice_result) < rung_at(bob_result) < rung_at(vm)
    for failed in (alice_result, bob_result):
        assert_cancel_and_ack_match_the_invite(failed)


def test_voicemail_is_told_unavailable_when_no_phone_is_registered(
    vipproxy: StartProxy, sipp: SippLauncher
) -> None:
    """Nobody to ring: RFC 5806 "unavailable" (RFC 4458 cause 503), not "no-answer"."""
    mailbox = sipp.uas("vm", "uas_answer.xml")
    proxy = vipproxy(
        {},
        directory=office(
            {"alice": "registered", "bob": "registered"},
            vip_callers="ring_me_then_delegates",
            other_callers="ring_all",
            voicemail=mailbox.uri("vm-alice"),
        ),
    )

    caller_result, vm = sipp.finish(call_the_line(sipp, proxy, {"caller": OTHER_CALLER}), mailbox)

    assert_all_passed(caller_result, vm)
    invite = only(vm.received("INVITE"), "INVITE at the mailbox")
    assert_voicemail_invite(invite, proxy, "unavailable", 503)


# --- what is not routed ----------------------------------------------------------


def test_unknown_number_gets_404_saying_why(
    vipproxy: StartProxy, sipp: SippLauncher, loopback: LoopbackAllocator
) -> None:
    phones = {user: loopback.endpoint().sip_uri(user) for user in ("alice", "bob")}
    proxy = vipproxy(
        {},
        directory=office(phones, vip_callers="ring_me_only", other_callers="ring_all"),
    )

    caller = sipp.uac("caller", "uac_expect_failure.xml", remote=proxy.endpoint, service="5555")
    result = caller.wait()

    result.assert_passed()
    final = only(result.final_responses(), "final response")
    assert final.status == 404, final.start_line
    assert "line" in final.reason and "route" in final.reason, final.start_line
    assert only_decision(proxy)["policy"] == "not-found"


BAD_DELEGATIONS = [
    pytest.param(
        {"bob": {"privileges": ANSWER_CALLS, "status": "maybe"}},
        "ring_all",
        "delegations.alice.delegates.bob.status",
        id="unknown-status",
    ),
    pytest.param(
        {"zoe": {"privileges": ANSWER_CALLS, "status": "accepted"}},
        "ring_all",
        "delegations.alice.delegates.zoe",
        id="delegate-not-a-user",
    ),
    pytest.param(
        ACCEPTED_ASSISTANT,
        "voicemail",
        "delegations.alice.vip_delegation.other_callers",
        id="voicemail-without-mailbox",
    ),
]


@pytest.mark.parametrize(("delegates", "other_callers", "path"), BAD_DELEGATIONS)
def test_invalid_delegation_file_is_refused(
    tmp_path: Path,
    loopback: LoopbackAllocator,
    delegates: Mapping[str, Mapping[str, Any]],
    other_callers: str,
    path: str,
) -> None:
    endpoint = loopback.endpoint()
    phones = {user: loopback.endpoint().sip_uri(user) for user in ("alice", "bob")}
    directory = office(
        phones,
        vip_callers="ring_me_only",
        other_callers=other_callers,
        delegates=delegates,
    )
    proxy = ProxyProcess("bad", proxy_config(endpoint, {}, directory), endpoint, tmp_path)
    try:
        exited = wait_until(lambda: not proxy.running(), 10.0)
    finally:
        returncode = proxy.stop()
    checked = vipproxy_cli("check", "--config", str(proxy.config_path))

    assert exited, f"the proxy started on an invalid file:\n{proxy.stderr()}"
    assert returncode != 0, proxy.stderr()
    assert path in proxy.stderr(), proxy.stderr()
    assert checked.returncode != 0, checked.stdout
    assert path in checked.stderr, checked.stderr
