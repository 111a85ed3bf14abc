"""The real ProxyCore driven over a fake link and a fake clock: exact message sequences
for forking, response selection, CANCEL and stage timeouts (RFC 3261 §16)."""

from __future__ import annotations

import pytest
from fakelink import CALLER, TOKENS, FakeLoop, Link, ack_for, answer, cancel_for, invite, make_core

from proxy.sip.hop import Hop
from proxy.sip.message import Request, Response

CONFIG = """
listen: [{transport: udp, host: 127.0.0.1, port: 5060}]
trusted_peers: ["127.0.0.9/32"]
routes:
  "2000":
    stages:
      - {targets: ["sip:a@127.0.0.2:5070", "sip:b@127.0.0.3:5070"], timeout: 20s}
  "3000":
    stages:
      - {targets: ["sip:a@127.0.0.2:5070"], timeout: 5s}
      - {targets: ["sip:b@127.0.0.3:5070"], timeout: 5s}
  "4000":
    stages:
      - {targets: ["sip:a@127.0.0.2:5070"], timeout: 5s}
    fallback: sip:vm@127.0.0.20:5070
"""
A = "127.0.0.2:5070"
B = "127.0.0.3:5070"
UP = f"{CALLER.host}:{CALLER.port}"
CALL_TOKEN = TOKENS.mint("call-1@127.0.0.9", "caller-tag")  # for fakelink.invite()


@pytest.fixture
def proxy() -> tuple[object, FakeLoop, Link]:
    return make_core(CONFIG)


def _forwarded(link: Link) -> dict[str, Request]:
    """Requests the proxy sent, by destination."""
    sent = link.take()
    return {f"{hop.host}:{hop.port}": m for hop, m in sent if isinstance(m, Request)}


def _start(proxy: tuple[object, FakeLoop, Link], number: str) -> dict[str, Request]:
    core, _, link = proxy
    core.receive(invite(f"sip:{number}@127.0.0.1:5060"), CALLER)  # type: ignore[attr-defined]
    sent = link.take()
    assert isinstance(sent[0][1], Response) and sent[0][1].status == 100  # §16.2: 100 at once
    return {f"{hop.host}:{hop.port}": m for hop, m in sent[1:] if isinstance(m, Request)}


def test_parallel_fork_answer_cancels_the_other_branch_with_reason(proxy) -> None:
    core, _, link = proxy
    branches = _start(proxy, "2000")
    assert sorted(branches) == [A, B]
    for request in branches.values():
        assert request.uri.startswith("sip:")
        assert request.header("max-forwards") == "69"  # §16.6 step 3
        top_via = request.header_values("via")[0]
        assert top_via.startswith("SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK")
        assert request.header_values("record-route") == [
            f"<sip:127.0.0.1:5060;transport=udp;lr;vpt={CALL_TOKEN}>"]
    core.receive(answer(branches[A], 180, "Ringing", to_tag="a"), Hop("UDP", "127.0.0.2", 5070))
    core.receive(answer(branches[B], 180, "Ringing", to_tag="b"), Hop("UDP", "127.0.0.3", 5070))
    assert link.take_summary() == [f"{UP} 180", f"{UP} 180"]
    core.receive(answer(branches[A], 200, "OK", to_tag="a"), Hop("UDP", "127.0.0.2", 5070))
    sent = link.take()
    assert [(f"{h.host}:{h.port}", getattr(m, "status", getattr(m, "method", None)))
            for h, m in sent] == [(UP, 200), (B, "CANCEL")]
    relayed, cancel = sent[0][1], sent[1][1]
    assert isinstance(relayed, Response) and len(relayed.header_values("via")) == 1  # our Via off
    assert isinstance(cancel, Request)
    assert cancel.header("reason") == 'SIP;cause=200;text="Call completed elsewhere"'
    assert cancel.top_via == branches[B].top_via  # §9.1: the CANCEL matches the INVITE branch
    core.receive(answer(cancel, 200, "OK"), Hop("UDP", "127.0.0.3", 5070))
    core.receive(answer(branches[B], 487, "Request Terminated", to_tag="b"),
                 Hop("UDP", "127.0.0.3", 5070))
    # The 487 is acknowledged hop by hop and not relayed: the caller was answered.
    assert link.take_summary() == [f"{B} ACK"]


