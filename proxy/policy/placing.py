"""The line a call from a user's phone is placed on, and whether it may be.

A phone that proved who it is (digest, RFC 3261 §22) selects the line by the From
user or by a P-Preferred-Identity (RFC 3325 §9.2): its user's own lines always
work; a delegator's line only for a delegate whose delegation is accepted and
holds ``place_calls``. Anyone else gets 403 with the reason. A phone known only
by its address (a static endpoint) proves nothing: its call shows on its user's
line named by the From, else the user's first line, and nothing is asserted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from proxy.policy.directory import Delegate, DelegationStatus, Directory, Privilege, User

SelectedBy = Literal["from", "p-preferred-identity", "first line"]


@dataclass(frozen=True, slots=True)
class Placement:
    """The call is placed on ``line`` (normalised), owned by ``owner``, by a phone of
    ``made_by`` (the owner, or a delegate acting for them). ``verified``: the phone
    authenticated, so the proxy asserts the line towards the callee (RFC 3325)."""

    line: str
    owner: str
    owner_name: str
    made_by: str
    selected_by: SelectedBy
    verified: bool


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why the call may not be placed as asked (a 403): ``counter`` names the
    refusal in the statistics (``refused_<counter>``), ``reason`` in words."""

    counter: str
    reason: str


def own_line(directory: Directory, user_id: str, claimed: str | None) -> Placement | None:
    """An unverified phone's line: the From when it is one of the user's lines, else
    the user's first line; None for a user without lines."""
    owner = directory.line_owner(claimed) if claimed is not None else None
    if claimed is not None and owner is not None and owner.id == user_id:
        return _placement(directory, owner, claimed, user_id, "from", verified=False)
    user = directory.users.get(user_id)
    if user is None or not user.lines:
        return None
    return _placement(directory, user, user.lines[0], user_id, "first line", verified=False)


def select_line(directory: Directory, user_id: str, claimed: str | None,
                selected_by: SelectedBy) -> Placement | Refusal | None:
    """An authenticated phone's choice of line (``claimed``: the From or the
    P-Preferred-Identity user): the placement, a refusal, or None when it names
    its user by id and the user has no line."""
    header = "P-Preferred-Identity" if selected_by == "p-preferred-identity" else "From"
    if claimed is not None and claimed == user_id:
        return own_line(directory, user_id, None)  # the user by id: their first line
    owner = directory.line_owner(claimed) if claimed is not None else None
    if claimed is None or owner is None:
        return Refusal("foreign_from", f"the {header} is not a line of {user_id}")
    refusal = refusal_to_act(directory, user_id, owner.id, Privilege.PLACE_CALLS, "foreign_line")
    if refusal is not None:
        return refusal
    return _placement(directory, owner, claimed, user_id, selected_by, verified=True)


def refusal_to_act(directory: Directory, user_id: str, owner: str, privilege: Privilege,
                   counter: str) -> Refusal | None:
    """Why ``user_id`` may not use ``privilege`` on ``owner``'s line (counted as
    ``counter``), or None when they may: the owner always may; a delegate only
    with the delegation accepted and the privilege granted."""
    if user_id == owner:
        return None
    delegate = directory.delegate(owner, user_id)
    if delegate is None:
        return Refusal(counter, f"{user_id} is not a delegate of {owner}")
    if delegate.lacks(privilege) is not None:
        return Refusal(counter, _why_not(delegate, owner, privilege))
    return None


def _why_not(delegate: Delegate, delegator: str, privilege: Privilege) -> str:
    """The status or the privilege a delegate misses."""
    if delegate.status is not DelegationStatus.ACCEPTED:
        return (f"{delegate.user}'s delegation from {delegator} is {delegate.status.value},"
                " not accepted")
    return f"{delegate.user} lacks the {privilege.value} privilege from {delegator}"


def _placement(directory: Directory, owner: User, line: str, made_by: str,
               selected_by: SelectedBy, *, verified: bool) -> Placement:
    return Placement(directory.normalize(line), owner.id, owner.name, made_by, selected_by,
                     verified)
