"""Calls as the record-routing proxy sees them: dialogs, hold, line state and the
record each call leaves for the shared history. Pure: fed with call events, time
passed in (ARCHITECTURE, ``proxy/dialog/``)."""

from proxy.dialog.records import CallDirection, CallRecord, Outcome
from proxy.dialog.tracker import DialogSettings, DialogTracker, Update
from proxy.dialog.views import (
    DialogState,
    DialogView,
    Direction,
    HeldBy,
    LineChange,
    LineState,
    LineView,
    Party,
)

__all__ = [
    "CallDirection",
    "CallRecord",
    "DialogSettings",
    "DialogState",
    "DialogTracker",
    "DialogView",
    "Direction",
    "HeldBy",
    "LineChange",
    "LineState",
    "LineView",
    "Outcome",
    "Party",
    "Update",
]