def test_two_2xx_from_a_parallel_fork_both_go_upstream(proxy) -> None:
    core, _, link = proxy
    branches = _start(proxy, "2000")
    core.receive(answer(branches[A], 200, "OK", to_tag="a"), Hop("UDP", "127.0.0.2", 5070))
    link.take()
    core.receive(answer(branches[B], 200, "OK", to_tag="b"), Hop("UDP", "127.0.0.3", 5070))
    assert link.take_summary() == [f"{UP} 200"]  # §16.7 step 5: every 2xx is relayed


def test_serial_fork_busy_moves_to_next_stage_at_once(proxy) -> None:
    core, _, link = proxy
    first = _start(proxy, "3000")
    assert list(first) == [A]
    core.receive(answer(first[A], 486, "Busy Here", to_tag="a"), Hop("UDP", "127.0.0.2", 5070))
    sent = link.take_summary()
    assert sent == [f"{A} ACK", f"{B} INVITE"]


def test_every_branch_fails_best_response_goes_upstream_and_ack_is_absorbed(proxy) -> None:
    core, _, link = proxy
    branches = _start(proxy, "2000")
    core.receive(answer(branches[A], 404, "Not Found", to_tag="a"), Hop("UDP", "127.0.0.2", 5070))
    core.receive(answer(branches[B], 486, "Busy Here", to_tag="b"), Hop("UDP", "127.0.0.3", 5070))
    sent = link.take()
    finals = [m for _, m in sent if isinstance(m, Response)]
    assert [m.status for m in finals] == [486]
    core.receive(ack_for(finals[0], "sip:2000@127.0.0.1:5060"), CALLER)
    assert link.take() == []  # §17.2.1: the ACK for a non-2xx stops here


def test_503_from_every_branch_becomes_500(proxy) -> None:
    core, _, link = proxy
    branches = _start(proxy, "2000")
    for key, hop in ((A, Hop("UDP", "127.0.0.2", 5070)), (B, Hop("UDP", "127.0.0.3", 5070))):
        core.receive(answer(branches[key], 503, "Service Unavailable"), hop)
    finals = [m for _, m in link.take() if isinstance(m, Response)]
    assert [m.status for m in finals] == [500]  # §16.7 step 6


def test_6xx_ends_a_static_fork(proxy) -> None:
    core, _, link = proxy
    branches = _start(proxy, "2000")
    core.receive(answer(branches[B], 180, "Ringing", to_tag="b"), Hop("UDP", "127.0.0.3", 5070))
    link.take()
    core.receive(answer(branches[A], 603, "Decline", to_tag="a"), Hop("UDP", "127.0.0.2", 5070))
    assert link.take_summary() == [f"{A} ACK", f"{B} CANCEL", f"{UP} 603"]


def test_caller_cancel_cancels_ringing_branches_and_answers_487_once_they_have(proxy) -> None:
    core, _, link = proxy
    original = invite("sip:2000@127.0.0.1:5060")
    branches = _start(proxy, "2000")
    core.receive(answer(branches[A], 180, "Ringing", to_tag="a"), Hop("UDP", "127.0.0.2", 5070))
    core.receive(answer(branches[B], 180, "Ringing", to_tag="b"), Hop("UDP", "127.0.0.3", 5070))
    link.take()
    core.receive(cancel_for(original), CALLER)
    sent = link.take_summary()
    assert sent[0] == f"{UP} 200"  # §16.10: the CANCEL itself is answered
    assert sorted(sent[1:]) == sorted([f"{A} CANCEL", f"{B} CANCEL"])
    core.receive(answer(branches[A], 487, "Request Terminated", to_tag="a"),
                 Hop("UDP", "127.0.0.2", 5070))
    assert link.take_summary() == [f"{A} ACK"]
    core.receive(answer(branches[B], 487, "Request Terminated", to_tag="b"),
                 Hop("UDP", "127.0.0.3", 5070))
    assert link.take_summary() == [f"{B} ACK", f"{UP} 487"]


