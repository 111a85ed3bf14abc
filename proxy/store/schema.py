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

# One row per call per line (the dialog tracker's record). Written once, never
# updated: the natural key makes a batch written twice (its commit lost on the way
# back, then retried) insert nothing the second time. Reads are "a line's calls"
# and "a delegator's lines' calls" from a time on, newest last; the purge deletes
# by start time, which the started index serves (as it serves --since alone).
call_history = Table(
    "call_history",
    metadata,
    Column("call_id", Text, nullable=False),
    Column("line", Text, nullable=False),
    Column("delegator", Text, nullable=False),
    Column("direction", Text, nullable=False),
    Column("caller", Text, nullable=True),
    Column("caller_source", Text, nullable=False),
    Column("callee", Text, nullable=True),
    Column("vip", Text, nullable=True),
    Column("policy", Text, nullable=True),
    Column("stages", Text, nullable=True),
    Column("reason", Text, nullable=True),
    Column("rung", Text, nullable=True),
    Column("answered_by", Text, nullable=True),
    Column("answered_phone", Text, nullable=True),
    Column("made_by", Text, nullable=True),
    Column("outcome", Text, nullable=False),
    Column("status", Integer, nullable=False),
    Column("started", Double, nullable=False),
    Column("answered", Double, nullable=True),
    Column("ended", Double, nullable=False),
    Column("duration", Double, nullable=False),
    Column("hung_up_by", Text, nullable=True),
    Column("end_reason", Text, nullable=False),
    Column("held_by", Text, nullable=True),
    Column("held_at", Double, nullable=True),
    PrimaryKeyConstraint("call_id", "line", "started", name="call_history_pkey"),
    Index("call_history_line_started", "line", "started"),
    Index("call_history_delegator_started", "delegator", "started"),
    Index("call_history_started", "started"),
)

# A delegator's own settings (delegates and their invitations, policies, ring
# timeout, VIP contacts) once they changed them through the API: the ``delegations``
# entry of the configuration file, as JSON, validated by the same models before it
# is written. A delegator without a row follows the file.
delegations = Table(
    "delegations",
    metadata,
    Column("delegator", Text, primary_key=True),
    Column("settings", JSON, nullable=False),
    Column("updated_at", Double, nullable=False),
)
