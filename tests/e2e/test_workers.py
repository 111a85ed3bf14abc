"""Two workers on one port, end to end: the real vipproxy with ``workers.count: 2``.

The kernel hands each datagram to one of the workers by the sender's address
(SO_REUSEPORT), and every SIPp process (or registering phone) here sends from an
address of its own, so with 16 senders both workers get some: the chance that
one gets none is 2 x 2^-16. What must hold wherever a message lands: calls to a static route are
served by the worker that got them; registrations, line state, lamps and the call
history live in the first worker and see every message the second one handed
over; a reload reaches both; a worker that dies is started again.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Mapping
from typing import Any

import pytest

from proxy.defaults import REGISTER_MAX_CONTACTS

from .conftest import OpenProbe, StartProxy
from .loopback import Endpoint, LoopbackAllocator, wait_until
from .proxy_process import ProxyProcess
from .registration_support import ALICE, Registrant, registration_directory
from .sipp import SippLauncher, SippProcess, SippResult, assert_all_passed
from .test_lamps import LINE, calls, lamp_office, state, watch

pytestmark = pytest.mark.e2e

SENDERS = 16  # SIPp callers (or phones), each on its own loopback address
ROUTE = "700"
# A worker comes up in well under a second; a loaded test machine gets more.
WORKERS_UP_WITHIN = 15.0


def workers(proxy_endpoint: Endpoint) -> dict[str, Any]:
    """The ``workers`` section: two, their own ports just above the listener's."""
    return {"workers": {"count": 2, "first_port": proxy_endpoint.port + 10}}


def start_workers(vipproxy: StartProxy, loopback: LoopbackAllocator, routes: Mapping[str, Any],
                  directory: Mapping[str, Any] | None = None) -> ProxyProcess:
    """The proxy with two workers, once both listen (the first logs
    ``proxy.listening`` when the second has said it is ready)."""
    endpoint = loopback.endpoint()
    proxy = vipproxy(routes, {**(directory or {}), **workers(endpoint)}, endpoint=endpoint)
    assert wait_until(lambda: bool(proxy.events("proxy.listening")), WORKERS_UP_WITHIN), (
        proxy.stderr())
    return proxy


def route_to(callee: SippProcess) -> dict[str, Any]:
    return {ROUTE: {"stages": [{"targets": [callee.uri(ROUTE)], "timeout": "10s"}]}}


def call_from_many(sipp: SippLauncher, proxy: ProxyProcess, service: str, *,
                   pause_ms: int = 0) -> list[SippProcess]:
    """``SENDERS`` calls at once, each from a SIPp caller of its own."""
    return [sipp.uac(f"caller{index}", "uac_call.xml", remote=proxy.endpoint, service=service,
                     pause_ms=pause_ms, timeout=30.0)
            for index in range(SENDERS)]


def finished(*processes: SippProcess) -> list[SippResult]:
    results = [process.wait() for process in processes]
    assert_all_passed(*results)
    return results


def stopped_by_worker(proxy: ProxyProcess) -> dict[int, dict[str, Any]]:
    """Each worker's ``proxy.stopped`` line, by worker, once the proxy exited."""
    assert proxy.stop() == 0, proxy.stderr()
    lines = {event["worker"]: event for event in proxy.events("proxy.stopped")}
    assert set(lines) == {0, 1}, proxy.stderr()
    return lines


def decisions_by_worker(proxy: ProxyProcess) -> dict[int, int]:
    counted: dict[int, int] = {}
    for event in proxy.events("route.decision"):
        counted[event["worker"]] = counted.get(event["worker"], 0) + 1
    return counted


def call_ids(results: list[SippResult]) -> set[str]:
    return {result.sent("INVITE")[0].header("Call-ID") for result in results}


def test_calls_to_a_static_route_are_served_by_both_workers(
    vipproxy: StartProxy, sipp: SippLauncher, loopback: LoopbackAllocator
) -> None:
    callee = sipp.uas("callee", "uas_answer.xml", calls=SENDERS, timeout=30.0)
    proxy = start_workers(vipproxy, loopback, route_to(callee))

    finished(*call_from_many(sipp, proxy, ROUTE), callee)

    served = decisions_by_worker(proxy)
    stopped = stopped_by_worker(proxy)
    assert sum(served.values()) == SENDERS and served.get(0) and served.get(1), served
    # Each call, its ACK and BYE included, stayed with the worker that routed it. (The
    # callee's answers to the first worker's INVITEs may come to the second.)
    assert stopped[1].get("handed_to_first_worker", 0) == 0, stopped[1]
    assert stopped[1]["handoffs_dropped"] == 0