def test_a_2xx_that_crossed_the_cancel_is_the_callers_answer(proxy) -> None:
    """Were a 487 of ours sent first, the caller's completed transaction would drop
    the 200 (§17.1.1.2) and the phone that answered would wait for an ACK."""
    core, _, link = proxy
    original = invite("sip:2000@127.0.0.1:5060")
    branches = _start(proxy, "2000")
    core.receive(answer(branches[A], 180, "Ringing", to_tag="a"), Hop("UDP", "127.0.0.2", 5070))
    core.receive(answer(branches[B], 180, "Ringing", to_tag="b"), Hop("UDP", "127.0.0.3", 5070))
    core.receive(cancel_for(original), CALLER)
    assert f"{UP} 487" not in link.take_summary()
    core.receive(answer(branches[A], 200, "OK", to_tag="a"), Hop("UDP", "127.0.0.2", 5070))
    assert link.take_summary() == [f"{UP} 200"]
    core.receive(answer(branches[B], 487, "Request Terminated", to_tag="b"),
                 Hop("UDP", "127.0.0.3", 5070))
    assert link.take_summary() == [f"{B} ACK"]


def _a_rings_and_the_caller_cancels(proxy) -> tuple[dict[str, Request], list[str]]:
    """A rings, B has sent nothing, the caller CANCELs: the branches, and what the
    CANCEL made the proxy send."""
    core, _, link = proxy
    original = invite("sip:2000@127.0.0.1:5060")
    branches = _start(proxy, "2000")
    core.receive(answer(branches[A], 180, "Ringing", to_tag="a"), Hop("UDP", "127.0.0.2", 5070))
    link.take()
    core.receive(cancel_for(original), CALLER)
    return branches, link.take_summary()


def test_cancel_waits_for_a_provisional_before_it_is_sent(proxy) -> None:
    core, _, link = proxy
    branches, sent = _a_rings_and_the_caller_cancels(proxy)
    # B has sent nothing yet: §9.1 forbids a CANCEL before a provisional response.
    assert sorted(sent) == sorted([f"{UP} 200", f"{A} CANCEL"])
    core.receive(answer(branches[A], 487, "Request Terminated", to_tag="a"),
                 Hop("UDP", "127.0.0.2", 5070))
    assert link.take_summary() == [f"{A} ACK"]  # B may still answer
    core.receive(answer(branches[B], 100, "Trying"), Hop("UDP", "127.0.0.3", 5070))
    assert link.take_summary() == [f"{B} CANCEL"]
    core.receive(answer(branches[B], 487, "Request Terminated", to_tag="b"),
                 Hop("UDP", "127.0.0.3", 5070))
    assert link.take_summary() == [f"{B} ACK", f"{UP} 487"]


def test_a_200_from_a_branch_that_had_not_rung_is_the_answer_to_a_cancelled_call(
        proxy) -> None:
    # A phone that answers at once need not send a provisional first (§17.2.1).
    core, _, link = proxy
    original = invite("sip:2000@127.0.0.1:5060")
    branches = _start(proxy, "2000")
    core.receive(cancel_for(original), CALLER)
    assert link.take_summary() == [f"{UP} 200"]  # nobody rang: no CANCEL may leave yet
    core.receive(answer(branches[A], 200, "OK", to_tag="a"), Hop("UDP", "127.0.0.2", 5070))
    assert link.take_summary() == [f"{UP} 200"]


