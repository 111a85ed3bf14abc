"""The validated document as the frozen values the proxy runs on: the policy's
``Directory`` and the users' digest credentials."""

from __future__ import annotations

from proxy.config.addresses import REGISTERED
from proxy.config.delegations import Delegation as DelegationSection
from proxy.config.document import ConfigDocument
from proxy.config.users import User as UserSection
from proxy.policy.directory import (
    Delegate,
    Delegation,
    Directory,
    User,
    VipContact,
    VipDelegation,
)


def directory_of(document: ConfigDocument) -> Directory:
    """Users, delegations, routes, trusted peers and the outbound table, with their
    lookup tables."""
    return Directory(
        users={user_id: _user(user_id, user) for user_id, user in document.users.items()},
        delegations={
            delegator: _delegation(delegator, delegation)
            for delegator, delegation in document.delegations.items()
        },
        routes={number: route.plan() for number, route in document.routes.items()},
        # An outbound gateway is a trusted peer (the PBX, the trunk) without being listed.
        # One named by a host name is trusted by the addresses it resolves to (trust.py).
        trusted_peers=document.trusted_peers + tuple(
            network for route in document.outbound if (network := route.network()) is not None),
        default_country_code=document.numbering.default_country_code,
        outbound=tuple(route.rule(index) for index, route in enumerate(document.outbound)),
    )


def _user(user_id: str, user: UserSection) -> User:
    return User(
        id=user_id,
        name=user.name or user_id,
        lines=user.lines,
        endpoints=tuple(uri for uri in user.endpoints if uri != REGISTERED),
        registered=REGISTERED in user.endpoints,
    )


def _delegation(delegator: str, delegation: DelegationSection) -> Delegation:
    vip = delegation.vip_delegation
    enabled = vip is not None and vip.enabled
    return Delegation(
        delegator=delegator,
        delegates=tuple(
            Delegate(user_id, frozenset(delegate.privileges), delegate.status)
            for user_id, delegate in delegation.delegates.items()
        ),
        # Disabled (or absent), the line rings everyone together: no VIP policy.
        vip_delegation=VipDelegation(vip.vip_callers, vip.other_callers)
        if enabled and vip is not None and vip.vip_callers and vip.other_callers
        else None,
        vip_contacts=tuple(
            VipContact(c.first_name, c.last_name, c.company, c.email,
                       tuple(entry.number for entry in c.numbers))
            for c in delegation.vip_contacts
        ),
        ring_timeout=delegation.ring_timeout,
        voicemail=delegation.voicemail,
        vip_display_prefix=delegation.display_prefix.vip_callers,
        other_display_prefix=delegation.display_prefix.other_callers,
    )
