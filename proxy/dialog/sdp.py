"""Whether an SDP offer puts a call on hold (RFC 3264 §8.4, RFC 6337 §5.3).

A party holds a call by offering its media ``sendonly`` (music on hold) or
``inactive``; older phones write the connection address 0.0.0.0 (RFC 2543 §B.5,
still seen). An attribute at the media level overrides the session level. A
stream with port 0 is disabled and does not count.
"""

from __future__ import annotations

from dataclasses import dataclass

_HOLDING_DIRECTIONS = frozenset({"sendonly", "inactive"})
_DIRECTIONS = _HOLDING_DIRECTIONS | {"sendrecv", "recvonly"}


@dataclass(slots=True)
class _Media:
    """One ``m=`` section: its own direction and connection, when it has them."""

    direction: str | None = None
    null_connection: bool | None = None


def is_sdp(content_type: str | None) -> bool:
    return content_type is not None and content_type.split(";")[0].strip().lower() == (
        "application/sdp")


def holds_media(body: bytes) -> bool:
    """True when every active media stream of ``body`` is held; False for a body
    with no active media stream (nothing to say about hold)."""
    session = _Media("sendrecv", False)
    streams: list[_Media | None] = []  # None: disabled (port 0)
    for raw in body.decode("utf-8", "replace").splitlines():
        kind, _, value = raw.strip().partition("=")
        current = streams[-1] if streams else session
        if kind == "m":
            fields = value.split()
            disabled = len(fields) >= 2 and fields[1].split("/")[0] == "0"
            streams.append(None if disabled else _Media())
        elif current is None:
            continue  # an attribute of a disabled stream
        elif kind == "a" and value in _DIRECTIONS:
            current.direction = value
        elif kind == "c":
            current.null_connection = _null_connection(value)
    active = [stream for stream in streams if stream is not None]
    return bool(active) and all(_held(stream, session) for stream in active)


def _held(stream: _Media, session: _Media) -> bool:
    direction = stream.direction or session.direction
    null = session.null_connection if stream.null_connection is None else stream.null_connection
    return direction in _HOLDING_DIRECTIONS or bool(null)


def _null_connection(value: str) -> bool:
    """``c=IN IP4 0.0.0.0``: the RFC 2543 way to hold."""
    fields = value.split()
    return len(fields) >= 3 and fields[2].split("/")[0] == "0.0.0.0"