def test_a_branch_that_never_answers_the_cancel_counts_as_cancelled_after_32_t1(proxy) -> None:
    _, loop, link = proxy
    _a_rings_and_the_caller_cancels(proxy)
    loop.advance(15.9)
    assert f"{UP} 487" not in link.take_summary()
    loop.advance(0.2)  # 16 s: half the caller's own wait for it (§9.1)
    assert f"{UP} 487" in link.take_summary()


def test_the_drain_answers_a_cancelled_call_487(proxy) -> None:
    core, _, link = proxy
    _a_rings_and_the_caller_cancels(proxy)
    assert core.end_calls_in_progress("proxy shutting down") == 1
    assert f"{UP} 487" in link.take_summary()


def test_stage_timeout_cancels_and_moves_on(proxy) -> None:
    core, loop, link = proxy
    first = _start(proxy, "3000")
    core.receive(answer(first[A], 180, "Ringing", to_tag="a"), Hop("UDP", "127.0.0.2", 5070))
    link.take()
    loop.advance(4.9)
    assert link.take() == []
    loop.advance(0.2)
    assert link.take_summary() == [f"{A} CANCEL", f"{B} INVITE"]


def test_last_stage_timeout_answers_408_and_fallback_gets_diversion(proxy) -> None:
    _core, loop, link = proxy
    _start(proxy, "4000")
    loop.advance(5.1)
    sent = link.take()
    vm = [m for h, m in sent if isinstance(m, Request) and h.host == "127.0.0.20"]
    assert len(vm) == 1 and vm[0].method == "INVITE"
    assert vm[0].header("diversion") == (
        "<sip:4000@127.0.0.1:5060>;reason=no-answer;counter=1;privacy=off"
    )
    assert vm[0].header_lines("history-info") == [
        "<sip:4000@127.0.0.1:5060?Reason=SIP%3Bcause%3D408>;index=1",
        "<sip:vm@127.0.0.20:5070;cause=408>;index=1.1;mp=1",
    ]


def test_unanswered_fork_gets_synthetic_408(proxy) -> None:
    _core, loop, link = proxy
    _start(proxy, "3000")
    loop.advance(5.1)
    link.take()
    loop.advance(5.1)
    finals = [m for _, m in link.take() if isinstance(m, Response)]
    assert [m.status for m in finals] == [408]  # principle 4: a timeout is a response


def test_unknown_number_gets_404_with_reason(proxy) -> None:
    core, _, link = proxy
    core.receive(invite("sip:9999@127.0.0.1:5060"), CALLER)
    finals = [m for _, m in link.take() if isinstance(m, Response) and m.status >= 200]
    assert finals[0].status == 404 and "9999" in finals[0].reason


@pytest.mark.parametrize(
    ("extra", "status"),
    [("Max-Forwards: 0\r\n", 483), ("Proxy-Require: foo\r\n", 420), ("Max-Breadth: 1\r\n", 440)],
)
def test_validation_rejections(proxy, extra: str, status: int) -> None:
    core, _, link = proxy
    data = invite("sip:2000@127.0.0.1:5060", extra=extra).replace(b"Max-Forwards: 70\r\n", b"")
    core.receive(data, CALLER)
    finals = [m for _, m in link.take() if isinstance(m, Response) and m.status >= 200]
    assert [m.status for m in finals] == [status]


@pytest.mark.parametrize("from_rewritten", [False, True], ids=["as-sent", "from-rewritten"])
def test_loop_is_detected_when_the_request_comes_back(proxy, from_rewritten: bool) -> None:
    core, _, link = proxy
    branches = _start(proxy, "3000")
    looped = branches[A].serialize().replace(b"sip:a@127.0.0.2:5070", b"sip:3000@127.0.0.1:5060", 1)
    if from_rewritten:
        # As the proxy rewrites From for delegates ("[VIP] ", the line called): only
        # its tag counts, so the request is still recognised (RFC 3261 §16.6 step 8).
        looped = looped.replace(b'From: "Carol"', b'From: "[VIP] Carol"', 1)
        assert b"[VIP] Carol" in looped
    core.receive(looped, Hop("UDP", "127.0.0.2", 5070))
    finals = [m for _, m in link.take() if isinstance(m, Response) and m.status >= 200]
    assert [m.status for m in finals] == [482]


