"""The assistant console's files (``console/``, shipped in the package) as the API
serves them at ``/console/``, with headers that keep the page to itself.

The page acts for a signed-in user (accepting an invitation is one click), so it
may not be framed by another site (clickjacking: CSP ``frame-ancestors``), and it
loads and talks to nothing but the proxy (CSP ``default-src 'self'``: an injected
script or a caller's display name could not reach elsewhere).
"""

from __future__ import annotations

import os
from pathlib import Path

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

CONSOLE_FILES = Path(__file__).with_name("console")
CONSOLE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; base-uri 'none';"
                               " form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class ConsoleFiles(StaticFiles):
    """The console's static files, each answer with :data:`CONSOLE_HEADERS`."""

    def __init__(self) -> None:
        super().__init__(directory=CONSOLE_FILES, html=True)

    def file_response(self, full_path: str | os.PathLike[str], stat_result: os.stat_result,
                      scope: Scope, status_code: int = 200) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers.update(CONSOLE_HEADERS)
        return response
