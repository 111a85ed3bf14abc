"""Read the SIP messages a SIPp process logged with ``-trace_msg``.

SIPp writes each message it sends or receives as a block that starts with a
dashed line and a timestamp, then ``UDP message sent (N bytes):`` or
``TCP message received [N] bytes :``, a blank line and the message itself.
The tests assert on what a SIPp peer really saw, so this module turns that log
back into messages with just enough parsing to read start lines and headers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

Direction = Literal["sent", "received"]

_BLOCK_START = re.compile(r"^-{20,} (?P<time>\d{4}-\d\d-\d\d [\d:.]+)\s*$", re.MULTILINE)
_BLOCK_HEAD = re.compile(
    r"^(?P<transport>UDP|TCP|TLS|SCTP) message (?P<direction>sent|received)\b[^\n]*\n\n"
)

# RFC 3261 §7.3.3: compact forms a peer may use instead of the full name.
_COMPACT_NAMES = {
    "v": "via",
    "f": "from",
    "t": "to",
    "i": "call-id",
    "m": "contact",
    "l": "content-length",
    "c": "content-type",
    "k": "supported",
    "s": "subject",
    "e": "content-encoding",
}


@dataclass(frozen=True)
class TracedMessage:
    """One SIP message as SIPp logged it, seen from that SIPp process.

    ``time`` is when SIPp logged it, in seconds since the epoch: every process
    of a test runs on this host, so times from different traces compare.
    """

    direction: Direction
    transport: str
    text: str
    time: float = 0.0

    def __repr__(self) -> str:
        return f"<{self.direction} {self.transport} {self.start_line!r}>"

    @property
    def start_line(self) -> str:
        """The request line or status line."""
        return self.text.split("\n", 1)[0].rstrip("\r")

    @property
    def is_request(self) -> bool:
        """True for requests, False for responses."""
        return not self.start_line.startswith("SIP/2.0 ")

    @property
    def method(self) -> str:
        """The request method, or for a response the method in its CSeq."""
        if self.is_request:
            return self.start_line.split(" ", 1)[0]
        return self.header("CSeq").split()[-1]

    @property
    def status(self) -> int:
        """The status code of a response (0 for a request)."""
        if self.is_request:
            return 0
        return int(self.start_line.split(" ", 2)[1])

    @property
    def reason(self) -> str:
        """The reason phrase of a response."""
        parts = self.start_line.split(" ", 2)
        return parts[2] if len(parts) == 3 else ""

    def header_lines(self, name: str) -> list[str]:
        """Values of every header line called ``name`` (case-insensitive, compact forms too)."""
        wanted = _canonical(name)
        head = re.split(r"\r?\n\r?\n", self.text, maxsplit=1)[0]
        values: list[str] = []
        for line in head.splitlines()[1:]:
            field, sep, value = line.partition(":")
            if sep and _canonical(field.strip()) == wanted:
                values.append(value.strip())
        return values

    def header(self, name: str) -> str:
        """The first value of header ``name``, or "" when it is absent."""
        lines = self.header_lines(name)
        return lines[0] if lines else ""

    def has_header(self, name: str) -> bool:
        """Whether the message carries header ``name`` at all."""
        return bool(self.header_lines(name))

    def vias(self) -> list[str]:
        """Every Via value, top first, comma-joined values split apart."""
        return [value.strip() for line in self.header_lines("Via") for value in line.split(",")]


def _canonical(name: str) -> str:
    lowered = name.lower()
    return _COMPACT_NAMES.get(lowered, lowered)


def read_trace(path: Path) -> list[TracedMessage]:
    """Every message in a SIPp ``-trace_msg`` file, in the order SIPp logged them."""
    if not path.exists():
        return []
    content = path.read_text(encoding="utf-8", errors="replace")
    starts = list(_BLOCK_START.finditer(content))
    messages: list[TracedMessage] = []
    ends = [following.start() for following in starts[1:]] + [len(content)]
    for start, end in zip(starts, ends[: len(starts)], strict=True):
        block = content[start.end() : end].lstrip("\n")
        head = _BLOCK_HEAD.match(block)
        if head is None:
            continue  # SIPp notes such as "Ignoring provisional ... message"
        direction: Direction = "sent" if head["direction"] == "sent" else "received"
        text = block[head.end() :].strip("\n") + "\n"
        time = datetime.strptime(start["time"], "%Y-%m-%d %H:%M:%S.%f").timestamp()
        messages.append(TracedMessage(direction, head["transport"], text, time))
    return messages


def via_sent_by(via: str) -> str:
    """The ``host:port`` of a Via value (``SIP/2.0/UDP 127.0.0.1:5060;branch=...``)."""
    return via.split(None, 1)[1].split(";", 1)[0].strip()


def only(messages: list[TracedMessage], what: str) -> TracedMessage:
    """The single message of a list, failing with ``what`` otherwise."""
    assert len(messages) == 1, f"expected exactly one {what}, got {len(messages)}"
    return messages[0]
