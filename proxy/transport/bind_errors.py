"""Why a listener could not bind, in words an operator can act on.

``bind(2)`` fails for three reasons in practice, each with its own remedy: the
address is not configured on this machine (EADDRNOTAVAIL), another process
holds the port (EADDRINUSE), or the port is privileged (EACCES). The raw
``OSError`` says none of this plainly, and with uvloop the UDP error carries no
errno at all ("could not bind to local_addr"): the real one is its cause.
Pure: the error comes in, a sentence goes out; nothing is looked up.
"""

from __future__ import annotations

import errno

# Linux: binding below this port needs root or CAP_NET_BIND_SERVICE
# (net.ipv4.ip_unprivileged_port_start defaults to 1024).
_FIRST_UNPRIVILEGED_PORT = 1024


def explain_bind_error(error: OSError, transport: str, host: str, port: int) -> str:
    """One sentence naming the listener (``udp 127.0.0.1:5060``) and saying why it
    could not bind, with what to check or change."""
    listener = f"{transport.lower()} {_host_port(host, port)}"
    prefix = f"cannot listen on {listener}"
    code, message = _innermost_errno(error)
    if code == errno.EADDRNOTAVAIL:
        return (f"{prefix}: {host} is not an address of this machine (see `ip addr`); "
                "listen on one of its addresses, or 0.0.0.0 / :: for all of them")
    if code == errno.EADDRINUSE:
        return (f"{prefix}: the port is already in use by another process "
                f"(see `ss -lunpt | grep :{port}`); stop that process or choose another port")
    if code == errno.EACCES:
        if port < _FIRST_UNPRIVILEGED_PORT:
            return (f"{prefix}: permission denied; ports below {_FIRST_UNPRIVILEGED_PORT} "
                    "need root or the CAP_NET_BIND_SERVICE capability (for example "
                    "AmbientCapabilities=CAP_NET_BIND_SERVICE in the systemd unit), "
                    f"or use a port from {_FIRST_UNPRIVILEGED_PORT} up")
        return f"{prefix}: permission denied ({message}); a security policy forbids the bind"
    return f"{prefix}: {message}"


def _innermost_errno(error: BaseException) -> tuple[int | None, str]:
    """The first errno along the chain of causes, and the OS's words for it.

    asyncio puts the errno on the error it raises; uvloop raises a plain
    ``OSError`` whose ``__cause__`` has it.
    """
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno is not None:
            return seen.errno, seen.strerror or str(seen)
        seen = seen.__cause__ or seen.__context__
    return None, str(error) or type(error).__name__


def _host_port(host: str, port: int) -> str:
    """``host:port``, with brackets around an IPv6 address (RFC 3986 §3.2.2)."""
    if ":" in host and not host.startswith("["):
        return f"[{host}]:{port}"
    return f"{host}:{port}"