def test_a_challenge_goes_up_with_the_other_branches_challenges(proxy) -> None:
    # RFC 3261 §16.7 step 7: the caller answers every realm of the fork at once.
    core, _, link = proxy
    branches = _start(proxy, "2000")
    core.receive(answer(branches[A], 401, "Unauthorized", to_tag="a",
                        extra='\r\nWWW-Authenticate: Digest realm="a", nonce="1"'),
                 Hop("UDP", "127.0.0.2", 5070))
    core.receive(answer(branches[B], 407, "Proxy Authentication Required", to_tag="b",
                        extra='\r\nProxy-Authenticate: Digest realm="b", nonce="2"'),
                 Hop("UDP", "127.0.0.3", 5070))
    finals = [m for h, m in link.take() if isinstance(m, Response) and m.status >= 200
              and f"{h.host}:{h.port}" == UP]
    assert [m.status for m in finals] == [401]
    assert finals[0].header_lines("www-authenticate") == ['Digest realm="a", nonce="1"']
    assert finals[0].header_lines("proxy-authenticate") == ['Digest realm="b", nonce="2"']


def test_a_message_nobody_answers_gets_no_408(proxy) -> None:
    # RFC 4320 §4.2: the caller's own Timer F ends a non-INVITE request nobody
    # answered; a 408 from us would arrive when it has given up already.
    core, loop, link = proxy
    message = invite().replace(b"INVITE sip:", b"MESSAGE sip:", 1).replace(b"1 INVITE",
                                                                         b"1 MESSAGE")
    core.receive(message, CALLER)
    assert sorted(link.take_summary()) == [f"{A} MESSAGE", f"{B} MESSAGE"]
    loop.advance(40.0)  # Timer F (64*T1) of both branches, and more
    assert [line for line in _unique(link.take_summary()) if line.startswith(UP)] == []
    assert core.live_server_transactions == 1  # Timer J absorbs retransmissions
    core.receive(message, CALLER)
    assert [line for line in link.take_summary() if line.startswith(UP)] == []
    loop.advance(33.0)
    assert core.live_server_transactions == 0


def test_malformed_request_gets_400_naming_the_problem(proxy) -> None:
    core, _, link = proxy
    core.receive(invite().replace(b"CSeq: 1 INVITE", b"CSeq: 1 BYE"), CALLER)
    sent = link.take()
    assert len(sent) == 1
    response = sent[0][1]
    assert isinstance(response, Response) and response.status == 400
    assert "CSeq" in response.reason


def test_a_malformed_ack_is_dropped_not_answered(proxy) -> None:
    # RFC 3261 §17: nothing answers an ACK; a 400 to it would be a response to a
    # request that admits none.
    core, _, link = proxy
    ack = invite().replace(b"INVITE sip:", b"ACK sip:", 1).replace(b"1 INVITE", b"1 ACK")
    core.receive(ack.replace(b"Max-Forwards: 70", b"Max-Forwards: abc"), CALLER)
    assert link.take() == []
    assert core.stats["parse_errors"] == 1


def test_garbage_is_dropped_and_counted(proxy) -> None:
    core, _, link = proxy
    core.receive(b"\x00\xffnot sip at all", CALLER)
    assert link.take() == []
    assert core.stats["parse_errors"] == 1


def test_in_dialog_bye_follows_the_route_set(proxy) -> None:
    core, _, link = proxy
    bye = _caller_bye("z9hG4bKbye1")
    core.receive(bye, CALLER)
    sent = link.take()
    assert [(h.host, h.port) for h, _ in sent] == [("127.0.0.2", 5070)]
    forwarded = sent[0][1]
    assert isinstance(forwarded, Request) and forwarded.method == "BYE"
    assert forwarded.header("route") is None  # §16.4: our own Route is popped
    core.receive(answer(forwarded, 200, "OK"), Hop("UDP", "127.0.0.2", 5070))
    assert link.take_summary() == [f"{UP} 200"]


