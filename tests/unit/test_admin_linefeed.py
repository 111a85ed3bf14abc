"""The management API's live line feed (proxy.admin.linefeed, proxy.admin.views):
which lines a user may watch, a snapshot then one event per change, and the bound
that keeps a slow client from growing the proxy's memory. The clock is passed in."""

from __future__ import annotations

import json
from typing import Any

from proxy.admin.access import ADMIN, Caller
from proxy.admin.linefeed import LineFeeds, sse
from proxy.admin.views import watched_lines
from proxy.config.loader import validate_document
from proxy.config.user_settings import with_user_settings
from proxy.dialog.views import (
    DialogState,
    DialogView,
    Direction,
    LineChange,
    LineView,
    Party,
)

NOW = 1_800_000_000.0
DOCUMENT = {
    "listen": [{"host": "127.0.0.1"}],
    "users": {user: {"lines": [line], "endpoints": [f"sip:{user}@127.0.0.1"]}
              for user, line in (("alice", "1000"), ("bob", "1001"), ("dana", "1002"),
                                 ("erin", "1003"))},
    "delegations": {"alice": {"delegates": {
        "bob": {"privileges": ["answer_calls"], "status": "accepted"},
        "dana": {"privileges": ["answer_calls"], "status": "pending"}}}},
}
DIRECTORY = validate_document(DOCUMENT, {}).directory


class Lines:
    """The tracker's ``line`` as the feed reads it: lines set by the test."""

    def __init__(self) -> None:
        self.dialogs: dict[str, tuple[DialogView, ...]] = {}

    def view(self, line: str) -> LineView | None:
        owner = {"1000": "alice", "1001": "bob", "1002": "dana"}.get(line)
        return None if owner is None else LineView(line, owner, self.dialogs.get(line, ()))

    def ring(self, line: str, state: DialogState = DialogState.EARLY) -> None:
        self.dialogs[line] = (DialogView(
            id="d1", call_id="c1", local_tag=None, remote_tag="t", state=state,
            direction=Direction.RECIPIENT, local=Party(f"sip:{line}@example.org", user="bob"),
            remote=Party("sip:4155550123@example.org")),)


def events(frames: list[str]) -> list[tuple[str, Any]]:
    """The frames as (event, data), read as a browser's EventSource reads them."""
    parsed = []
    for frame in frames:
        assert frame.endswith("\n\n"), frame
        fields = dict(line.split(": ", 1) for line in frame.strip("\n").split("\n"))
        parsed.append((fields["event"], json.loads(fields["data"])))
    return parsed


def states(frames: list[str]) -> list[tuple[str, str, str]]:
    found = []
    for event, data in events(frames):
        for line in data["lines"] if event == "snapshot" else [data]:
            found.append((event, line["line"], line["state"]))
    return found


def test_a_user_watches_their_lines_and_those_of_delegators_who_accepted_them() -> None:
    assert watched_lines(DIRECTORY, Caller("bob")) == {"1000", "1001"}
    assert watched_lines(DIRECTORY, Caller("dana")) == {"1002"}  # still pending
    assert watched_lines(DIRECTORY, Caller("alice")) == {"1000"}
    assert watched_lines(DIRECTORY, ADMIN) == {"1000", "1001", "1002", "1003"}


def test_a_feed_starts_with_a_snapshot_then_gets_one_event_per_change_of_its_lines() -> None:
    lines = Lines()
    feeds = LineFeeds(lines.view, lambda: NOW)
    woken: list[int] = []
    feed = feeds.open(Caller("bob"), DIRECTORY, lambda: woken.append(1))
    assert woken and len(feeds) == 1
    assert states(feed.take(feeds.snapshot)) == [("snapshot", "1000", "idle"),
                                                 ("snapshot", "1001", "idle")]
    assert feed.take(feeds.snapshot) == []

    lines.ring("1000")
    feeds.changed(LineChange("1000"))
    feeds.changed(LineChange("1002"))  # not watched: nothing, nobody woken
    lines.ring("1000", DialogState.CONFIRMED)
    feeds.changed(LineChange("1000"))
    lines.dialogs.clear()
    feeds.changed(LineChange("1000"))
    frames = feed.take(feeds.snapshot)
    assert states(frames) == [("line", "1000", "ringing"), ("line", "1000", "in_use"),
                              ("line", "1000", "idle")]
    ringing = events(frames)[0][1]
    assert ringing["at"] == NOW
    assert ringing["dialogs"][0]["remote"]["identity"] == "sip:4155550123@example.org"
    assert len(woken) == 4

    feeds.close(feed)
    feeds.changed(LineChange("1000"))
    assert len(feeds) == 0 and feed.take(feeds.snapshot) == []


def test_a_client_that_falls_behind_is_sent_a_snapshot_not_every_change() -> None:
    lines = Lines()
    feeds = LineFeeds(lines.view, lambda: NOW, limit=3)
    feed = feeds.open(Caller("alice"), DIRECTORY, lambda: None)
    feed.take(feeds.snapshot)
    for _ in range(3):
        feeds.changed(LineChange("1000"))
    lines.ring("1000")
    for _ in range(100):  # far more than it may hold: no more is kept
        feeds.changed(LineChange("1000"))
    assert feeds.resyncs == 1
    assert states(feed.take(feeds.snapshot)) == [("snapshot", "1000", "ringing")]
    feeds.changed(LineChange("1000"))
    assert states(feed.take(feeds.snapshot)) == [("line", "1000", "ringing")]


def test_a_delegate_who_accepts_is_sent_a_snapshot_with_the_delegators_lines() -> None:
    lines = Lines()
    feeds = LineFeeds(lines.view, lambda: NOW)
    feed = feeds.open(Caller("dana"), DIRECTORY, lambda: None)
    assert states(feed.take(feeds.snapshot)) == [("snapshot", "1002", "idle")]
    feeds.changed(LineChange("1002"))
    feeds.rescope(DIRECTORY)  # nothing changed for her: the event stays queued
    assert states(feed.take(feeds.snapshot)) == [("line", "1002", "idle")]

    accepted = with_user_settings(DOCUMENT, {"alice": {"delegates": {
        "dana": {"privileges": ["answer_calls"], "status": "accepted"}}}})
    feeds.changed(LineChange("1002"))
    feeds.rescope(validate_document(accepted, {}).directory)
    assert states(feed.take(feeds.snapshot)) == [("snapshot", "1000", "idle"),
                                                 ("snapshot", "1002", "idle")]


def test_an_event_is_one_data_line_ended_by_a_blank_line() -> None:
    assert sse("line", {"text": "two\nlines"}) == \
        'event: line\ndata: {"text":"two\\nlines"}\n\n'
