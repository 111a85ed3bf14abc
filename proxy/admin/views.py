"""What a caller of the management API may see, and the JSON it sees. Pure.

The rules are the shared call history's (README, "Call history"): a user sees
their own lines and the lines of every delegator who has them as an accepted
delegate; the administrator sees everything.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from proxy.admin.access import Caller
from proxy.dialog.views import LineView
from proxy.policy.directory import Directory, User


def shared_delegators(directory: Directory, caller: Caller) -> tuple[str, ...] | None:
    """Whose lines ``caller`` sees: delegator ids, or None for every line (admin)."""
    if caller.user is None:
        return None
    return directory.history_shared_with(caller.user)


def may_see_line(directory: Directory, caller: Caller, number: str) -> bool:
    """Whether ``caller`` may see the state of (or explain a call to) ``number``."""
    delegators = shared_delegators(directory, caller)
    if delegators is None:
        return True
    owner = directory.line_owner(number)
    return owner is not None and owner.id in delegators


def user_json(user: User, caller: Caller) -> dict[str, Any]:
    """A user as the API shows them: where their phones are is for the admin."""
    shown: dict[str, Any] = {"id": user.id, "name": user.name, "lines": list(user.lines)}
    if caller.admin:
        shown["endpoints"] = list(user.endpoints)
        shown["registered"] = user.registered
    return shown


def line_json(view: LineView) -> dict[str, Any]:
    """A line now: its state (the busy lamp's) and its live dialogs."""
    return {"line": view.line, "owner": view.owner, "state": str(view.state),
            "dialogs": [asdict(dialog) for dialog in view.dialogs]}


def page(total: int, items: list[Any], offset: int, limit: int) -> dict[str, Any]:
    """One page of ``total`` items, with the total so a client knows how many pages."""
    return {"total": total, "offset": offset, "limit": limit, "items": items}


def watched_lines(directory: Directory, caller: Caller) -> frozenset[str]:
    """The lines whose live state ``caller`` may watch (normalised numbers)."""
    delegators = shared_delegators(directory, caller)
    users = directory.users.values() if delegators is None else (
        directory.users[user] for user in delegators if user in directory.users)
    return frozenset(directory.normalize(line) for user in users for line in user.lines)
