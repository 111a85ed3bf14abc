"""The management API end to end: the real vipproxy process serving HTTP on its own
event loop, asked with a real HTTP client (httpx), with SIPp phones placing calls.

Alice (line 1000) delegates to Bob; Erin is a user nobody delegated to. Each has
SIP credentials, which are also their API login (HTTP Basic).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from proxy.defaults import AUTH_MAX_FAILURES

from .conftest import StartProxy
from .delegation_support import LINE, LINES, office
from .loopback import Endpoint, LoopbackAllocator, wait_until
from .proxy_process import ProxyProcess
from .sipp import SippLauncher, assert_all_passed

pytestmark = pytest.mark.e2e

ADMIN_TOKEN = "test-admin-token-0123456789"
PASSWORDS = {"alice": "alice-secret", "bob": "bob-secret", "dana": "dana-secret",
             "erin": "erin-secret"}
REALM = "vipproxy.test"


def api_office(endpoints: Mapping[str, str], api: Endpoint, **policies: str) -> dict[str, Any]:
    """The office directory with credentials for everyone and the API on ``api``."""
    directory = office(endpoints, vip_callers=policies.get("vip_callers", "ring_me_only"),
                       other_callers=policies.get("other_callers", "ring_me_only"))
    for user, entry in directory["users"].items():
        entry["auth"] = {"password": PASSWORDS[user]}
    directory["auth"] = {"realm": REALM, "algorithms": ["MD5"]}
    directory["api"] = {"listen": f"{api.host}:{api.port}", "admin_token": ADMIN_TOKEN}
    return directory


def client(api: Endpoint, user: str | None = None) -> httpx.Client:
    """An HTTP client for the API: as ``user`` (HTTP Basic), the admin, or nobody."""
    if user == "admin":
        return httpx.Client(base_url=f"http://{api}", timeout=5.0,
                            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    auth = (user, PASSWORDS[user]) if user is not None else None
    return httpx.Client(base_url=f"http://{api}", timeout=5.0, auth=auth)


def samples(api: Endpoint) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of ``GET /metrics``, by name and labels, read by Prometheus' parser."""
    with client(api) as http:
        answer = http.get("/metrics")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain"), answer.headers
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(answer.text)
            for sample in family.samples}


def total(found: Mapping[tuple[str, frozenset[tuple[str, str]]], float], name: str,
          **labels: str) -> float:
    """The sum of the samples of ``name`` that carry ``labels``."""
    wanted = set(labels.items())
    return sum(value for (sample, sample_labels), value in found.items()
               if sample == name and wanted <= sample_labels)


@pytest.fixture
def api(loopback: LoopbackAllocator) -> Endpoint:
    """A loopback address and port for the API, free over TCP."""
    return loopback.endpoint()


def test_metrics_and_history_show_the_calls_placed(
    vipproxy: StartProxy, sipp: SippLauncher, api: Endpoint
) -> None:
    alice = sipp.uas("alice", "uas_answer.xml")
    bob = sipp.uas("bob", "uas_answer.xml")
    proxy = vipproxy({}, directory=api_office(
        {"alice": alice.uri("alice"), "bob": bob.uri("bob"), "erin": "sip:erin@127.0.0.1:9"},
        api))
    before = samples(api)
    assert total(before, "vipproxy_sip_requests_received_total") == 0

    for name, line in (("to-alice", LINE), ("to-bob", LINES["bob"][0])):
        caller = sipp.uac(name, "uac_call.xml", remote=proxy.endpoint, service=line)
        assert_all_passed(caller.wait())
    assert_all_passed(alice.wait(), bob.wait())

    assert wait_until(lambda: total(samples(api), "vipproxy_calls_total") == 2, 5.0), \
        samples(api)
    after = samples(api)
    assert total(after, "vipproxy_sip_requests_received_total", method="INVITE") == 2
    assert total(after, "vipproxy_sip_requests_received_total", method="BYE") == 2
    assert total(after, "vipproxy_sip_responses_sent_total", code="200") >= 4
    assert total(after, "vipproxy_routing_decisions_total", policy="ring_me_only") == 1
    assert total(after, "vipproxy_routing_decisions_total") == 2
    assert total(after, "vipproxy_calls_total", outcome="answered") == 2
    assert total(after, "vipproxy_calls_active") == 0
    assert ("vipproxy_event_loop_lag_seconds", frozenset()) in after
    assert ("vipproxy_store_queue_depth", frozenset()) in after
    assert total(after, "vipproxy_udp_receive_drops_total") == 0

    # The shared history, a page at a time: both calls, oldest first.
    with client(api, "admin") as admin:
        assert wait_until(lambda: admin.get("/history").json()["total"] == 2, 5.0)
        second = admin.get("/history", params={"offset": 1, "limit": 1}).json()
        # Newest first (the console's order), each call with its decision in words.
        newest = admin.get("/history", params={"order": "newest", "limit": 1}).json()
        answered = admin.get("/history", params={"outcome": ["answered", "missed"]}).json()
        missed = admin.get("/history", params={"outcome": "missed"}).json()
        assert admin.get("/history", params={"order": "sideways"}).status_code == 422
    assert (second["total"], [row["line"] for row in second["items"]]) == (2, ["1001"]), second
    assert [row["line"] for row in newest["items"]] == ["1001"], newest
    assert newest["items"][0]["decision_text"] == "bob's own line, no delegation; bob answered"
    assert (answered["total"], missed["total"]) == (2, 0), (answered, missed)


