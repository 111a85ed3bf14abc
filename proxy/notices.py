"""What a change of a delegation tells whom: an invitation to the invited delegate,
an acceptance to the delegator, a removal to the removed delegate. Pure: the
delegator's settings before and after the change in, the notices out
(``proxy.notifications`` delivers them by webhook and e-mail)."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class NoticeKind(enum.StrEnum):
    INVITED = "delegation.invited"
    ACCEPTED = "delegation.accepted"
    REMOVED = "delegation.removed"


@dataclass(frozen=True, slots=True)
class Notice:
    """One event, and the user it concerns (whose e-mail address it goes to)."""

    kind: NoticeKind
    delegator: str
    delegate: str
    privileges: tuple[str, ...]
    recipient: str  # a user id

    def as_json(self, at: float) -> dict[str, Any]:
        """The webhook's body; ``at`` is the Unix time of the change."""
        return {"event": str(self.kind), "delegator": self.delegator, "delegate": self.delegate,
                "privileges": list(self.privileges), "recipient": self.recipient, "at": at}

    @property
    def subject(self) -> str:
        match self.kind:
            case NoticeKind.INVITED:
                return f"{self.delegator} invites you to act as their delegate"
            case NoticeKind.ACCEPTED:
                return f"{self.delegate} accepted your invitation"
            case NoticeKind.REMOVED:
                return f"{self.delegator} removed you as their delegate"

    @property
    def text(self) -> str:
        """The e-mail's body."""
        privileges = ", ".join(self.privileges) or "none"
        return (f"{self.subject}.\n\nDelegator: {self.delegator}\nDelegate: {self.delegate}\n"
                f"Privileges: {privileges}\n")


def notices_of(delegator: str, before: Mapping[str, Any],
               after: Mapping[str, Any]) -> list[Notice]:
    """The notices a change of ``delegator``'s settings from ``before`` to ``after`` makes."""
    old, new = _delegates(before), _delegates(after)
    found = []
    for delegate, entry in new.items():
        privileges = tuple(entry.get("privileges") or ())
        if delegate not in old:
            found.append(Notice(NoticeKind.INVITED, delegator, delegate, privileges, delegate))
        elif entry.get("status") == "accepted" and old[delegate].get("status") != "accepted":
            found.append(Notice(NoticeKind.ACCEPTED, delegator, delegate, privileges, delegator))
    found += [Notice(NoticeKind.REMOVED, delegator, delegate,
                     tuple(entry.get("privileges") or ()), delegate)
              for delegate, entry in old.items() if delegate not in new]
    return found


def _delegates(settings: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    delegates = settings.get("delegates")
    if not isinstance(delegates, Mapping):
        return {}
    return {user: entry for user, entry in delegates.items() if isinstance(entry, Mapping)}
