"""Who sent a request, and where the proxy may send one (the security model).

Three kinds of source (README, "Security model"):

- a trusted peer: an address in ``trusted_peers`` (the PBX, the trunk). Its
  P-Asserted-Identity is believed (RFC 3325) and it may route through the proxy.
- a phone: the address of a user's static endpoint; it identifies its owner.
- anyone else: untrusted. Served only as ``untrusted_calls`` says.

The proxy only ever sends a request to a destination it chose: a configured
target (an endpoint, a route target or fallback, a voicemail) or a trusted peer.
A target named by a host name counts by the addresses it resolved to, and an
outbound gateway's addresses are trusted peers (rebuilt when they change).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from proxy.policy.directory import Directory
from proxy.sip.errors import SipParseError
from proxy.sip.hop import NO_NAMES, Hop, HostName, ResolvedNames, hops_for_uri, host_name
from proxy.sip.uri import SipUri, parse_uri


class SourceKind(enum.Enum):
    TRUSTED_PEER = "trusted_peer"
    PHONE = "phone"
    UNTRUSTED = "untrusted"


class UntrustedCalls(enum.StrEnum):
    """What an untrusted source may do (the ``untrusted_calls`` setting)."""

    REFUSE = "refuse"  # 403 before any routing: nothing to learn, nothing relayed
    LOCAL_LINES = "local_lines"  # call users' lines and static routes, nothing else


@dataclass(frozen=True, slots=True)
class Source:
    """Where a request came from and what that makes it."""

    hop: Hop
    kind: SourceKind
    user: str | None = None  # the phone's owner
    authenticated: bool = False  # the user proved it with digest credentials

    @property
    def trusted(self) -> bool:
        return self.kind is SourceKind.TRUSTED_PEER


@dataclass(frozen=True, slots=True)
class TrustModel:
    """Sources and destinations, with lookup tables built once from the directory."""

    directory: Directory
    untrusted_calls: UntrustedCalls = UntrustedCalls.REFUSE
    names: ResolvedNames = NO_NAMES  # the configured host names' addresses
    _phone_owners: dict[str, str] = field(init=False, repr=False, compare=False)
    _destinations: frozenset[tuple[str, int]] = field(init=False, repr=False, compare=False)
    _gateways: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        phones: dict[str, str] = {}
        for user in self.directory.users.values():
            for endpoint in user.endpoints:
                for hop in self._hops(endpoint):
                    phones.setdefault(hop.host, user.id)
        destinations = frozenset((hop.host, hop.port) for uri in _configured_targets(
            self.directory) for hop in self._hops(uri))
        # A gateway named by its IP is in ``directory.trusted_peers`` already.
        gateways = frozenset(hop.host for rule in self.directory.outbound
                             for hop in self._hops(rule.gateway))
        object.__setattr__(self, "_phone_owners", phones)
        object.__setattr__(self, "_destinations", destinations)
        object.__setattr__(self, "_gateways", gateways)

    def source(self, hop: Hop) -> Source:
        """Classify the sender of a message that arrived from ``hop``."""
        if self._trusted_peer(hop.host):
            return Source(hop, SourceKind.TRUSTED_PEER)
        owner = self._phone_owners.get(hop.host)
        if owner is not None:
            return Source(hop, SourceKind.PHONE, owner)
        return Source(hop, SourceKind.UNTRUSTED)

    def may_send_to(self, hop: Hop) -> bool:
        """True for a configured target's address or a trusted peer."""
        return (hop.host, hop.port) in self._destinations or self._trusted_peer(hop.host)

    def _trusted_peer(self, host: str) -> bool:
        return self.directory.is_trusted_peer(host) or host in self._gateways

    def _hops(self, uri: str) -> tuple[Hop, ...]:
        """Where a configured URI goes: its IP, or the addresses its name resolved to."""
        try:
            return hops_for_uri(parse_uri(uri), self.names)
        except SipParseError:
            return ()


def configured_host_names(directory: Directory) -> frozenset[HostName]:
    """The host names in configured targets and gateways: what the resolver looks up."""
    uris = [*_configured_targets(directory), *(rule.gateway for rule in directory.outbound)]
    names = (_host_name_or_none(uri) for uri in uris)
    return frozenset(name for name in names if name is not None)


def _configured_targets(directory: Directory) -> list[str]:
    uris = [uri for user in directory.users.values() for uri in user.endpoints]
    uris += [d.voicemail for d in directory.delegations.values() if d.voicemail]
    for plan in directory.routes.values():
        stages = [*plan.stages, *([plan.fallback] if plan.fallback else [])]
        uris += [target.uri for stage in stages for target in stage.targets]
    return uris


def _host_name_or_none(uri: str) -> HostName | None:
    try:
        parsed = parse_uri(uri)
    except SipParseError:
        return None
    return host_name(parsed) if isinstance(parsed, SipUri) else None
