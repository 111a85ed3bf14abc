"""A listener that cannot bind: the proxy exits with 1 and says which and why.

The proxy is started on a UDP port the test already holds, and on 192.0.2.1
(TEST-NET-1, RFC 5737), which no machine here has: a failed bind sends nothing.
The explanation goes to stderr as a plain line for whoever ran ``vipproxy run``,
and into the ``proxy.listen_failed`` log event.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from .loopback import Endpoint, LoopbackAllocator
from .proxy_process import ProxyProcess, proxy_config

pytestmark = pytest.mark.e2e


def _run_until_exit(tmp_path: Path, endpoint: Endpoint) -> ProxyProcess:
    """Start a proxy listening on ``endpoint`` and wait for it to give up (or kill it)."""
    process = ProxyProcess("unbindable", proxy_config(endpoint, {}), endpoint, tmp_path)
    process.wait_exit()
    return process


def test_a_udp_port_held_by_another_process_is_named(
    tmp_path: Path, loopback: LoopbackAllocator
) -> None:
    endpoint = loopback.endpoint()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
        holder.bind((endpoint.host, endpoint.port))
        process = _run_until_exit(tmp_path, endpoint)
    expected = (f"cannot listen on udp {endpoint}: the port is already in use by another "
                "process")
    assert process.returncode == 1, process.report()
    assert f"vipproxy: {expected}" in process.stderr(), process.report()
    assert "ss -lunpt" in process.stderr()
    [event] = process.events("proxy.listen_failed")
    assert event["error"].startswith(expected)


def test_an_address_not_on_this_machine_is_named(tmp_path: Path) -> None:
    endpoint = Endpoint("192.0.2.1", 5060)
    process = _run_until_exit(tmp_path, endpoint)
    expected = ("cannot listen on udp 192.0.2.1:5060: 192.0.2.1 is not an address of this "
                "machine")
    assert process.returncode == 1, process.report()
    assert f"vipproxy: {expected}" in process.stderr(), process.report()
    [event] = process.events("proxy.listen_failed")
    assert event["error"].startswith(expected)
