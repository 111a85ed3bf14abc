"""Who sent a request, and where the proxy may send one (the security model).

Three kinds of source (README, "Security model"):

- a trusted peer: an address in ``trusted_peers`` (the PBX, the trunk). Its
  P-Asserted-Identity is believed (RFC 3325) and it may route through the proxy.
- a phone: the address of a user's static endpoint; it identifies its owner.
- anyone else: untrusted. Served only as ``untrusted_calls`` says.

The proxy only ever sends a request to a destination it chose: a configured
target (an endpoint, a route target or fallback, a voicemail) or a trusted peer.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from proxy.policy.directory import Directory
from proxy.sip.errors import SipParseError
from proxy.sip.hop import Hop, hop_for_uri
from proxy.sip.uri import parse_uri


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

    @property
    def trusted(self) -> bool:
        return self.kind is SourceKind.TRUSTED_PEER


@dataclass(frozen=True, slots=True)
class TrustModel:
    """Sources and destinations, with lookup tables built once from the directory."""

    directory: Directory
    untrusted_calls: UntrustedCalls = UntrustedCalls.REFUSE
    _phone_owners: dict[str, str] = field(init=False, repr=False, compare=False)
    _destinations: frozenset[tuple[str, int]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        phones: dict[str, str] = {}
        for user in self.directory.users.values():
            for endpoint in user.endpoints:
                hop = _hop_or_none(endpoint)
                if hop is not None:
                    phones.setdefault(hop.host, user.id)
        hops = (_hop_or_none(uri) for uri in _configured_targets(self.directory))
        destinations = frozenset((hop.host, hop.port) for hop in hops if hop is not None)
        object.__setattr__(self, "_phone_owners", phones)
        object.__setattr__(self, "_destinations", destinations)

    def source(self, hop: Hop) -> Source:
        """Classify the sender of a message that arrived from ``hop``."""
        if self.directory.is_trusted_peer(hop.host):
            return Source(hop, SourceKind.TRUSTED_PEER)
        owner = self._phone_owners.get(hop.host)
        if owner is not None:
            return Source(hop, SourceKind.PHONE, owner)
        return Source(hop, SourceKind.UNTRUSTED)

    def may_send_to(self, hop: Hop) -> bool:
        """True for a configured target's address or a trusted peer."""
        return (hop.host, hop.port) in self._destinations or self.directory.is_trusted_peer(
            hop.host)


def _configured_targets(directory: Directory) -> list[str]:
    uris = [uri for user in directory.users.values() for uri in user.endpoints]
    uris += [d.voicemail for d in directory.delegations.values() if d.voicemail]
    for plan in directory.routes.values():
        stages = [*plan.stages, *([plan.fallback] if plan.fallback else [])]
        uris += [target.uri for stage in stages for target in stage.targets]
    return uris


def _hop_or_none(uri: str) -> Hop | None:
    try:
        return hop_for_uri(parse_uri(uri))
    except SipParseError:
        return None
