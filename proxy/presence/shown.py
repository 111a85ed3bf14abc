"""A line as its watchers are shown it, from one change of the line to the next.

Every watcher of a line is notified from the same view of it, so whatever a
NOTIFY needs of the line (its dialogs serialised, its count of calls, the
dialogs of one call for partial state) is read from the dialog tracker and
serialised once, by whichever watcher needs it first, and shared by the others
until the line changes. With a minimum interval between NOTIFYs the watchers of
a busy line are notified in step, fifty at a time, each with the same calls.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

from proxy.dialog.views import DialogView, LineView
from proxy.presence.dialog_info import dialog_xml

# A dialog ready for a document: its id (to show it once) and its text.
ShownDialog = tuple[str, str]


class LineSource(Protocol):
    """What the notifier reads of the lines (the dialog tracker)."""

    def line(self, number: str) -> LineView | None: ...

    def call_dialogs(self, number: str, call_id: str) -> tuple[DialogView, ...]: ...

    def calls_on(self, number: str) -> int: ...


class ShownLine:
    """One line until it changes; each part read and serialised on first use."""

    __slots__ = ("_by_call", "_calls", "_dialogs", "_lines", "_number", "_texts", "_xml")

    def __init__(self, lines: LineSource, number: str) -> None:
        self._lines = lines
        self._number = number
        self._dialogs: tuple[ShownDialog, ...] | None = None
        self._xml: str | None = None
        self._calls: int | None = None
        self._by_call: dict[str, tuple[ShownDialog, ...]] = {}
        self._texts: dict[object, str] = {}

    @property
    def dialogs(self) -> tuple[ShownDialog, ...]:
        """Every dialog of the line (full state)."""
        if self._dialogs is None:
            view = self._lines.line(self._number)
            self._dialogs = _shown(view.dialogs if view is not None else ())
        return self._dialogs

    @property
    def xml(self) -> str:
        """Every dialog of the line, serialised: the full state's body but its root."""
        if self._xml is None:
            self._xml = "".join(text for _, text in self.dialogs)
        return self._xml

    @property
    def calls(self) -> int:
        """Calls on the line (a busy line gets partial state)."""
        if self._calls is None:
            self._calls = self._lines.calls_on(self._number)
        return self._calls

    def call(self, call_id: str) -> tuple[ShownDialog, ...]:
        """The dialogs of one call on the line (partial state)."""
        shown = self._by_call.get(call_id)
        if shown is None:
            shown = self._by_call[call_id] = _shown(
                self._lines.call_dialogs(self._number, call_id))
        return shown

    def text(self, key: object, make: Callable[[], str]) -> str:
        """``make()``, once per ``key`` while the line stays as it is: a document's
        dialogs that every watcher notified from the same point shares."""
        text = self._texts.get(key)
        if text is None:
            text = self._texts[key] = make()
        return text


def _shown(dialogs: Iterable[DialogView]) -> tuple[ShownDialog, ...]:
    return tuple((dialog.id, dialog_xml(dialog)) for dialog in dialogs)
