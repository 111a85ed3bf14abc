"""Secrets (the route-token key) and registrations.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "secrets",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("value", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
    )
    op.create_table(
        "registrations",
        sa.Column("aor", sa.Text, nullable=False),
        sa.Column("contact", sa.Text, nullable=False),
        sa.Column("expires_at", sa.Double, nullable=False),
        sa.Column("call_id", sa.Text, nullable=False),
        sa.Column("cseq", sa.Integer, nullable=False),
        sa.Column("q", sa.Double, nullable=True),
        sa.Column("instance_id", sa.Text, nullable=True),
        sa.Column("reg_id", sa.Integer, nullable=True),
        sa.Column("path", sa.JSON, nullable=False),
        sa.Column("received_transport", sa.Text, nullable=False),
        sa.Column("received_host", sa.Text, nullable=False),
        sa.Column("received_port", sa.Integer, nullable=False),
        sa.Column("user_agent", sa.Text, nullable=True),
        sa.Column("updated_at", sa.Double, nullable=False),
        sa.PrimaryKeyConstraint("aor", "contact", name="registrations_pkey"),
    )
    op.create_index("registrations_expires_at", "registrations", ["expires_at"])


def downgrade() -> None:
    op.drop_index("registrations_expires_at", table_name="registrations")
    op.drop_table("registrations")
    op.drop_table("secrets")
