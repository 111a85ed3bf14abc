"""A client of the management API's line stream (``GET /events/lines``): reads the
server-sent events on a thread, as a browser would, and keeps what it saw."""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx

from .loopback import Endpoint, wait_until


@dataclass(frozen=True, slots=True)
class LineEvent:
    seen: float  # time.monotonic() when it arrived
    kind: str  # snapshot or line
    line: dict[str, Any]  # one line as the API shows it


class LineStream:
    """The stream of one user, read until :meth:`close`."""

    def __init__(self, api: Endpoint, auth: tuple[str, str]) -> None:
        self.events: list[LineEvent] = []
        self.status: int | None = None
        self._socket: socket.socket | None = None
        self._lock = threading.Lock()
        self._client = httpx.Client(base_url=f"http://{api}", auth=auth,
                                    timeout=httpx.Timeout(5.0, read=30.0))
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        assert wait_until(lambda: bool(self.events) or self.status not in (None, 200), 5.0), \
            f"no snapshot from the line stream (status {self.status})"

    def _read(self) -> None:
        try:
            with self._client.stream("GET", "/events/lines") as answer:
                self._socket = answer.extensions["network_stream"].get_extra_info("socket")
                self.status = answer.status_code
                kind = ""
                for text in answer.iter_lines():
                    if text.startswith("event: "):
                        kind = text.removeprefix("event: ")
                    elif text.startswith("data: "):
                        self._add(kind, json.loads(text.removeprefix("data: ")))
        except (httpx.HTTPError, RuntimeError):
            pass  # closed by the test or by the proxy stopping

    def _add(self, kind: str, data: dict[str, Any]) -> None:
        now = time.monotonic()
        lines = data["lines"] if kind == "snapshot" else [data]
        with self._lock:
            self.events += [LineEvent(now, kind, line) for line in lines]

    def of(self, number: str) -> list[LineEvent]:
        with self._lock:
            return [event for event in self.events if event.line["line"] == number]

    def states(self, number: str) -> list[str]:
        """The states ``number`` went through, a repeated state once."""
        states: list[str] = []
        for event in self.of(number):
            if not states or states[-1] != event.line["state"]:
                states.append(event.line["state"])
        return states

    def close(self) -> None:
        """Hang up as a browser closing the page would: the reading thread sees the
        connection end (closing the client from here would wait for that thread)."""
        if self._socket is not None:
            self._socket.shutdown(socket.SHUT_RDWR)
        self._thread.join(5.0)
        assert not self._thread.is_alive(), "the line stream did not end"
        self._client.close()
