"""The management API's HTTP server: uvicorn serving on the proxy's own event loop.

The socket is bound here, before uvicorn sees it, so that a port in use is
reported like a SIP listener's (``explain_bind_error``) instead of uvicorn's
``sys.exit``; and uvicorn's ``serve()`` is not used because it installs its own
SIGINT/SIGTERM handlers over the proxy's drain.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket

import uvicorn
from starlette.types import ASGIApp

# Requests still being answered when the proxy stops get this long to finish.
_GRACEFUL_SECONDS = 1
_BACKLOG = 128


class ApiServer:
    """uvicorn on one bound socket; :meth:`stop` closes it and its connections."""

    def __init__(self, server: uvicorn.Server, sock: socket.socket,
                 main_loop: asyncio.Task[None]) -> None:
        self._server = server
        self._socket = sock
        self._main_loop = main_loop

    @property
    def url(self) -> str:
        host, port = self._socket.getsockname()[:2]
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    async def stop(self) -> None:
        self._server.should_exit = True
        await self._main_loop
        await self._server.shutdown(sockets=[self._socket])


async def start_api(app: ASGIApp, host: str, port: int) -> ApiServer:
    """Serve ``app`` on ``host``:``port``; raises OSError when it cannot be bound."""
    sock = _bound_socket(host, port)
    config = uvicorn.Config(app, lifespan="off", log_config=None, access_log=False,
                            http="h11", ws="none", server_header=False,
                            timeout_graceful_shutdown=_GRACEFUL_SECONDS)
    config.load()
    server = uvicorn.Server(config)
    # What ``serve()`` does before ``startup()``, without its signal handlers.
    server.lifespan = config.lifespan_class(config)
    try:
        await server.startup(sockets=[sock])
    except BaseException:
        sock.close()
        raise
    return ApiServer(server, sock, asyncio.create_task(server.main_loop()))


def _bound_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        # A restarted proxy rebinds at once, past the old connections' TIME_WAIT.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(_BACKLOG)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock
