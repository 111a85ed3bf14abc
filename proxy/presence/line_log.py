"""The changes of one watched line, in order, kept until every watcher's NOTIFY
has carried them.

A change is one entry here, whatever the number of watchers; each subscription
remembers how far its last NOTIFY read (``seq``). What its next NOTIFY must carry
besides the line as it is (the calls that changed, for partial state, RFC 4235
§4.1; the dialogs that ended, shown once as terminated) is read from the entries
after that point, once per point: the watchers notified together share it.

A call that came onto the line after the point was never shown to a watcher
notified there, so the dialogs it has ended since are left out: a lamp is not
told that a dialog it never saw is over (a branch refused at once, or a whole
call shorter than the minimum interval between NOTIFYs).
"""

from __future__ import annotations

from dataclasses import dataclass

from proxy.presence.shown import ShownDialog


@dataclass(frozen=True, slots=True)
class Since:
    """What changed on the line after a point of its log."""

    calls: tuple[str, ...]  # Call-IDs of the calls that changed, each once, in order
    # Dialogs that ended, each once, serialised; not those of the ``new`` calls.
    ended: tuple[ShownDialog, ...]
    new: frozenset[str] = frozenset()  # the calls that came onto the line meanwhile


class LineLog:
    """A watched line's changes; ``seq`` counts them from 0 (no change yet)."""

    __slots__ = ("_changes", "_first", "_since", "seq")

    def __init__(self) -> None:
        self.seq = 0
        self._first = 1  # the seq of _changes[0]
        self._changes: list[tuple[str, tuple[ShownDialog, ...], bool]] = []
        self._since: dict[int, Since] = {}  # read since a point, until the next change

    def __len__(self) -> int:
        return len(self._changes)

    def note(self, call_id: str, ended: tuple[ShownDialog, ...], *, began: bool = False) -> None:
        """A change of the call ``call_id`` that ended the dialogs ``ended``;
        ``began`` when it is the call's first (it came onto the line)."""
        self._changes.append((call_id, ended, began))
        self.seq += 1
        self._since.clear()

    def since(self, seen: int) -> Since:
        """What changed after change number ``seen``."""
        since = self._since.get(seen)
        if since is None:
            start = seen + 1 - self._first
            if start < 0:
                raise ValueError(f"changes after {seen} were forgotten (kept from {self._first})")
            calls: dict[str, None] = {}
            new: set[str] = set()
            ended: dict[str, str] = {}
            for call_id, gone, began in self._changes[start:]:
                calls[call_id] = None
                if began:
                    new.add(call_id)
                if call_id not in new:
                    for dialog_id, text in gone:
                        ended.setdefault(dialog_id, text)
            since = self._since[seen] = Since(tuple(calls), tuple(ended.items()),
                                              frozenset(new))
        return since

    def forget_through(self, seen: int) -> None:
        """Drop the changes up to number ``seen``: every watcher has been sent them."""
        drop = seen + 1 - self._first
        if drop > 0:
            del self._changes[:drop]
            self._first += drop
