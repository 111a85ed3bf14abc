"""How ``vipproxy history`` shows the call history: the ``--since`` time, a table
of plain text columns, or JSON lines. Pure: rows, the time and the zone come in."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import datetime, tzinfo

from proxy.config.checks import duration_seconds
from proxy.store.records import CallHistory

SINCE_FORMS = ("an ISO date or time such as 2025-05-01 or 2025-05-01T09:30 (local time"
               " unless it has an offset such as Z or +02:00), or a time ago such as"
               " 30m, 2h or 7d")
_NOTHING = "-"
_GAP = "  "


def since_time(text: str, now: float) -> float:
    """``--since`` in Unix seconds: an ISO date or time, or a time before ``now``."""
    ago = duration_seconds(text)
    if ago is not None:
        return now - ago
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not a time; allowed: {SINCE_FORMS}") from None
    return moment.timestamp()


def json_lines(rows: Sequence[CallHistory]) -> str:
    """One JSON object per row, with the fields of the ``call.ended`` log line."""
    return "\n".join(json.dumps(asdict(row), ensure_ascii=False) for row in rows)


def history_table(rows: Sequence[CallHistory], zone: tzinfo | None = None) -> str:
    """The rows as a table, oldest first, times in ``zone`` (the local zone when
    None); every missing value is ``-``."""
    if not rows:
        return "no calls"
    cells = [[title for title, _ in _COLUMNS]]
    cells.extend([show(row, zone) or _NOTHING for _, show in _COLUMNS] for row in rows)
    widths = [max(len(line[index]) for line in cells) for index in range(len(_COLUMNS))]
    return "\n".join(
        _GAP.join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in cells)


def _started(row: CallHistory, zone: tzinfo | None) -> str:
    return datetime.fromtimestamp(row.started, zone).strftime("%Y-%m-%d %H:%M:%S")


def _outcome(row: CallHistory, zone: tzinfo | None) -> str:
    # A failure is only understood with its code (a 503 from the PBX, a 404, ...).
    return f"{row.outcome} {row.status}" if row.outcome == "failed" else row.outcome


def _talked(row: CallHistory, zone: tzinfo | None) -> str:
    if row.answered is None:
        return ""
    minutes, seconds = divmod(round(row.duration), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02}:{seconds:02}" if hours else f"{minutes}:{seconds:02}"


def _field(name: str) -> Callable[[CallHistory, tzinfo | None], str]:
    return lambda row, zone: str(getattr(row, name) or "")


# Title and value of each column: who called whom on which line, how it ended, who
# took it, and why it rang whom (the VIP contact, the policy, everybody rung).
_COLUMNS: tuple[tuple[str, Callable[[CallHistory, tzinfo | None], str]], ...] = (
    ("STARTED", _started),
    ("LINE", _field("line")),
    ("DIRECTION", _field("direction")),
    ("CALLER", _field("caller")),
    ("CALLEE", _field("callee")),
    ("OUTCOME", _outcome),
    ("ANSWERED BY", _field("answered_by")),
    ("MADE BY", _field("made_by")),
    ("TALKED", _talked),
    ("HUNG UP BY", _field("hung_up_by")),
    ("VIP", _field("vip")),
    ("POLICY", _field("policy")),
    ("RUNG", _field("rung")),
)
