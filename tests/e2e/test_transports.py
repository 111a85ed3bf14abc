"""Transports end to end: IPv6, TCP stream framing, keep-alives, connection reuse and
the size limit, against the real vipproxy process over real sockets (RFC 3261 §18)."""

from __future__ import annotations

import ipaddress
import os
import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from proxy.transport.udp import RECEIVE_BUFFER_BYTES

from .conftest import StartProxy
from .loopback import Endpoint, LoopbackAllocator, wait_until
from .proxy_process import ProxyProcess, proxy_config

pytestmark = pytest.mark.e2e

_DEADLINE = 5.0
_STUN_COOKIE = 0x2112A442  # RFC 5389 §6


def _options(target: str, via: str, branch: str) -> bytes:
    return (
        f"OPTIONS sip:{target} SIP/2.0\r\n"
        f"Via: SIP/2.0/{via};branch={branch}\r\n"
        "Max-Forwards: 70\r\n"
        f"From: <sip:probe@example.invalid>;tag=t-{branch}\r\n"
        f"To: <sip:{target}>\r\n"
        f"Call-ID: {branch}@probe\r\n"
        "CSeq: 1 OPTIONS\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


def _invite(target: str, via: str, branch: str, padding: int = 0) -> bytes:
    pad = f"X-Padding: {'p' * padding}\r\n" if padding else ""
    return (
        f"INVITE sip:2000@{target} SIP/2.0\r\n"
        f"Via: SIP/2.0/{via};branch={branch};rport\r\n"
        "Max-Forwards: 70\r\n"
        f"From: <sip:caller@example.invalid>;tag=t-{branch}\r\n"
        f"To: <sip:2000@{target}>\r\n"
        f"Call-ID: {branch}@caller\r\n"
        "CSeq: 1 INVITE\r\n"
        f"{pad}"
        "Content-Length: 0\r\n\r\n"
    ).encode()


def _status(data: bytes) -> int:
    return int(data.split(b" ", 2)[1])


def _answer(request: bytes, status: str) -> bytes:
    """A callee's response: the request's Via, From, To (tagged), Call-ID, CSeq."""
    head = request.split(b"\r\n\r\n", 1)[0].decode().split("\r\n")[1:]
    kept = []
    for line in head:
        name = line.split(":", 1)[0].lower()
        if name in ("via", "from", "call-id", "cseq"):
            kept.append(line)
        elif name == "to":
            kept.append(line + ";tag=callee")
    return ("\r\n".join([f"SIP/2.0 {status}", *kept, "Content-Length: 0"]) + "\r\n\r\n").encode()


def _start(
    workdir: Path, name: str, config: dict[str, Any], probe: tuple[int, str]
) -> ProxyProcess:
    """Start the proxy and wait until it answers an OPTIONS sent from ``probe``."""
    family, host = probe
    listen = config["listen"][0]
    target = _hostport(listen["host"], listen["port"])
    with _probe_socket(family, host, avoid=listen["port"]) as sock:
        process = ProxyProcess(name, config, Endpoint(listen["host"], listen["port"]), workdir)
        sock.settimeout(0.2)
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline:
            assert process.running(), process.stderr()
            sent_by = _hostport(host, sock.getsockname()[1])
            sock.sendto(_options(target, f"UDP {sent_by}", "z9hG4bKready"), (listen["host"],
                                                                           listen["port"]))
            try:
                if _status(sock.recv(65535)) == 200:
                    return process
            except TimeoutError:
                continue
    process.stop()
    raise AssertionError(f"vipproxy did not answer OPTIONS:\n{process.stderr()}")


def _probe_socket(family: int, host: str, avoid: int) -> socket.socket:
    """A UDP socket on an ephemeral port other than ``avoid``: the proxy's port was
    picked free and let go, so the kernel may hand it out again, and a probe bound
    there would talk to itself while the proxy could not bind."""
    while True:
        sock = socket.socket(family, socket.SOCK_DGRAM)
        sock.bind((host, 0))
        if sock.getsockname()[1] != avoid:
            return sock
        sock.close()


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _free_port(family: int, host: str) -> int:
    with socket.socket(family, socket.SOCK_DGRAM) as udp, socket.socket(family) as tcp:
        udp.bind((host, 0))
        port = int(udp.getsockname()[1])
        tcp.bind((host, port))
        return port


@pytest.fixture
def ipv6_proxy(tmp_path: Path) -> Iterator[tuple[ProxyProcess, int, int]]:
    if not socket.has_ipv6:
        pytest.fail("this machine has no IPv6 loopback; the IPv6 transport test needs ::1")
    port = _free_port(socket.AF_INET6, "::1")
    callee_port = _free_port(socket.AF_INET6, "::1")
    config = proxy_config(Endpoint("::1", port), {
        "2000": {"stages": [{"targets": [f"sip:callee@[::1]:{callee_port}"], "timeout": "5s"}]},
    })
    process = _start(tmp_path, "proxy6", config, (socket.AF_INET6, "::1"))
    yield process, port, callee_port
    assert process.stop() == 0


def test_ipv6_udp_call_is_forked_and_answered(ipv6_proxy: tuple[ProxyProcess, int, int]) -> None:
    _, port, callee_port = ipv6_proxy
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as caller, \
            socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as callee:
        callee.bind(("::1", callee_port))
        caller.bind(("::1", 0))
        for sock in (caller, callee):
            sock.settimeout(_DEADLINE)
        sent_by = _hostport("::1", caller.getsockname()[1])
        caller.sendto(_invite(f"[::1]:{port}", f"UDP {sent_by}", "z9hG4bKv6call"), ("::1", port))
        assert _status(caller.recv(65535)) == 100
        forwarded = callee.recv(65535)
        assert forwarded.startswith(b"INVITE sip:callee@[::1]:")
        assert f"Via: SIP/2.0/UDP [::1]:{port};branch=z9hG4bK".encode() in forwarded
        callee.sendto(_answer(forwarded, "486 Busy Here"), ("::1", port))
        assert _status(caller.recv(65535)) == 486


def test_ipv6_tcp_options_are_answered(ipv6_proxy: tuple[ProxyProcess, int, int]) -> None:
    _, port, _ = ipv6_proxy
    with socket.create_connection(("::1", port), timeout=_DEADLINE) as stream:
        sent_by = _hostport("::1", stream.getsockname()[1])
        stream.sendall(_options(f"[::1]:{port}", f"TCP {sent_by}", "z9hG4bKv6tcp"))
        assert _status(stream.recv(65535)) == 200


@pytest.fixture
def tcp_proxy(tmp_path: Path, loopback: LoopbackAllocator) -> Iterator[tuple[Endpoint, Endpoint]]:
    endpoint, callee = loopback.endpoint(), loopback.endpoint()
    config = proxy_config(endpoint, {
        "2000": {"stages": [{"targets": [f"sip:callee@{callee};transport=tcp"],
                             "timeout": "5s"}]},
    })
    config["limits"] = {"max_message_size": 1500}
    process = _start(tmp_path, "proxytcp", config, (socket.AF_INET, "127.0.0.1"))
    yield endpoint, callee
    assert process.stop() == 0


def _read_messages(stream: socket.socket, count: int) -> list[bytes]:
    """``count`` messages from a stream (all ours have Content-Length: 0)."""
    data = b""
    while data.count(b"\r\n\r\n") < count:
        chunk = stream.recv(65535)
        assert chunk, "the proxy closed the connection"
        data += chunk
    return [part + b"\r\n\r\n" for part in data.split(b"\r\n\r\n")[:count]]


def test_tcp_framing_several_messages_per_read_and_one_split_across_reads(
    tcp_proxy: tuple[Endpoint, Endpoint],
) -> None:
    proxy, _ = tcp_proxy
    with socket.create_connection((proxy.host, proxy.port), timeout=_DEADLINE) as stream:
        sent_by = f"TCP {stream.getsockname()[0]}:{stream.getsockname()[1]}"
        two = _options(str(proxy), sent_by, "z9hG4bKone") + _options(str(proxy), sent_by,
                                                                     "z9hG4bKtwo")
        stream.sendall(two)
        answers = _read_messages(stream, 2)
        assert [_status(a) for a in answers] == [200, 200]
        assert b"branch=z9hG4bKone" in answers[0] and b"branch=z9hG4bKtwo" in answers[1]
        split = _options(str(proxy), sent_by, "z9hG4bKsplit")
        stream.sendall(split[:37])
        time.sleep(0.2)  # a separate read on the proxy's side
        stream.sendall(split[37:])
        assert _status(_read_messages(stream, 1)[0]) == 200


def test_tcp_double_crlf_ping_gets_a_crlf_pong(tcp_proxy: tuple[Endpoint, Endpoint]) -> None:
    """RFC 5626 §3.5.1, §5.4: each CRLF CRLF gets one CRLF back, on a connection that
    goes on carrying SIP (a ping is never a framing error)."""
    proxy, _ = tcp_proxy
    with socket.create_connection((proxy.host, proxy.port), timeout=_DEADLINE) as stream:
        sent_by = f"TCP {stream.getsockname()[0]}:{stream.getsockname()[1]}"
        stream.sendall(b"\r\n\r\n")
        assert stream.recv(16) == b"\r\n"
        stream.sendall(_options(str(proxy), sent_by, "z9hG4bKafterping"))
        assert _status(_read_messages(stream, 1)[0]) == 200
        stream.sendall(b"\r\n\r\n")
        assert stream.recv(16) == b"\r\n"


def _binding_request(transaction: bytes) -> bytes:
    """The 20-byte STUN Binding request of RFC 5626 §8 (RFC 5389 §6), written here
    by hand so the proxy's STUN code is checked against RFC 5389, not itself."""
    return struct.pack("!HHI12s", 0x0001, 0, _STUN_COOKIE, transaction)


def _xor_mapped_address(response: bytes, transaction: bytes) -> tuple[str, int]:
    """The address in a Binding success response (RFC 5389 §15.2), decoded by hand."""
    kind, length, cookie, echoed = struct.unpack_from("!HHI12s", response)
    assert (kind, cookie, echoed, len(response)) == (0x0101, _STUN_COOKIE, transaction,
                                                    20 + length), response.hex()
    offset = 20
    while offset < len(response):
        attribute, size = struct.unpack_from("!HH", response, offset)
        value = response[offset + 4:offset + 4 + size]
        if attribute == 0x0020:
            port = struct.unpack_from("!H", value, 2)[0] ^ (_STUN_COOKIE >> 16)
            mask = struct.pack("!I", _STUN_COOKIE) + transaction
            address = bytes(byte ^ key for byte, key in zip(value[4:], mask, strict=False))
            return str(ipaddress.ip_address(address)), port
        offset += 4 + (size + 3) // 4 * 4
    raise AssertionError(f"no XOR-MAPPED-ADDRESS in {response.hex()}")


def _stun_keep_alive(family: int, host: str, proxy: tuple[str, int]) -> None:
    """A Binding request to the SIP port is answered with the address it came from."""
    with socket.socket(family, socket.SOCK_DGRAM) as phone:
        phone.bind((host, 0))
        phone.settimeout(_DEADLINE)
        transaction = os.urandom(12)
        phone.sendto(_binding_request(transaction), proxy)
        assert _xor_mapped_address(phone.recv(2048), transaction) == phone.getsockname()[:2]


def test_udp_stun_binding_request_gets_its_xor_mapped_address(
    tcp_proxy: tuple[Endpoint, Endpoint],
) -> None:
    proxy, _ = tcp_proxy
    _stun_keep_alive(socket.AF_INET, "127.0.0.1", (proxy.host, proxy.port))


def test_udp_stun_binding_request_over_ipv6_gets_its_xor_mapped_address(
    ipv6_proxy: tuple[ProxyProcess, int, int],
) -> None:
    _, port, _ = ipv6_proxy
    _stun_keep_alive(socket.AF_INET6, "::1", ("::1", port))


def test_tcp_connection_to_a_callee_is_reused_for_the_next_call(
    tcp_proxy: tuple[Endpoint, Endpoint],
) -> None:
    proxy, callee = tcp_proxy
    with socket.socket() as listener, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as caller:
        listener.bind((callee.host, callee.port))
        listener.listen()
        listener.settimeout(_DEADLINE)
        caller.bind(("127.0.0.1", 0))
        caller.settimeout(_DEADLINE)
        sent_by = f"UDP 127.0.0.1:{caller.getsockname()[1]}"
        caller.sendto(_invite(str(proxy), sent_by, "z9hG4bKfirst"), (proxy.host, proxy.port))
        connection, _ = listener.accept()
        with connection:
            connection.settimeout(_DEADLINE)
            first = _read_messages(connection, 1)[0]
            connection.sendall(_answer(first, "486 Busy Here"))  # on the same connection
            assert _status(_recv_final(caller)) == 486
            assert _read_messages(connection, 1)[0].startswith(b"ACK ")  # hop-by-hop ACK
            caller.sendto(_invite(str(proxy), sent_by, "z9hG4bKsecond"), (proxy.host, proxy.port))
            second = _read_messages(connection, 1)[0]
            assert second.startswith(b"INVITE ") and b"z9hG4bKsecond" in second
            listener.settimeout(0.3)
            with pytest.raises(TimeoutError):
                listener.accept()  # no second connection was opened


def _recv_final(sock: socket.socket) -> bytes:
    while True:
        data = sock.recv(65535)
        if _status(data) >= 200:
            return data


def test_udp_request_over_the_size_limit_gets_513(tcp_proxy: tuple[Endpoint, Endpoint]) -> None:
    proxy, _ = tcp_proxy
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as caller:
        caller.bind(("127.0.0.1", 0))
        caller.settimeout(_DEADLINE)
        sent_by = f"UDP 127.0.0.1:{caller.getsockname()[1]}"
        caller.sendto(_invite(str(proxy), sent_by, "z9hG4bKbig", padding=2000),
                      (proxy.host, proxy.port))
        answer = caller.recv(65535)
        assert _status(answer) == 513
        assert b"limit 1500" in answer.split(b"\r\n", 1)[0]


def test_udp_listener_asks_for_a_large_receive_buffer(
    vipproxy: StartProxy, loopback: LoopbackAllocator
) -> None:
    """The proxy asks for RECEIVE_BUFFER_BYTES and logs what this kernel granted: the
    same a socket of ours gets for the same request, with a warning when capped."""
    proxy = vipproxy({"2000": {"stages": [{"targets": [loopback.endpoint().sip_uri("a")]}]}})
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as ours:
        ours.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)
        kernel_grants = ours.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    capped = kernel_grants < RECEIVE_BUFFER_BYTES
    name = "udp.receive_buffer_capped" if capped else "udp.receive_buffer"

    assert wait_until(lambda: bool(proxy.events(name)), _DEADLINE), proxy.stderr()
    event = proxy.events(name)[0]
    assert event["listener"] == str(proxy.endpoint), event
    assert (event["requested"], event["granted"]) == (RECEIVE_BUFFER_BYTES, kernel_grants), event
    assert ("net.core.rmem_max" in event.get("hint", "")) == capped, event
