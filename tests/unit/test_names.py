"""RFC 3263 / RFC 2782 ordering with the records passed in, the TTL cache with a
fake clock, and when a branch fails over to its target's next hop."""

from __future__ import annotations

import random

import dns.asyncresolver
import dns.resolver
import pytest

from proxy.core.failover import HopFailure, fails_over, hop_failure
from proxy.names.cache import MIN_REFRESH_SECONDS, RETRY_SECONDS, Lookup, NameCache
from proxy.names.order import (
    Naptr,
    Srv,
    SrvQuery,
    address_hops,
    order_srv,
    srv_hops,
    srv_queries,
)
from proxy.names.resolver import DnsLookups, NoResolvers
from proxy.sip.errors import SipParseError
from proxy.sip.hop import Hop, HostName, ResolvedNames, hops_for_uri
from proxy.sip.uri import parse_uri

GW = HostName("gw.example.test", None, None)


def test_naptr_records_pick_the_transports_in_order_and_skip_what_we_do_not_offer() -> None:
    records = [
        Naptr(20, 10, "s", "SIP+D2U", "_sip._udp.gw.example.test."),
        Naptr(10, 10, "s", "SIPS+D2T", "_sips._tcp.gw.example.test."),  # TLS: not offered
        Naptr(10, 20, "S", "SIP+D2T", "_sip._tcp.gw.example.test."),
        Naptr(5, 10, "a", "SIP+D2U", "other.example.test."),  # not an SRV pointer
    ]
    assert srv_queries(GW, records) == (SrvQuery("TCP", "_sip._tcp.gw.example.test"),
                                        SrvQuery("UDP", "_sip._udp.gw.example.test"))


def test_without_naptr_every_transport_is_asked_for_and_an_explicit_one_alone() -> None:
    assert srv_queries(GW, []) == (SrvQuery("UDP", "_sip._udp.gw.example.test"),
                                   SrvQuery("TCP", "_sip._tcp.gw.example.test"))
    tcp = HostName("gw.example.test", None, "TCP")
    assert srv_queries(tcp, [Naptr(1, 1, "s", "SIP+D2U", "x.")]) == (
        SrvQuery("TCP", "_sip._tcp.gw.example.test"),)


def test_srv_records_go_by_priority_then_weight() -> None:
    records = [Srv(20, 0, 5062, "c.example.test."), Srv(10, 0, 5060, "a.example.test."),
               Srv(10, 100, 5061, "b.example.test.")]
    firsts = {order_srv(records, random.Random(seed))[0].target for seed in range(50)}
    # Weight 0 beside weight 100: picked first only when the dice say 0 (RFC 2782).
    assert firsts <= {"a.example.test.", "b.example.test."}
    assert all(order_srv(records, random.Random(seed))[2].priority == 20 for seed in range(20))
    ordered = order_srv(records, random.Random(1))
    assert sorted(r.port for r in ordered) == [5060, 5061, 5062]


def test_weights_share_the_first_place_in_proportion() -> None:
    records = [Srv(10, 90, 1, "heavy."), Srv(10, 10, 2, "light.")]
    dice = random.Random(7)
    heavy = sum(order_srv(records, dice)[0].port == 1 for _ in range(1000))
    assert 850 < heavy < 950


def test_a_dot_target_means_no_service() -> None:
    assert order_srv([Srv(0, 0, 0, ".")], random.Random(1)) == ()


def test_hops_follow_the_srv_order_and_addresses() -> None:
    ordered = (Srv(10, 0, 5070, "A.example.test."), Srv(20, 0, 5080, "b.example.test."))
    addresses = {"a.example.test": ("127.0.0.2", "::1"), "b.example.test": ("127.0.0.3",)}
    assert srv_hops("UDP", ordered, addresses) == (
        Hop("UDP", "127.0.0.2", 5070), Hop("UDP", "::1", 5070), Hop("UDP", "127.0.0.3", 5080))