def test_draining_refuses_new_invites_but_finishes_calls_in_progress(proxy) -> None:
    core, _, link = proxy
    branches = _start(proxy, "3000")
    core.start_draining()
    assert core.in_progress == 1
    core.receive(invite("sip:3000@127.0.0.1:5060", branch="z9hG4bKsecond"), CALLER)
    finals = [m for _, m in link.take() if isinstance(m, Response) and m.status >= 200]
    assert [(m.status, m.header("retry-after")) for m in finals] == [(503, "30")]
    core.receive(answer(branches[A], 200, "OK", to_tag="a"), Hop("UDP", "127.0.0.2", 5070))
    assert link.take_summary() == [f"{UP} 200"]
    assert core.in_progress == 0


def test_a_branch_ringing_for_the_longest_stage_is_cancelled_at_its_end() -> None:
    core, loop, link = make_core(CONFIG.replace("timeout: 20s", "timeout: 180s"))
    core.receive(invite("sip:2000@127.0.0.1:5060"), CALLER)
    branches = {f"{h.host}:{h.port}": m for h, m in link.take() if isinstance(m, Request)}
    core.receive(answer(branches[A], 180, "Ringing", to_tag="a"), Hop("UDP", "127.0.0.2", 5070))
    core.receive(answer(branches[B], 486, "Busy Here", to_tag="b"), Hop("UDP", "127.0.0.3", 5070))
    link.take()
    loop.advance(179.0)
    assert link.take() == []  # RFC 3261 §16.6 step 11: Timer C is more than 3 minutes
    loop.advance(1.5)  # the stage timer (180 s) fires first and cancels the ringing branch
    assert _unique(link.take_summary()) == [f"{A} CANCEL", f"{UP} 486"]


def test_fallback_stage_timeout_cancels_voicemail_and_answers_408() -> None:
    core, loop, link = make_core(CONFIG)
    core.receive(invite("sip:4000@127.0.0.1:5060"), CALLER)
    branches = {f"{h.host}:{h.port}": m for h, m in link.take() if isinstance(m, Request)}
    # The fallback (voicemail) rings after stage 1 times out; leave it ringing.
    core.receive(answer(branches[A], 180, "Ringing", to_tag="a"), Hop("UDP", "127.0.0.2", 5070))
    loop.advance(5.1)
    vm = [m for h, m in link.take() if isinstance(m, Request) and m.method == "INVITE"]
    core.receive(answer(vm[0], 180, "Ringing", to_tag="vm"), Hop("UDP", "127.0.0.20", 5070))
    link.take()
    loop.advance(5.0)  # the fallback stage timeout (5 s) ends it: CANCEL, then 408 upstream
    sent = _unique(link.take_summary())
    assert "127.0.0.20:5070 CANCEL" in sent
    assert [line for line in sent if line.startswith(UP)] == [f"{UP} 408"]


def _unique(lines: list[str]) -> list[str]:
    """Drop UDP retransmissions (Timer E/A): nobody answers on the fake link."""
    return list(dict.fromkeys(lines))


def test_a_branch_that_never_answers_its_cancel_is_dropped_after_64_t1(proxy) -> None:
    core, loop, link = proxy
    branches = _start(proxy, "2000")
    core.receive(answer(branches[B], 180, "Ringing", to_tag="b"), Hop("UDP", "127.0.0.3", 5070))
    core.receive(answer(branches[A], 200, "OK", to_tag="a"), Hop("UDP", "127.0.0.2", 5070))
    link.take()
    assert core.live_client_transactions == 3  # A (Accepted), B (ringing), the CANCEL to B
    loop.advance(33.0)  # 64*T1 = 32 s: B never answered the CANCEL
    assert core.stats["branches_abandoned"] == 1
    assert core.live_client_transactions == 0


