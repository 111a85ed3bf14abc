"""The delegation directory: users, their lines, delegations and VIP contacts.

Frozen values, validated at load by the models in ``proxy.config``. The ``Directory``
builds its lookup tables once (line -> user, static route numbers, VIP number ->
contact per delegator) so that routing a call is a few dictionary look-ups.
Numbers are stored as written and indexed normalised (``proxy.policy.numbers``).
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field

from proxy.policy.numbers import normalize_number, normalize_user
from proxy.policy.outbound import OutboundRule, first_match
from proxy.policy.plan import RoutingPlan

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_COUNTRY_CODE = "1"
DEFAULT_VIP_DISPLAY_PREFIX = "[VIP] "
# Seconds a stage rings: a delegation's default, and always for a user without one.
DEFAULT_RING_TIMEOUT = 20.0
# Source addresses whose trust is remembered at most (``Directory.is_trusted_peer``).
_TRUST_CACHE_SIZE = 4096


class Privilege(enum.StrEnum):
    """What a delegate may do on the delegator's behalf."""

    ANSWER_CALLS = "answer_calls"
    PLACE_CALLS = "place_calls"
    PICKUP_HELD_CALLS = "pickup_held_calls"
    MANAGE_VIP_CONTACTS = "manage_vip_contacts"


class DelegationStatus(enum.StrEnum):
    """Where the delegate is in accepting the delegation; only ``accepted`` rings."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"


class Policy(enum.StrEnum):
    """How a delegated line rings; the stages of each are in ``proxy.policy.stages``."""

    RING_ME_ONLY = "ring_me_only"
    RING_ALL = "ring_all"
    RING_ME_THEN_DELEGATES = "ring_me_then_delegates"
    RING_DELEGATES_THEN_ME = "ring_delegates_then_me"
    RING_DELEGATES_ONLY = "ring_delegates_only"
    VOICEMAIL = "voicemail"


# The policies allowed for VIP callers; other callers may use every policy.
VIP_POLICIES = (Policy.RING_ME_ONLY, Policy.RING_ME_THEN_DELEGATES)
# Policies that need no answering delegate (the validation rule).
POLICIES_WITHOUT_DELEGATES = (Policy.RING_ME_ONLY, Policy.VOICEMAIL)


@dataclass(frozen=True, slots=True)
class User:
    """A person: the lines (numbers) they own and the endpoints their phones answer on.

    ``endpoints`` are the static ``sip:`` URIs; ``registered`` says the user's
    phones may also register where they are (not routed to yet).
    """

    id: str
    name: str
    lines: tuple[str, ...]
    endpoints: tuple[str, ...]
    registered: bool = False


@dataclass(frozen=True, slots=True)
class Delegate:
    """A user acting for a delegator, with what they may do and whether they accepted."""

    user: str
    privileges: frozenset[Privilege]
    status: DelegationStatus

    @property
    def answers_calls(self) -> bool:
        """Rung for the delegator: accepted and holding ``answer_calls``, nothing else."""
        return self.skip_reason is None

    @property
    def skip_reason(self) -> str | None:
        """Why this delegate is not rung (``pending``, ``declined``, ``no answer_calls``)."""
        return self.lacks(Privilege.ANSWER_CALLS)

    def lacks(self, privilege: Privilege) -> str | None:
        """What keeps this delegate from using ``privilege``: the status when the
        delegation is not accepted (``pending``, ``declined``), else ``no <privilege>``
        when it is not granted; None when nothing does."""
        if self.status is not DelegationStatus.ACCEPTED:
            return self.status.value
        if privilege not in self.privileges:
            return f"no {privilege.value}"
        return None


@dataclass(frozen=True, slots=True)
class VipContact:
    """A caller whose calls follow the delegator's VIP policy."""

    first_name: str
    last_name: str
    company: str
    email: str
    numbers: tuple[str, ...]

    @property
    def label(self) -> str:
        """``Carol Ng (Acme) <carol@acme.example>``, leaving out what is empty.

        A contact with neither name nor company nor email is labelled by its numbers.
        """
        name = " ".join(part for part in (self.first_name, self.last_name) if part)
        parts = [name or self.company]
        if name and self.company:
            parts.append(f"({self.company})")
        if self.email:
            parts.append(f"<{self.email}>")
        return " ".join(part for part in parts if part) or ", ".join(self.numbers)


@dataclass(frozen=True, slots=True)
class VipDelegation:
    """The policies of a delegator with VIP delegation enabled."""

    vip_callers: Policy  # one of VIP_POLICIES
    other_callers: Policy


