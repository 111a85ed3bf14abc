"""What the dialog tracker shows of a line: frozen snapshots for the busy-lamp
service (RFC 4235) and for anyone asking whether a line is free.

Everything is seen from the line's side, as RFC 4235 §4.1 describes a dialog from
the point of view of the entity the watcher subscribed to: ``local`` is the line
(and the phone of whoever is on it), ``remote`` the other party.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace


class DialogState(enum.StrEnum):
    """RFC 4235 §3.7.1: the states a watcher sees (a call the proxy has routed but
    no branch has answered yet is ``trying``; a 1xx with a To tag makes it early)."""

    TRYING = "trying"
    EARLY = "early"
    CONFIRMED = "confirmed"
    TERMINATED = "terminated"


class Direction(enum.StrEnum):
    """RFC 4235 §4.1.1 ``direction``: whether the line placed the call or received it."""

    INITIATOR = "initiator"
    RECIPIENT = "recipient"


class HeldBy(enum.StrEnum):
    """Which side put the call on hold (its SDP offer stopped the media)."""

    LOCAL = "local"  # the phone on the line
    REMOTE = "remote"  # the other party


class LineState(enum.StrEnum):
    """A line at a glance, busiest first: what a lamp shows."""

    IDLE = "idle"
    RINGING = "ringing"
    IN_USE = "in_use"
    HELD = "held"


@dataclass(frozen=True, slots=True)
class Party:
    """One side of a dialog (RFC 4235 §4.1.6): who it is and where its phone is.

    ``identity`` is a URI (the line, or the caller's asserted/From identity);
    ``target`` is the phone's Contact URI, what a pick-up or Replaces aims at.
    ``user`` is the directory user on this side, when there is one.
    """

    identity: str
    display: str | None = None
    target: str | None = None
    user: str | None = None


@dataclass(frozen=True, slots=True)
class DialogView:
    """One dialog on a line (one branch of a forked call is one early dialog).

    ``id`` is stable for the dialog's life and unique among the line's dialogs;
    ``terminated_by`` is RFC 4235's ``event`` attribute of a terminated state
    (cancelled, rejected, local-bye, remote-bye, timeout, error). ``vip`` is the
    VIP contact the routing decision matched the caller with (its label), on the
    called line's dialogs: what the decision believed, under the trust rules, not
    what the remote identity looks like.
    """

    id: str
    call_id: str
    local_tag: str | None
    remote_tag: str | None
    direction: Direction
    state: DialogState
    local: Party
    remote: Party
    held_by: HeldBy | None = None
    terminated_by: str | None = None
    started: float = 0.0  # on the events' clock
    confirmed: float | None = None
    held_at: float | None = None  # since when ``held_by`` holds it
    vip: str | None = None

    def moved(self, offset: float) -> DialogView:
        """The view with its times moved by ``offset`` (loop clock -> Unix time)."""
        return replace(self, started=self.started + offset,
                       confirmed=None if self.confirmed is None else self.confirmed + offset,
                       held_at=None if self.held_at is None else self.held_at + offset)


@dataclass(frozen=True, slots=True)
class LineView:
    """A line now: its live dialogs (none when idle)."""

    line: str  # the number, normalised
    owner: str  # the user id owning it
    dialogs: tuple[DialogView, ...]

    @property
    def state(self) -> LineState:
        states = [_line_state(dialog) for dialog in self.dialogs]
        return max(states, key=_BUSIEST.index, default=LineState.IDLE)

    def on_wall_clock(self, offset: float) -> LineView:
        """The line with its dialogs' times moved by ``offset`` (loop clock -> Unix
        time), for whoever shows them to a person."""
        if not self.dialogs:
            return self
        return replace(self, dialogs=tuple(dialog.moved(offset) for dialog in self.dialogs))


@dataclass(frozen=True, slots=True)
class LineChange:
    """A line whose state changed, and the dialogs that ended in this change (shown
    once as terminated, so no lamp stays lit: RFC 4235 §4.1). How the line is now
    is ``DialogTracker.line(line)``: built only by whoever shows it, because a
    busy line changes with every message of every call on it."""

    line: str  # the number, normalised
    ended: tuple[DialogView, ...] = ()
    call_id: str = ""  # the call that changed: its dialogs are the ones to show again
    # The call's first change: it was not on the line before, so a watcher told of
    # the line earlier has never been shown its dialogs.
    began: bool = False


_BUSIEST = [LineState.IDLE, LineState.RINGING, LineState.HELD, LineState.IN_USE]


def _line_state(dialog: DialogView) -> LineState:
    if dialog.state is DialogState.CONFIRMED:
        return LineState.HELD if dialog.held_by is not None else LineState.IN_USE
    if dialog.state is DialogState.TERMINATED:
        return LineState.IDLE
    return LineState.RINGING