def test_without_srv_the_address_records_get_the_uris_port_or_the_default() -> None:
    assert address_hops(GW, ["127.0.0.4"]) == (Hop("UDP", "127.0.0.4", 5060),)
    named = HostName("gw.example.test", 5070, "TCP")
    assert address_hops(named, ["127.0.0.4"]) == (Hop("TCP", "127.0.0.4", 5070),)


def test_the_core_reads_a_resolved_name_and_names_one_that_did_not_resolve() -> None:
    hops = (Hop("UDP", "127.0.0.2", 5070), Hop("UDP", "127.0.0.3", 5070))
    names = ResolvedNames(hops={GW: hops}, failures={
        HostName("vm.example.test", None, None): "the name did not resolve (NXDOMAIN)"})
    assert hops_for_uri(parse_uri("sip:+12125550147@GW.example.test"), names) == hops
    with pytest.raises(SipParseError) as caught:
        hops_for_uri(parse_uri("sip:vm.example.test"), names)
    assert caught.value.status_hint == 503
    assert caught.value.reason == ("Cannot route to 'vm.example.test':"
                                   " the name did not resolve (NXDOMAIN)")


def test_the_cache_keeps_hops_for_their_ttl() -> None:
    hops = (Hop("UDP", "127.0.0.2", 5060),)
    cache = NameCache([GW])
    assert cache.due(0.0) == (GW,)
    assert cache.record(GW, Lookup(hops, 60.0), now=100.0)
    assert cache.resolved().hops == {GW: hops}
    assert cache.due(159.9) == ()
    assert cache.next_due() == 160.0
    assert cache.due(160.0) == (GW,)
    assert not cache.record(GW, Lookup(hops, 0.0), now=160.0)  # same hops: nothing changed
    assert cache.next_due() == 160.0 + MIN_REFRESH_SECONDS


def test_a_failed_lookup_keeps_the_last_hops_and_is_retried() -> None:
    hops = (Hop("UDP", "127.0.0.2", 5060),)
    cache = NameCache([GW])
    cache.record(GW, Lookup(hops, 30.0), now=0.0)
    assert not cache.record(GW, Lookup((), 0.0, "Timeout"), now=30.0)
    assert cache.resolved().hops == {GW: hops}
    assert cache.next_due() == 30.0 + RETRY_SECONDS


def test_a_name_that_never_resolved_says_why() -> None:
    cache = NameCache([GW])
    assert cache.record(GW, Lookup((), 0.0, "NXDOMAIN"), now=0.0)
    assert cache.resolved() == ResolvedNames(
        hops={}, failures={GW: "the name did not resolve (NXDOMAIN)"})


@pytest.mark.parametrize(("failure", "hops_left", "waiting", "expected"), [
    (HopFailure.TIMEOUT, 1, True, True),
    (HopFailure.TRANSPORT_ERROR, 1, True, True),
    (HopFailure.UNAVAILABLE, 2, True, True),
    (HopFailure.TIMEOUT, 0, True, False),  # the last hop: the 408 stands
    (HopFailure.TIMEOUT, 1, False, False),  # the fork no longer waits (cancelled, settled)
    (None, 1, True, False),  # a 486 or 404 is the target's answer
])
def test_when_a_branch_fails_over(failure: HopFailure | None, hops_left: int, waiting: bool,
                                  expected: bool) -> None:
    assert fails_over(failure, hops_left, waiting) is expected


def test_only_a_503_among_responses_moves_to_the_next_hop() -> None:
    assert hop_failure(503) is HopFailure.UNAVAILABLE
    assert [hop_failure(status) for status in (408, 480, 486, 500, 600)] == [None] * 5


def test_host_names_without_any_resolver_to_ask_are_a_readable_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def unconfigured(configure: bool = True) -> None:
        raise dns.resolver.NoResolverConfiguration("no nameservers")

    monkeypatch.setattr(dns.asyncresolver, "Resolver", unconfigured)
    with pytest.raises(NoResolvers, match=r"dns\.servers names none"):
        DnsLookups((), random.Random(1))
