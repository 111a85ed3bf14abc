"""Who owns what in a delegation: the file (the administrator) or the store (the users).

The users own their delegates (privileges, invitation status), the two policies,
the ring timeout and the VIP contacts (``USER_OWNED``); everything else of a
``delegations`` entry (voicemail, display prefixes, ``locked``) and every other
section stay the administrator's, in the file. The file seeds the store: the
first time a proxy sees a delegator (its first start, or a delegator the
administrator added since) their entry's settings are written to the store
(``seeds``), and from then on the store's settings are laid over the file's
entry, unless the administrator set ``locked: true``. An edit of those settings
in the file is then ignored, and said so (``ignored_in_file``).

Pure: raw documents in (the parsed YAML, the stored JSON), a raw document out, to
be validated by the same models as the file, so every door reports a problem by
the same path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

USER_OWNED = ("delegates", "vip_delegation", "ring_timeout", "vip_contacts")


def with_user_settings(document: object,
                       stored: Mapping[str, Mapping[str, Any]]) -> object:
    """``document`` with each unlocked delegator's stored settings over their entry.

    A stored delegator or delegate who is no longer a user of the file is left out:
    the administrator removed them, and the delegation follows.
    """
    if not isinstance(document, dict) or not stored:
        return document
    users = document.get("users")
    delegations = document.get("delegations") or {}
    if not isinstance(users, dict) or not isinstance(delegations, dict):
        return document  # the file's own problem, reported as it is
    merged = dict(delegations)
    for delegator, settings in stored.items():
        entry = merged.get(delegator) or {}
        if delegator not in users or not isinstance(entry, dict) or is_locked(document,
                                                                              delegator):
            continue
        own = {key: settings[key] for key in USER_OWNED if key in settings}
        delegates = own.get("delegates")
        if isinstance(delegates, dict):
            own["delegates"] = {user: item for user, item in delegates.items() if user in users}
        merged[delegator] = {**{k: v for k, v in entry.items() if k not in USER_OWNED}, **own}
    return {**document, "delegations": merged}


def user_settings(document: object, stored: Mapping[str, Mapping[str, Any]],
                  delegator: str) -> dict[str, Any]:
    """``delegator``'s own settings as they stand: the store's, else (or when the
    delegation is locked) the file's entry."""
    if delegator in stored and not is_locked(document, delegator):
        return {key: stored[delegator][key] for key in USER_OWNED if key in stored[delegator]}
    entry = _entry(document, delegator)
    return {key: entry[key] for key in USER_OWNED if key in entry}


def seeds(document: object, stored: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """The settings to write to the store for each unlocked delegator of the file
    it does not hold yet: their entry's user-owned settings, as the file says."""
    users = document.get("users") if isinstance(document, dict) else None
    if not isinstance(users, dict):
        return {}
    return {delegator: user_settings(document, {}, delegator)
            for delegator in _delegators(document)
            if delegator in users and delegator not in stored
            and not is_locked(document, delegator)}


def ignored_in_file(before: object, after: object,
                    stored: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Unlocked delegators the store holds whose user-owned settings the file
    changed between ``before`` and ``after``: the store wins, so say so."""
    return [delegator for delegator in _delegators(after)
            if delegator in stored and not is_locked(after, delegator)
            and user_settings(before, {}, delegator) != user_settings(after, {}, delegator)]


def _delegators(document: object) -> list[str]:
    delegations = document.get("delegations") if isinstance(document, dict) else None
    return sorted(delegations) if isinstance(delegations, dict) else []


def is_locked(document: object, delegator: str) -> bool:
    """Whether the file says ``locked: true`` for ``delegator``."""
    return _entry(document, delegator).get("locked") is True


def _entry(document: object, delegator: str) -> dict[str, Any]:
    delegations = document.get("delegations") if isinstance(document, dict) else None
    entry = delegations.get(delegator) if isinstance(delegations, dict) else None
    return entry if isinstance(entry, dict) else {}
