"""Alembic environment for the store's migrations.

At run time ``proxy.store.migrate`` hands over an open connection (inside its own
transaction) in ``config.attributes["connection"]``. For a developer making a new
revision, ``alembic -c proxy/store/migrations/alembic.ini revision -m "..."`` works
without a database; ``--autogenerate`` needs ``-x url=sqlite:///some.db`` (a
synchronous URL).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from proxy.store.schema import metadata


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata,
                      render_as_batch=True)  # SQLite cannot ALTER most things
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url")
    if context.is_offline_mode() or url is None:
        context.configure(url=url or "sqlite://", target_metadata=metadata,
                          literal_binds=True, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    with create_engine(url).connect() as opened:
        _run(opened)
        opened.commit()


_main()
