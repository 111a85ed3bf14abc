"""The write-behind buffer: operations waiting to be written, one per key.

Only the last operation on a binding matters once it is written, so a newer save or
delete of the same ``(aor, contact)`` replaces the waiting one instead of queueing
behind it: a phone that re-registers every minute costs one entry, not one per
REGISTER. A call record is written once and never replaced: each is an entry of its
own. The bound is on entries waiting, whatever their kind. No I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import assert_never

from proxy.store.records import CallHistory, Registration


@dataclass(frozen=True, slots=True)
class Delete:
    """Remove the binding ``(aor, contact)``."""

    aor: str
    contact: str


Operation = Registration | Delete | CallHistory
Key = tuple[str | float, ...]


def key_of(operation: Operation) -> Key:
    """What an operation is about: a binding, or one call on one line."""
    match operation:
        case Registration() | Delete():
            return ("binding", operation.aor, operation.contact)
        case CallHistory():
            return ("call", *operation.key())
        case _:
            assert_never(operation)


class PendingWrites:
    """Operations not yet written, in the order their keys were first touched."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._waiting: dict[Key, Operation] = {}

    def __len__(self) -> int:
        return len(self._waiting)

    def add(self, operation: Operation) -> bool:
        """Queue ``operation``; False (and nothing queued) when ``limit`` entries are
        already waiting and this is not one of them."""
        key = key_of(operation)
        if key not in self._waiting and len(self._waiting) >= self.limit:
            return False
        self._waiting[key] = operation
        return True

    def take(self) -> list[Operation]:
        """Everything waiting, emptying the buffer."""
        batch = list(self._waiting.values())
        self._waiting = {}
        return batch

    def put_back(self, batch: list[Operation]) -> list[Operation]:
        """Return a batch that could not be written, under the operations queued since
        (a newer operation on the same binding wins). Returns the operations dropped
        because the buffer is full."""
        newer = self._waiting
        self._waiting = {}
        dropped: list[Operation] = []
        for operation in batch:
            if len(self._waiting) >= self.limit:
                dropped.append(operation)
            else:
                self._waiting[key_of(operation)] = operation
        for key, operation in newer.items():
            if key not in self._waiting and len(self._waiting) >= self.limit:
                dropped.append(operation)
                continue
            self._waiting[key] = operation
        return dropped
