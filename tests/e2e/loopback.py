"""Distinct 127.0.0.0/8 addresses for the processes of an end-to-end test.

Linux answers on the whole 127.0.0.0/8 block without any setup, so every SIP
peer of every test gets an address of its own: nothing clashes inside one
pytest session, and sessions started by different processes use different
second octets.  Whether a socket is bound is read from ``/proc/net`` instead of
probing with a bind of our own, which could steal the port from the process
that is just starting.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Transport = Literal["udp", "tcp"]

_TCP_LISTEN = "0A"  # socket state column of /proc/net/tcp


@dataclass(frozen=True)
class Endpoint:
    """An IPv4 loopback address and port."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"

    def sip_uri(self, user: str, transport: Transport = "udp") -> str:
        """A SIP URI for ``user`` at this endpoint, with ``;transport=tcp`` when asked."""
        suffix = ";transport=tcp" if transport == "tcp" else ""
        return f"sip:{user}@{self.host}:{self.port}{suffix}"


def bound_sockets(transport: Transport) -> set[tuple[str, int]]:
    """Local (address, port) pairs with a bound UDP socket or a listening TCP socket."""
    table = Path("/proc/net") / transport
    found: set[tuple[str, int]] = set()
    for line in table.read_text().splitlines()[1:]:
        fields = line.split()
        address_hex, port_hex = fields[1].split(":")
        if transport == "tcp" and fields[3] != _TCP_LISTEN:
            continue
        octets = bytes.fromhex(address_hex)[::-1]  # the kernel prints it little-endian
        found.add((".".join(str(octet) for octet in octets), int(port_hex, 16)))
    return found


def is_bound(endpoint: Endpoint, transport: Transport) -> bool:
    """Whether some process listens on ``endpoint`` with ``transport``."""
    sockets = bound_sockets(transport)
    return (endpoint.host, endpoint.port) in sockets or ("0.0.0.0", endpoint.port) in sockets


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.02) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` seconds pass; return the last result."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


class LoopbackAllocator:
    """Hands out endpoints on fresh loopback addresses, one address per call."""

    def __init__(self, base_port: int = 5060) -> None:
        self._second_octet = 100 + os.getpid() % 100
        self._next = 0
        self._base_port = base_port

    def endpoint(self) -> Endpoint:
        """A new address with a port that nothing uses over UDP or TCP on it (or on 0.0.0.0)."""
        index = self._next
        self._next += 1
        host = f"127.{self._second_octet}.{index // 250 % 250}.{index % 250 + 1}"
        port = self._base_port
        while _in_use(Endpoint(host, port)):
            port += 1
        return Endpoint(host, port)


def _in_use(endpoint: Endpoint) -> bool:
    return is_bound(endpoint, "udp") or is_bound(endpoint, "tcp")
