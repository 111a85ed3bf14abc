"""Users' changes to a delegation through the API: who may make each, and the
delegator's settings after it. Pure: the settings are the ``delegations`` entry's
user-owned keys as plain data (``proxy.config.user_settings``); what comes out is
validated whole with the file by the configuration's models before it applies.

Who may do what (the seed's privileges):

- the delegator and the administrator: delegates (invite, privileges, remove),
  the policies, the ring timeout, the VIP contacts;
- an accepted delegate with ``manage_vip_contacts``: the VIP contacts;
- the invited delegate: accept or decline their invitation.

A delegator the administrator locked (``locked: true``) is changed in the file only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from proxy.admin.access import Caller
from proxy.policy.directory import DelegationStatus, Directory, Privilege

# The keys of ``PATCH /delegations/{delegator}``; delegates and VIP contacts have
# routes of their own.
POLICY_KEYS = ("vip_delegation", "ring_timeout")
INVITATION_KEYS = ("privileges",)


class NotAllowed(Exception):
    """The change is refused before any validation: an HTTP status and why."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


# A check of who may make a change: returns, or raises NotAllowed.
Permission = Callable[[Directory, Caller, str], None]


def locked_refusal(delegator: str) -> NotAllowed:
    """The refusal of every user's change to a delegation the administrator locked."""
    return NotAllowed(403, f"the administrator locked {delegator}'s delegation: it is"
                      " changed in the configuration file")


def check_manager(directory: Directory, caller: Caller, delegator: str) -> None:
    """The delegator themselves or the administrator."""
    if caller.user != delegator and not caller.admin:
        raise NotAllowed(403, f"only {delegator} (or the administrator) changes {delegator}'s"
                         " delegates, policies and ring timeout")


def check_vip_manager(directory: Directory, caller: Caller, delegator: str) -> None:
    """The delegator, the administrator, or an accepted delegate of theirs with the
    ``manage_vip_contacts`` privilege."""
    if caller.user == delegator or caller.admin:
        return
    delegation = directory.delegations.get(delegator)
    delegates = delegation.delegates if delegation is not None else ()
    if not any(delegate.user == caller.user and delegate.status is DelegationStatus.ACCEPTED
               and Privilege.MANAGE_VIP_CONTACTS in delegate.privileges
               for delegate in delegates):
        raise NotAllowed(403, f"{caller.user} is not an accepted delegate of {delegator} with"
                         f" the {Privilege.MANAGE_VIP_CONTACTS} privilege")


def check_invitee(directory: Directory, caller: Caller, delegator: str) -> None:
    """A user ``delegator`` invited (whatever their answer so far)."""
    delegation = directory.delegations.get(delegator)
    delegates = delegation.delegates if delegation is not None else ()
    if caller.user is None or not any(d.user == caller.user for d in delegates):
        raise NotAllowed(404, f"{caller.user or 'the administrator'} has no invitation from"
                         f" {delegator}")


def with_delegate(settings: Mapping[str, Any], delegate: str,
                  body: Mapping[str, Any]) -> dict[str, Any]:
    """Invite ``delegate`` (pending until they accept) or change their privileges
    (their status stays)."""
    _known_keys(body, INVITATION_KEYS)
    delegates = dict(settings.get("delegates") or {})
    current = delegates.get(delegate)
    status = current.get("status") if isinstance(current, dict) else None
    delegates[delegate] = {"privileges": body.get("privileges", []),
                           "status": status or str(DelegationStatus.PENDING)}
    return {**settings, "delegates": delegates}


def without_delegate(settings: Mapping[str, Any], delegate: str) -> dict[str, Any]:
    """``delegate`` removed."""
    delegates = dict(settings.get("delegates") or {})
    if delegates.pop(delegate, None) is None:
        raise NotAllowed(404, f"{delegate} is not a delegate")
    return {**settings, "delegates": delegates}


def answered(settings: Mapping[str, Any], delegate: str,
             status: DelegationStatus) -> dict[str, Any]:
    """``delegate``'s answer to their invitation: accepted or declined."""
    delegates = dict(settings.get("delegates") or {})
    current = delegates.get(delegate)
    if not isinstance(current, dict):
        raise NotAllowed(404, f"{delegate} has no invitation from this delegator")
    delegates[delegate] = {**current, "status": str(status)}
    return {**settings, "delegates": delegates}


def with_policies(settings: Mapping[str, Any], body: Mapping[str, Any]) -> dict[str, Any]:
    """The VIP delegation (policies) and the ring timeout, as far as ``body`` gives."""
    _known_keys(body, POLICY_KEYS)
    return {**settings, **body}


def with_new_contact(settings: Mapping[str, Any], contact: Mapping[str, Any]) -> dict[str, Any]:
    """``contact`` added after the others."""
    contacts = [*(settings.get("vip_contacts") or []), dict(contact)]
    return {**settings, "vip_contacts": contacts}


def with_contact_replaced(settings: Mapping[str, Any], index: int,
                          contact: Mapping[str, Any]) -> dict[str, Any]:
    """``contact`` in place of the one at ``index``."""
    contacts = list(settings.get("vip_contacts") or [])
    _check_index(contacts, index)
    contacts[index] = dict(contact)
    return {**settings, "vip_contacts": contacts}


def without_contact(settings: Mapping[str, Any], index: int) -> dict[str, Any]:
    """The contact at ``index`` removed."""
    contacts = list(settings.get("vip_contacts") or [])
    _check_index(contacts, index)
    del contacts[index]
    return {**settings, "vip_contacts": contacts}


def _check_index(contacts: list[Any], index: int) -> None:
    if not 0 <= index < len(contacts):
        raise NotAllowed(404, f"no VIP contact {index}; there are {len(contacts)}, from 0")


def _known_keys(body: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(key for key in body if key not in allowed)
    if unknown:
        raise NotAllowed(422, f"{', '.join(unknown)}: unknown key; allowed: {', '.join(allowed)}")