def test_users_see_what_the_delegation_shares_and_nothing_else(
    vipproxy: StartProxy, api: Endpoint
) -> None:
    vipproxy({}, directory=api_office({user: f"sip:{user}@127.0.0.1:9" for user in PASSWORDS},
                                      api))
    with client(api) as nobody:
        assert "/admin/reload" in nobody.get("/openapi.json").json()["paths"]
        refused = nobody.get("/users")
        assert refused.status_code == 401 and "Basic" in refused.headers["www-authenticate"]

    with client(api, "bob") as bob:
        # Bob, Alice's accepted delegate, sees her line and explains calls to it.
        line = bob.get(f"/lines/{LINE}")
        assert line.status_code == 200, line.text
        assert line.json() == {"line": LINE, "owner": "alice", "state": "idle", "dialogs": []}
        explained = bob.get("/explain", params={"from": "4155550123", "to": LINE})
        assert explained.json()["policy"] == "ring_me_only", explained.text
        users = bob.get("/users").json()
        assert {user["id"] for user in users} == set(PASSWORDS)
        assert all("endpoints" not in user for user in users), users
        assert bob.get("/registrations").status_code == 403
        # A session token works like the password.
        token = bob.post("/login").json()["token"]
    with httpx.Client(base_url=f"http://{api}", timeout=5.0,
                      headers={"Authorization": f"Bearer {token}"}) as session:
        assert session.get(f"/lines/{LINE}").status_code == 200

    with client(api, "erin") as erin:
        refused = erin.get(f"/lines/{LINE}")
        assert refused.status_code == 403 and "delegate" in refused.json()["detail"], refused.text
        assert erin.get("/history", params={"line": LINE}).status_code == 403
        assert erin.get("/explain", params={"from": "1", "to": LINE}).status_code == 403
        assert erin.get("/history").json()["total"] == 0
        too_many = erin.get("/history", params={"limit": 501})
        assert too_many.status_code == 422
        assert too_many.json()["detail"][0].startswith("query.limit: "), too_many.text

    with client(api, "admin") as admin:
        assert admin.get("/registrations").json() == []
        assert "endpoints" in admin.get("/users/alice").json()


def test_failed_logins_are_blocked(vipproxy: StartProxy, api: Endpoint) -> None:
    vipproxy({}, directory=api_office({user: f"sip:{user}@127.0.0.1:9" for user in PASSWORDS},
                                      api))
    statuses = []
    with httpx.Client(base_url=f"http://{api}", timeout=5.0, auth=("alice", "guess")) as guess:
        for _ in range(AUTH_MAX_FAILURES + 1):
            statuses.append(guess.get("/users").status_code)
    # As for SIP digest: the attempt that reaches the limit is refused with the block.
    assert statuses == [401] * (AUTH_MAX_FAILURES - 1) + [429, 429], statuses
    with client(api, "alice") as alice:
        blocked = alice.get("/users")  # the same address: blocked even with the password
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0
    found = samples(api)
    assert total(found, "vipproxy_api_login_failures_total") >= 1
    assert total(found, "vipproxy_api_login_blocks_total") == 1


def test_reload_through_the_api_applies_a_valid_file_and_refuses_a_broken_one(
    vipproxy: StartProxy, api: Endpoint
) -> None:
    proxy = vipproxy({}, directory=api_office(
        {user: f"sip:{user}@127.0.0.1:9" for user in PASSWORDS}, api))
    good = proxy.configuration()

    broken = proxy.configuration()
    broken["delegations"]["alice"]["vip_delegation"]["other_callers"] = "ring_nobody"
    broken["users"]["bob"]["lines"] = ["not a number"]
    proxy.rewrite(broken)
    with client(api, "admin") as admin, client(api, "bob") as bob:
        assert bob.post("/admin/reload").status_code == 403
        refused = admin.post("/admin/reload")
        assert refused.status_code == 422, refused.text
        problems = " ".join(refused.json()["problems"])
        for path in ("delegations.alice.vip_delegation.other_callers", "users.bob.lines[0]"):
            assert path in problems, problems
        assert explained_policy(admin) == "ring_me_only"  # nothing changed

        # The store holds what users own (the file seeded it): an edit there is
        # not applied, and said so...
        good["delegations"]["alice"]["vip_delegation"]["other_callers"] = "ring_all"
        good["listen"][0]["port"] += 1
        proxy.rewrite(good)
        applied = admin.post("/admin/reload")
        assert applied.status_code == 200, applied.text
        assert applied.json()["restart_needed"] == [
            "listen: changed; takes effect after a restart"], applied.text
        assert [item.split(":")[0] for item in applied.json()["ignored"]] == [
            "delegations.alice"], applied.text
        assert explained_policy(admin) == "ring_me_only"
        # ...until the administrator locks the delegation: the file's entry is it.
        good["delegations"]["alice"]["locked"] = True
        proxy.rewrite(good)
        locked = admin.post("/admin/reload")
        assert locked.status_code == 200 and locked.json()["ignored"] == [], locked.text
        assert explained_policy(admin) == "ring_all"
    assert_still_listening(proxy)


def explained_policy(http: httpx.Client) -> str:
    """The policy a call from an ordinary number to Alice's line gets now."""
    answer = http.get("/explain", params={"from": "4155550123", "to": LINE})
    assert answer.status_code == 200, answer.text
    policy: str = answer.json()["policy"]
    return policy


def assert_still_listening(proxy: ProxyProcess) -> None:
    """A listener change waits for a restart: the old sockets still serve."""
    assert proxy.running()
    proxy.wait_listening()
