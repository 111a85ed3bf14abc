"""Asking the DNS servers for the configured host names (dnspython's asyncio
resolver), before the proxy listens and again when a name's TTL runs out. The
core never waits for this: it reads the table the cache gives (``ResolvedNames``).
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Callable
from typing import Any

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.resolver

from proxy.names.cache import Lookup, NameCache
from proxy.names.order import Naptr, Srv, address_hops, order_srv, srv_hops, srv_queries
from proxy.sip.hop import Hop, HostName, ResolvedNames

# How long one name's lookup may take, every query of it together (RFC 3263 needs
# up to four: NAPTR, SRV, A, AAAA per target).
LOOKUP_SECONDS = 5.0


class NoResolvers(Exception):
    """Host names are configured, but there is nobody to ask: the system has no
    resolver configuration and ``dns.servers`` names none."""


class DnsLookups:
    """Resolves one host name into hops (RFC 3263 §4), asking ``servers`` (host,
    port), or the system's resolvers (/etc/resolv.conf) when there are none."""

    def __init__(self, servers: tuple[tuple[str, int], ...], dice: random.Random) -> None:
        try:
            self._resolver = dns.asyncresolver.Resolver(configure=not servers)
        except dns.resolver.NoResolverConfiguration as error:
            raise NoResolvers("the configuration names host names, but this system has no "
                              "DNS resolver configured (/etc/resolv.conf) and dns.servers "
                              "names none") from error
        if servers:
            self._resolver.nameservers = [dns.nameserver.Do53Nameserver(host, port)
                                          for host, port in servers]
        self._resolver.lifetime = LOOKUP_SECONDS / 2
        self._dice = dice

    async def lookup(self, name: HostName) -> Lookup:
        """The hops of ``name`` in the order to try them, with the smallest TTL."""
        try:
            return await asyncio.wait_for(self._lookup(name), LOOKUP_SECONDS)
        except (dns.exception.DNSException, TimeoutError) as error:
            return Lookup((), 0.0, f"{type(error).__name__}: {error}".rstrip(": "))

    async def _lookup(self, name: HostName) -> Lookup:
        if name.port is not None:
            # RFC 3263 §4.2: an explicit port means no SRV: the host's addresses.
            addresses, ttl = await self._addresses(name.host)
            return _lookup_of(address_hops(name, addresses), ttl)
        naptrs: list[Naptr] = []
        ttl = math.inf
        if name.transport is None:
            records, ttl = await self._records(name.host, "NAPTR")
            naptrs = [Naptr(r.order, r.preference, r.flags.decode(), r.service.decode(),
                            r.replacement.to_text()) for r in records]
        for query in srv_queries(name, naptrs):
            records, srv_ttl = await self._records(query.name, "SRV")
            ordered = order_srv((Srv(r.priority, r.weight, r.port, r.target.to_text())
                                 for r in records), self._dice)
            if ordered:
                found = {}
                for record in ordered:
                    target = record.target.lower().removesuffix(".")
                    found[target], address_ttl = await self._addresses(target)
                    srv_ttl = min(srv_ttl, address_ttl)
                return _lookup_of(srv_hops(query.transport, ordered, found), min(ttl, srv_ttl))
        # RFC 3263 §4.2: no SRV records: the host's A/AAAA at the default port.
        addresses, address_ttl = await self._addresses(name.host)
        return _lookup_of(address_hops(name, addresses), min(ttl, address_ttl))

    async def _addresses(self, host: str) -> tuple[tuple[str, ...], float]:
        """IPv4 addresses first, then IPv6."""
        v4, v4_ttl = await self._records(host, "A")
        v6, v6_ttl = await self._records(host, "AAAA")
        return tuple(r.address for r in (*v4, *v6)), min(v4_ttl, v6_ttl)

    async def _records(self, qname: str, rdtype: str) -> tuple[list[Any], float]:
        """The records of one type and their TTL; none (TTL infinite) for a name
        or type that does not exist."""
        try:
            answer = await self._resolver.resolve(qname, rdtype, raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN:
            return [], math.inf
        if answer.rrset is None:
            return [], math.inf
        return list(answer.rrset), float(answer.rrset.ttl)


def _lookup_of(hops: tuple[Hop, ...], ttl: float) -> Lookup:
    return Lookup(hops, ttl) if hops else Lookup((), 0.0, "no SRV, A or AAAA record")


async def refresh_due(cache: NameCache, lookups: DnsLookups,
                      loop: asyncio.AbstractEventLoop, log: Any) -> bool:
    """Resolve every name whose TTL ran out, together; True when the hops changed."""
    due = cache.due(loop.time())
    results = await asyncio.gather(*(lookups.lookup(name) for name in due))
    changed = False
    for name, lookup in zip(due, results, strict=True):
        if lookup.error is not None:
            log.warning("dns.unresolved", name=name.host, error=lookup.error)
        else:
            log.info("dns.resolved", name=name.host, ttl=lookup.ttl,
                     hops=[f"{hop.transport.lower()}:{hop.host}:{hop.port}"
                           for hop in lookup.hops])
        changed = cache.record(name, lookup, loop.time()) or changed
    return changed


async def keep_resolved(cache: NameCache, lookups: DnsLookups,
                        loop: asyncio.AbstractEventLoop,
                        publish: Callable[[ResolvedNames], None], log: Any) -> None:
    """Resolve each name again when its TTL runs out; ``publish`` the table when
    its hops changed. Runs until cancelled."""
    while (due := cache.next_due()) is not None:
        await asyncio.sleep(max(0.0, due - loop.time()))
        if await refresh_due(cache, lookups, loop, log):
            publish(cache.resolved())
