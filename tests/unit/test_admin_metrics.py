"""The metrics collector (proxy.admin.metrics): names by Prometheus' conventions,
every family present before anything happened, the core's counts sorted into
families."""

from __future__ import annotations

from collections import Counter

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry

from proxy.admin.metrics import CallCounts, ProxyCollector, Sources


def scrape(stats: dict[str, int]) -> dict[str, list[tuple[dict[str, str], float]]]:
    sources = Sources(
        core_stats=lambda: Counter(stats), requests_received=lambda: {"INVITE": 3},
        responses_sent=lambda: {200: 2, 486: 1},
        transactions=lambda: {"client": 1, "server": 2}, registrations=lambda: 4,
        active_calls=lambda: 0, busy_lines=list, lamp_subscriptions=lambda: 0,
        auth_sources=lambda: (1, 0), api_logins=lambda: (0, 0), udp_receive=lambda: (7, 0),
        loop_lag=lambda: 0.002, store_queue=lambda: 5,
        store_writes=lambda: {"written": 9, "dropped": 0}, reloads=lambda: {},
        notifications=lambda: {}, line_streams=lambda: (2, 1))
    registry = CollectorRegistry()
    registry.register(ProxyCollector(sources, CallCounts()))
    text = generate_latest(registry).decode()
    return {family.name + ("_total" if family.type == "counter" else ""):
            [(sample.labels, sample.value) for sample in family.samples]
            for family in text_string_to_metric_families(text)}


def test_names_follow_the_conventions_and_every_family_is_there() -> None:
    families = scrape({})
    assert all(name.startswith("vipproxy_") for name in families)
    assert families["vipproxy_sip_requests_received_total"] == [({"method": "INVITE"}, 3.0)]
    assert families["vipproxy_sip_responses_sent_total"] == [
        ({"code": "200"}, 2.0), ({"code": "486"}, 1.0)]
    assert families["vipproxy_udp_receive_drops_total"] == [({}, 7.0)]
    assert families["vipproxy_store_queue_depth"] == [({}, 5.0)]
    assert families["vipproxy_api_line_streams"] == [({}, 2.0)]
    assert families["vipproxy_api_line_stream_resyncs_total"] == [({}, 1.0)]
    assert families["vipproxy_lines"] == [({"state": "held"}, 0.0), ({"state": "in_use"}, 0.0),
                                          ({"state": "ringing"}, 0.0)]


def test_the_cores_counts_are_sorted_into_dropped_refused_and_other_events() -> None:
    families = scrape({"dropped_stray_response": 2, "parse_errors": 1, "refused_forbidden": 4,
                       "branch_failovers": 3})
    assert families["vipproxy_sip_messages_dropped_total"] == [
        ({"reason": "parse_errors"}, 1.0), ({"reason": "stray_response"}, 2.0)]
    assert families["vipproxy_sip_requests_refused_total"] == [({"reason": "forbidden"}, 4.0)]
    assert families["vipproxy_core_events_total"] == [({"event": "branch_failovers"}, 3.0)]