def test_line_calls_through_either_worker_reach_the_line_its_lamp_and_the_history(
    vipproxy: StartProxy, sipp: SippLauncher, loopback: LoopbackAllocator
) -> None:
    alice = sipp.uas("alice", "uas_answer.xml", calls=SENDERS, timeout=40.0)
    phones = {user: loopback.endpoint().sip_uri(user) for user in ("bob", "dana", "erin")}
    office = {**lamp_office({"alice": alice.uri("alice"), **phones}, "ring_me_only"),
              "lines": {"max_calls": SENDERS + 1}}
    proxy = start_workers(vipproxy, loopback, {}, office)
    watcher = watch(sipp, proxy)  # Bob, Alice's delegate, subscribes to her line

    # Every call is up before the first one ends: the watcher leaves at the first BYE.
    results = finished(*call_from_many(sipp, proxy, LINE, pause_ms=4000), alice)[:-1]
    watched = watcher.wait()

    watched.assert_passed()
    placed = call_ids(results)
    shown = {dialog.get("call-id") for notify in watched.received("NOTIFY")
             for dialog in calls(notify) if state(dialog) == "confirmed"}
    assert shown == placed, (shown, placed)
    stopped = stopped_by_worker(proxy)
    # Line calls are the first worker's: the second handed every one it got over.
    assert decisions_by_worker(proxy) == {0: SENDERS}
    assert stopped[1]["handed_to_first_worker"] > 0 and stopped[1]["handoffs_dropped"] == 0
    ended = {event["call_id"]: event for event in proxy.events("call.ended")}
    assert set(ended) == placed
    assert {event["answered_by"] for event in ended.values()} == {"alice"}, ended


def test_registrations_through_either_worker_are_one_location_table(
    vipproxy: StartProxy, loopback: LoopbackAllocator, udp_probe: OpenProbe
) -> None:
    proxy = start_workers(vipproxy, loopback, {}, registration_directory())
    phones = [Registrant(udp_probe(), proxy) for _ in range(REGISTER_MAX_CONTACTS)]
    contacts = {f"sip:{ALICE}@{phone.probe.endpoint};transport=UDP" for phone in phones}

    for phone in phones:
        assert phone.register(contact=f"sip:{ALICE}@{phone.probe.endpoint};transport=UDP",
                              expires=600).status == 200
    # Each asks through the worker the kernel gives it: every one sees them all.
    askers = [*phones, *(Registrant(udp_probe(), proxy) for _ in range(SENDERS))]
    seen = [set(asker.contacts()) for asker in askers]

    assert seen == [contacts] * len(askers)
    stopped = stopped_by_worker(proxy)
    assert stopped[1]["handed_to_first_worker"] > 0, stopped[1]


def test_a_reload_reaches_both_workers(
    vipproxy: StartProxy, sipp: SippLauncher, loopback: LoopbackAllocator
) -> None:
    before = sipp.uas("before", "uas_answer.xml", timeout=30.0)
    after = sipp.uas("after", "uas_answer.xml", calls=SENDERS, timeout=30.0)
    proxy = start_workers(vipproxy, loopback, route_to(before))
    config = proxy.configuration()
    config["routes"] = route_to(after)
    proxy.rewrite(config)

    proxy.hang_up_signal()
    assert wait_until(lambda: len(proxy.events("config.reloaded")) == 2, WORKERS_UP_WITHIN), (
        proxy.stderr())
    finished(*call_from_many(sipp, proxy, ROUTE), after)

    assert before.running()  # never rung: neither worker kept the old route
    served = decisions_by_worker(proxy)
    assert served.get(0) and served.get(1), served


def test_a_worker_that_dies_is_started_again(
    vipproxy: StartProxy, sipp: SippLauncher, loopback: LoopbackAllocator
) -> None:
    callee = sipp.uas("callee", "uas_answer.xml", calls=SENDERS, timeout=40.0)
    proxy = start_workers(vipproxy, loopback, route_to(callee))
    first_pid = proxy.events("worker.started")[-1]["pid"]

    os.kill(first_pid, signal.SIGKILL)
    assert wait_until(lambda: len(proxy.events("worker.started")) == 2, WORKERS_UP_WITHIN), (
        proxy.stderr())
    finished(*call_from_many(sipp, proxy, ROUTE), callee)

    exited = proxy.events("worker.exited")
    assert [(event["worker"], event["status"]) for event in exited] == [(1, -signal.SIGKILL)]
    served = decisions_by_worker(proxy)
    assert served.get(0) and served.get(1), served

