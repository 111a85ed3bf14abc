"""Schema migrations with Alembic, run at start from the scripts shipped in this
package: no alembic.ini is needed at run time."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).parent / "migrations"
# Any fixed 64-bit number: the PostgreSQL advisory lock that makes two proxies
# starting at once migrate one after the other.
_MIGRATION_LOCK = 0x7669_7070_726F_7879 & 0x7FFF_FFFF_FFFF_FFFF  # "vipproxy"


async def upgrade_to_head(engine: AsyncEngine) -> None:
    """Bring the database to the newest schema, in one transaction.

    On PostgreSQL the transaction first takes an advisory lock, so a second proxy
    waits and then finds the schema current; on SQLite ``BEGIN IMMEDIATE`` (see
    ``database.py``) does the same.
    """
    async with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                                     {"key": _MIGRATION_LOCK})
        await connection.run_sync(_upgrade)


def _upgrade(connection: Connection) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # env.py runs on this connection, inside the caller's transaction.
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
