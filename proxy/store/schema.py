"""The tables, as SQLAlchemy Core metadata: what the store's queries are written
against. The migrations in ``migrations/versions`` create the same tables; a change
here needs a new migration (and the test that compares them tells when one is missing).

Times are Unix seconds as double precision: one type that compares the same way in
SQLite and PostgreSQL (``to_timestamp(expires_at)`` / ``datetime(expires_at,
'unixepoch')`` show them as dates).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    Double,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
)

metadata = MetaData()

secrets = Table(
    "secrets",
    metadata,
    Column("name", Text, primary_key=True),
    Column("value", LargeBinary, nullable=False),
    Column("created_at", Double, nullable=False),
)

# One row per binding. The natural key (aor, contact) is the primary key: a
# REGISTER refreshes or removes a binding by exactly that pair (RFC 3261 §10.3
# step 7), so a surrogate id would only add a second unique index to keep in step.
registrations = Table(
    "registrations",
    metadata,
    Column("aor", Text, nullable=False),
    Column("contact", Text, nullable=False),
    Column("expires_at", Double, nullable=False),
    Column("call_id", Text, nullable=False),
    Column("cseq", Integer, nullable=False),
    Column("q", Double, nullable=True),
    Column("instance_id", Text, nullable=True),
    Column("reg_id", Integer, nullable=True),
    Column("path", JSON, nullable=False),
    Column("received_transport", Text, nullable=False),
    Column("received_host", Text, nullable=False),
    Column("received_port", Integer, nullable=False),
    Column("user_agent", Text, nullable=True),
    Column("updated_at", Double, nullable=False),
    PrimaryKeyConstraint("aor", "contact", name="registrations_pkey"),
    Index("registrations_expires_at", "expires_at"),
)
