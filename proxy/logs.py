"""structlog set-up: one event name per line, fields bound by the caller."""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
           "error": logging.ERROR}


def configure_logging(level: str, log_format: str) -> Any:
    """Configure structlog for the process and return the root logger.

    A filtering bound logger makes calls below ``level`` cost one method lookup,
    which keeps per-transaction debug events off the hot path in production.
    """
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        # One write per line (print() writes the line and its newline apart): the
        # workers share the proxy's stderr, and their lines must not interleave.
        logger_factory=structlog.WriteLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    # bind() resolves the lazy proxy once, so each call skips its per-call lookup.
    return structlog.get_logger("vipproxy").bind()
