"""The management API's live line state end to end: the real proxy streaming
server-sent events to a real HTTP client while SIPp phones make a call.

Alice (line 1000) delegates to Bob, who watches her line: the stream starts with a
snapshot and then carries each change, ringing -> in use -> held -> idle. Erin,
invited by Alice, gets Alice's lines on her open stream once she accepts.
"""

from __future__ import annotations

import time

import httpx
import pytest

from .conftest import StartProxy
from .delegation_support import LINE, LINES
from .line_stream import LineStream
from .loopback import Endpoint, LoopbackAllocator, wait_until
from .proxy_process import ProxyProcess
from .sipp import SippLauncher, SippProcess, assert_all_passed
from .test_api import PASSWORDS, api_office, client, samples, total

pytestmark = pytest.mark.e2e

# The bound: a page shows a change within a second.
WITHIN = 1.0


def office_where_alice_holds(vipproxy: StartProxy, sipp: SippLauncher,
                             api: Endpoint) -> tuple[ProxyProcess, SippProcess]:
    """The API office whose alice rings half a second (under her 1 s ring timeout),
    then answers and holds; bob and erin have no phone."""
    alice = sipp.uas("alice", "uas_answer_hold.xml", pause_ms=500, timeout=20.0)
    proxy = vipproxy({}, directory=api_office(
        {"alice": alice.uri("alice"), "bob": "sip:bob@127.0.0.1:9",
         "erin": "sip:erin@127.0.0.1:9"}, api))
    return proxy, alice


def test_a_delegate_sees_alices_line_ring_answered_held_and_idle_as_it_happens(
    vipproxy: StartProxy, sipp: SippLauncher, loopback: LoopbackAllocator
) -> None:
    api = loopback.endpoint()
    proxy, alice = office_where_alice_holds(vipproxy, sipp, api)

    bob = LineStream(api, ("bob", PASSWORDS["bob"]))
    erin = LineStream(api, ("erin", PASSWORDS["erin"]))
    try:
        assert bob.status == 200
        # Bob's own line and Alice's two (he is her accepted delegate); Erin only hers.
        assert {event.line["line"] for event in bob.events} == {*LINES["alice"], "1001"}
        assert [event.kind for event in bob.of(LINE)] == ["snapshot"]
        assert {event.line["line"] for event in erin.events} == {"1003"}

        sent = time.monotonic()
        caller = sipp.uac("caller", "uac_call_held.xml", remote=proxy.endpoint, service=LINE,
                          timeout=20.0)
        assert wait_until(lambda: "ringing" in bob.states(LINE), 3.0), bob.states(LINE)
        ringing = next(event for event in bob.of(LINE) if event.line["state"] == "ringing")
        assert ringing.seen - sent < WITHIN + 0.5  # SIPp's own start included
        rung = ringing.line["dialogs"][0]
        assert rung["local"]["user"] == "alice"
        assert rung["remote"]["identity"].startswith("sip:"), rung

        assert_all_passed(*sipp.finish(caller, alice))
        assert wait_until(lambda: bob.states(LINE)[-1:] == ["idle"], 3.0), bob.states(LINE)
        assert bob.states(LINE) == ["idle", "ringing", "in_use", "held", "in_use", "idle"]
        in_use = next(event for event in bob.of(LINE) if event.line["state"] == "in_use")
        assert in_use.line["dialogs"][0]["local"]["user"] == "alice"
        assert in_use.line["dialogs"][0]["vip"] is None  # not a VIP contact of alice
        # Since when it is held is the tracker's, in Unix seconds like the event's time
        # (the loop's clock moved by the wall clock's offset at start: near, not equal).
        held = next(event for event in bob.of(LINE) if event.line["state"] == "held")
        assert abs(held.line["dialogs"][0]["held_at"] - held.line["at"]) < 0.5, held.line
        assert all(event.line["line"] != LINE for event in erin.events)
        assert total(samples(api), "vipproxy_api_line_streams") == 2
    finally:
        bob.close()
        erin.close()
    # A browser that goes away frees its feed.
    assert wait_until(lambda: total(samples(api), "vipproxy_api_line_streams") == 0, 3.0)
    assert total(samples(api), "vipproxy_api_line_stream_resyncs_total") == 0

    with httpx.Client(base_url=f"http://{api}", timeout=5.0) as nobody:
        refused = nobody.get("/events/lines")
    assert refused.status_code == 401, refused.text


def test_a_delegate_who_accepts_sees_the_delegators_lines_on_the_open_stream(
    vipproxy: StartProxy, loopback: LoopbackAllocator
) -> None:
    api = loopback.endpoint()
    vipproxy({}, directory=api_office({user: f"sip:{user}@127.0.0.1:9" for user in PASSWORDS},
                                      api))
    erin = LineStream(api, ("erin", PASSWORDS["erin"]))
    try:
        with client(api, "alice") as alice:
            invited = alice.put("/delegations/alice/delegates/erin",
                                json={"privileges": ["answer_calls"]})
            assert invited.status_code == 200, invited.text
        assert [event.line["line"] for event in erin.events] == ["1003"]  # still pending
        with client(api, "erin") as invitee:
            accepted = invitee.post("/invitations/alice/accept")
            assert accepted.status_code == 200, accepted.text
        assert wait_until(lambda: erin.of(LINE), 2.0), erin.events
        assert [(event.kind, event.line["line"]) for event in erin.events[1:]] == \
            [("snapshot", line) for line in sorted([*LINES["alice"], "1003"])]
    finally:
        erin.close()