def test_a_request_over_the_size_limit_gets_513() -> None:
    core, _, link = make_core(CONFIG + "limits: {max_message_size: 1500}\n")
    big = invite(extra="X-Padding: " + "a" * 2000 + "\r\n")
    core.receive(big, CALLER)
    sent = link.take()
    assert len(sent) == 1
    response = sent[0][1]
    assert isinstance(response, Response) and response.status == 513
    assert "limit 1500" in response.reason
    assert core.stats["oversized"] == 1


def test_every_transaction_event_is_logged_with_call_id_and_branch() -> None:
    from structlog.testing import capture_logs

    with capture_logs() as events:
        core, _, _ = make_core(CONFIG)
        core.receive(invite("sip:2000@127.0.0.1:5060"), CALLER)
    names = [event["event"] for event in events]
    assert names.count("tx.server.created") == 1
    assert names.count("tx.client.created") == 2
    assert names.count("route.decision") == 1
    for event in events:
        assert event.get("call_id") == "call-1@127.0.0.9", event
        if event["event"].startswith("tx."):
            assert str(event.get("branch", "")).startswith("z9hG4bK"), event


def test_header_order_and_unknown_headers_survive_proxying(proxy) -> None:
    core, _, link = proxy
    extra = "X-Custom: one\r\nP-Unknown-Thing: two;x=1\r\nx-lower: three\r\n"
    core.receive(invite("sip:3000@127.0.0.1:5060", extra=extra), CALLER)
    forwarded = next(m for _, m in link.take() if isinstance(m, Request))
    received = invite("sip:3000@127.0.0.1:5060", extra=extra).split(b"\r\n\r\n")[0]
    original_names = [line.split(b":")[0].decode() for line in received.split(b"\r\n")[1:]]
    forwarded_names = [name for name, _ in forwarded.headers]
    # Ours (Via, Record-Route, Max-Breadth) are added; the caller's keep their order,
    # spelling and values (§16.6: a proxy does not reorder what it does not own).
    assert forwarded_names[0] == "Via" and forwarded.top_via.startswith("SIP/2.0/UDP 127.0.0.1")
    kept = [name for name in forwarded_names[1:] if name not in ("Record-Route", "Max-Breadth")]
    assert kept == original_names
    assert forwarded.header("x-custom") == "one"
    assert forwarded.header("P-Unknown-Thing") == "two;x=1"
    assert ("x-lower", "three") in forwarded.headers


def test_every_transaction_of_a_finished_call_ends_and_leaves_nothing_behind(proxy) -> None:
    core, loop, link = proxy
    branches = _start(proxy, "2000")
    core.receive(answer(branches[B], 486, "Busy Here", to_tag="b"), Hop("UDP", "127.0.0.3", 5070))
    core.receive(answer(branches[A], 200, "OK", to_tag="a"), Hop("UDP", "127.0.0.2", 5070))
    bye = _caller_bye("z9hG4bKbye9")
    core.receive(bye, CALLER)
    forwarded_bye = next(m for _, m in link.take() if isinstance(m, Request) and m.method == "BYE")
    core.receive(answer(forwarded_bye, 200, "OK"), Hop("UDP", "127.0.0.2", 5070))
    assert core.live_server_transactions > 0
    loop.advance(33.0)  # 64*T1: Timers D, J, K, L and M have all run out
    assert (core.live_server_transactions, core.live_client_transactions) == (0, 0)


def _caller_bye(branch: str) -> bytes:
    """The caller's BYE for the call answered by A, along the Record-Route."""
    return (
        "BYE sip:a@127.0.0.2:5070 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.9:5090;branch={branch}\r\n"
        f"Route: <sip:127.0.0.1:5060;transport=udp;lr;vpt={CALL_TOKEN}>\r\n"
        "Max-Forwards: 70\r\nFrom: <sip:carol@127.0.0.9>;tag=caller-tag\r\n"
        "To: <sip:2000@127.0.0.1>;tag=a\r\nCall-ID: call-1@127.0.0.9\r\nCSeq: 2 BYE\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()
