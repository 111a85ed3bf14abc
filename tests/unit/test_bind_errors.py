"""A listener that cannot bind says which one and why (proxy.transport.bind_errors)."""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import Callable

import pytest

from proxy.transport.bind_errors import explain_bind_error


def _os_error(code: int) -> OSError:
    return OSError(code, os.strerror(code))


def _uvloop_style(code: int) -> OSError:
    """uvloop's UDP bind error: no errno of its own, the real one as its cause."""
    try:
        raise _os_error(code)
    except OSError as cause:
        try:
            raise OSError("could not bind to local_addr ('192.0.2.1', 5060)") from cause
        except OSError as error:
            return error


@pytest.mark.parametrize("make", [_os_error, _uvloop_style], ids=["asyncio", "uvloop"])
def test_address_not_on_this_machine(make: Callable[[int], OSError]) -> None:
    text = explain_bind_error(make(errno.EADDRNOTAVAIL), "UDP", "192.0.2.1", 5060)
    assert text.startswith("cannot listen on udp 192.0.2.1:5060: ")
    assert "192.0.2.1 is not an address of this machine" in text
    assert "ip addr" in text


@pytest.mark.parametrize("make", [_os_error, _uvloop_style], ids=["asyncio", "uvloop"])
def test_port_in_use_by_another_process(make: Callable[[int], OSError]) -> None:
    text = explain_bind_error(make(errno.EADDRINUSE), "TCP", "127.0.0.1", 5070)
    assert text.startswith("cannot listen on tcp 127.0.0.1:5070: ")
    assert "in use by another process" in text
    assert "ss -lunpt" in text and ":5070" in text


def test_privileged_port_needs_root_or_the_capability() -> None:
    text = explain_bind_error(_os_error(errno.EACCES), "UDP", "0.0.0.0", 506)
    assert "permission denied" in text
    assert "below 1024" in text and "CAP_NET_BIND_SERVICE" in text


def test_permission_denied_on_an_unprivileged_port_is_not_blamed_on_the_port() -> None:
    text = explain_bind_error(_os_error(errno.EACCES), "UDP", "0.0.0.0", 5060)
    assert "permission denied" in text
    assert "below 1024" not in text


def test_anything_else_gives_the_os_message() -> None:
    text = explain_bind_error(_os_error(errno.EINVAL), "UDP", "127.0.0.1", 5060)
    assert text == f"cannot listen on udp 127.0.0.1:5060: {os.strerror(errno.EINVAL)}"


def test_a_host_name_that_does_not_resolve_gives_the_resolver_message() -> None:
    error = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    text = explain_bind_error(error, "TCP", "sip.example.invalid", 5060)
    assert text == "cannot listen on tcp sip.example.invalid:5060: Name or service not known"


def test_an_ipv6_listener_is_written_with_brackets() -> None:
    text = explain_bind_error(_os_error(errno.EADDRINUSE), "UDP", "::1", 5060)
    assert text.startswith("cannot listen on udp [::1]:5060: ")


def test_an_error_without_any_errno_is_quoted() -> None:
    text = explain_bind_error(OSError("could not bind"), "UDP", "127.0.0.1", 5060)
    assert text == "cannot listen on udp 127.0.0.1:5060: could not bind"
