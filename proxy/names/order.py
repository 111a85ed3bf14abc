"""RFC 3263 §4 and RFC 2782: which records to ask for, and the order in which the
hops they name are tried. Pure: the records are passed in, the dice too."""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from proxy.sip.hop import Hop, HostName
from proxy.sip.via import DEFAULT_PORTS

# RFC 3263 §4.1: the NAPTR services of the transports this proxy offers (RFC 3261
# §26 registers SIP+D2U and SIP+D2T; TLS and SCTP are not offered).
NAPTR_SERVICES = {"SIP+D2U": "UDP", "SIP+D2T": "TCP"}
# RFC 3263 §4.1 without NAPTR: one SRV query per transport, in this order.
SRV_PREFIXES = {"UDP": "_sip._udp", "TCP": "_sip._tcp"}


@dataclass(frozen=True, slots=True)
class Naptr:
    """A NAPTR record (RFC 3403 §4.1) as far as RFC 3263 reads it."""

    order: int
    preference: int
    flags: str
    service: str
    replacement: str


@dataclass(frozen=True, slots=True)
class Srv:
    """An SRV record (RFC 2782)."""

    priority: int
    weight: int
    port: int
    target: str


@dataclass(frozen=True, slots=True)
class SrvQuery:
    """An SRV name to ask for, and the transport its targets are reached over."""

    transport: str
    name: str


def srv_queries(name: HostName, naptrs: Iterable[Naptr]) -> tuple[SrvQuery, ...]:
    """The SRV names to try, in order (RFC 3263 §4.1).

    With an explicit transport: that transport's SRV name only. Otherwise the
    NAPTR records with the "s" flag and a service we offer, lowest order then
    lowest preference first; without any, the SRV name of every transport we offer.
    """
    if name.transport is not None:
        return (SrvQuery(name.transport, f"{SRV_PREFIXES[name.transport]}.{name.host}"),)
    usable = sorted((r for r in naptrs
                     if r.flags.lower() == "s" and r.service.upper() in NAPTR_SERVICES),
                    key=lambda r: (r.order, r.preference))
    if usable:
        return tuple(SrvQuery(NAPTR_SERVICES[r.service.upper()], _bare(r.replacement))
                     for r in usable)
    return tuple(SrvQuery(transport, f"{prefix}.{name.host}")
                 for transport, prefix in SRV_PREFIXES.items())


def order_srv(records: Iterable[Srv], dice: random.Random) -> tuple[Srv, ...]:
    """RFC 2782 "Usage rules": lowest priority first; within a priority, a weighted
    random order (records of weight 0 first in the running sum, so they are
    picked rarely). A single record whose target is "." means "no service"."""
    listed = [r for r in records if _bare(r.target)]
    ordered: list[Srv] = []
    for priority in sorted({r.priority for r in listed}):
        group = sorted((r for r in listed if r.priority == priority), key=lambda r: r.weight > 0)
        while group:
            pick = dice.randint(0, sum(r.weight for r in group))
            running = 0
            for index, record in enumerate(group):
                running += record.weight
                if running >= pick:
                    ordered.append(group.pop(index))
                    break
    return tuple(ordered)


def srv_hops(transport: str, ordered: Iterable[Srv],
             addresses: Mapping[str, tuple[str, ...]]) -> tuple[Hop, ...]:
    """RFC 3263 §4.3: each SRV target's addresses in turn, at the record's port."""
    return tuple(Hop(transport, address, record.port) for record in ordered
                 for address in addresses.get(_bare(record.target), ()))


def address_hops(name: HostName, addresses: Iterable[str]) -> tuple[Hop, ...]:
    """RFC 3263 §4.2: no SRV (or an explicit port): the host's A/AAAA addresses, at
    the URI's port or the transport's default."""
    transport = name.transport or "UDP"
    port = name.port or DEFAULT_PORTS[transport]
    return tuple(Hop(transport, address, port) for address in addresses)


def _bare(dns_name: str) -> str:
    """A DNS name as the table keys it: lower case, no trailing dot ("." is "")."""
    return dns_name.lower().removesuffix(".")