@dataclass(frozen=True, slots=True)
class Delegation:
    """A delegator's delegates and how their lines ring.

    ``vip_delegation`` None means VIP delegation is disabled: the line rings the
    delegator and the answering delegates together, and no caller is a VIP.
    """

    delegator: str
    delegates: tuple[Delegate, ...]
    vip_delegation: VipDelegation | None
    vip_contacts: tuple[VipContact, ...]
    ring_timeout: float  # seconds, per stage
    voicemail: str | None  # the shared mailbox URI
    vip_display_prefix: str = DEFAULT_VIP_DISPLAY_PREFIX
    other_display_prefix: str = ""

    @property
    def answering_delegates(self) -> tuple[Delegate, ...]:
        """The delegates that ring for this delegator, in configuration order."""
        return tuple(delegate for delegate in self.delegates if delegate.answers_calls)


@dataclass(frozen=True, slots=True)
class Directory:
    """Everything the routing decision needs, with lookups built once."""

    users: Mapping[str, User]
    delegations: Mapping[str, Delegation]
    routes: Mapping[str, RoutingPlan]
    trusted_peers: tuple[IpNetwork, ...] = ()
    default_country_code: str = DEFAULT_COUNTRY_CODE
    # Where numbers outside the directory go, first match wins (``proxy.policy.outbound``).
    outbound: tuple[OutboundRule, ...] = ()
    _line_owners: dict[str, User] = field(init=False, repr=False, compare=False)
    _route_numbers: dict[str, RoutingPlan] = field(init=False, repr=False, compare=False)
    _vip_numbers: dict[str, dict[str, VipContact]] = field(init=False, repr=False, compare=False)
    _trusted_addresses: dict[str, bool] = field(init=False, repr=False, compare=False,
                                                default_factory=dict)

    def __post_init__(self) -> None:
        line_owners = {
            self.normalize(line): user for user in self.users.values() for line in user.lines
        }
        route_numbers = {self.normalize(number): plan for number, plan in self.routes.items()}
        route_numbers.update(self.routes)  # as written wins over a normalised twin
        vip_numbers = {
            delegator: {
                self.normalize(number): contact
                for contact in delegation.vip_contacts
                for number in contact.numbers
            }
            for delegator, delegation in self.delegations.items()
        }
        # A frozen dataclass sets its derived fields through object.__setattr__.
        object.__setattr__(self, "_line_owners", line_owners)
        object.__setattr__(self, "_route_numbers", route_numbers)
        object.__setattr__(self, "_vip_numbers", vip_numbers)

    def normalize(self, user: str) -> str:
        """A called or calling user part as a lookup key (see ``proxy.policy.numbers``)."""
        return normalize_user(user, self.default_country_code)

    def line_owner(self, number: str) -> User | None:
        """The user owning the line ``number`` (any formatting), or None."""
        return self._line_owners.get(self.normalize(number))

    def route(self, number: str) -> RoutingPlan | None:
        """The static route for ``number``, looked up as written, then normalised."""
        plan = self._route_numbers.get(number)
        return plan if plan is not None else self._route_numbers.get(self.normalize(number))

    def outbound_rule(self, number: str) -> OutboundRule | None:
        """The first outbound row that takes ``number`` (any formatting), or None."""
        return first_match(self.outbound, self.normalize(number))

    def delegate(self, delegator: str, user_id: str) -> Delegate | None:
        """``user_id`` as a delegate of ``delegator``, or None when not one."""
        delegation = self.delegations.get(delegator)
        if delegation is None:
            return None
        return next((d for d in delegation.delegates if d.user == user_id), None)

    def vip_contact(self, delegator: str, caller: str) -> VipContact | None:
        """The delegator's VIP contact with the number ``caller``, or None.

        Only phone numbers match: a caller such as ``anonymous`` is nobody's VIP.
        """
        number = normalize_number(caller, self.default_country_code)
        if number is None:
            return None
        return self._vip_numbers.get(delegator, {}).get(number)

    def history_shared_with(self, user_id: str) -> tuple[str, ...]:
        """Whose lines' calls ``user_id`` sees in the shared call history: their own,
        and those of every delegator who has them as an accepted delegate (whatever
        their privileges: an assistant who only places calls still sees them)."""
        delegators = tuple(
            delegator for delegator, delegation in self.delegations.items()
            if any(delegate.user == user_id and delegate.status is DelegationStatus.ACCEPTED
                   for delegate in delegation.delegates))
        return (user_id, *delegators)

    def is_trusted_peer(self, address: str) -> bool:
        """True when ``address`` lies in a trusted peer network (RFC 3325 §2 trust domain).

        Asked for every message: the answer is remembered per address (a bounded
        table, emptied when full) instead of parsing the address each time."""
        known = self._trusted_addresses.get(address)
        if known is None:
            if len(self._trusted_addresses) >= _TRUST_CACHE_SIZE:
                self._trusted_addresses.clear()
            known = self._trusted_addresses[address] = self._in_trusted_network(address)
        return known

    def _in_trusted_network(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped  # a dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d
        return any(ip in network for network in self.trusted_peers)
