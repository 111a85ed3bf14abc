"""The throw-away PostgreSQL server of a test run, for the unit and end-to-end suites.

``tools/test`` starts one and exports its URL as ``VIPPROXY_TEST_POSTGRES_URL``.
Without it, tests that need PostgreSQL are skipped on a developer's machine and
fail under CI (``CI`` set), where a missing server must not pass unnoticed.
"""

from __future__ import annotations

import os

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from proxy.store.database import parse_url

POSTGRES_URL_VARIABLE = "VIPPROXY_TEST_POSTGRES_URL"


def postgres_url(needed_by: str) -> str:
    """The server's URL; skips the test without one, or fails it under CI."""
    url = os.environ.get(POSTGRES_URL_VARIABLE)
    if url:
        return url
    if os.environ.get("CI"):
        pytest.fail(f"{POSTGRES_URL_VARIABLE} is not set: under CI {needed_by} must run "
                    "against PostgreSQL (tools/test starts a server and sets it)")
    pytest.skip(f"{POSTGRES_URL_VARIABLE} not set (tools/test sets it)")


async def wipe_postgres(url: str) -> None:
    """Drop every table, so the next store opened on ``url`` starts empty."""
    engine = create_async_engine(parse_url(url))
    try:
        async with engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()
