"""The shared call history: one row per call per line.

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "call_history",
        sa.Column("call_id", sa.Text, nullable=False),
        sa.Column("line", sa.Text, nullable=False),
        sa.Column("delegator", sa.Text, nullable=False),
        sa.Column("direction", sa.Text, nullable=False),
        sa.Column("caller", sa.Text, nullable=True),
        sa.Column("caller_source", sa.Text, nullable=False),
        sa.Column("callee", sa.Text, nullable=True),
        sa.Column("vip", sa.Text, nullable=True),
        sa.Column("policy", sa.Text, nullable=True),
        sa.Column("stages", sa.Text, nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("rung", sa.Text, nullable=True),
        sa.Column("answered_by", sa.Text, nullable=True),
        sa.Column("answered_phone", sa.Text, nullable=True),
        sa.Column("made_by", sa.Text, nullable=True),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("started", sa.Double, nullable=False),
        sa.Column("answered", sa.Double, nullable=True),
        sa.Column("ended", sa.Double, nullable=False),
        sa.Column("duration", sa.Double, nullable=False),
        sa.Column("hung_up_by", sa.Text, nullable=True),
        sa.Column("end_reason", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("call_id", "line", "started", name="call_history_pkey"),
    )
    op.create_index("call_history_line_started", "call_history", ["line", "started"])
    op.create_index("call_history_delegator_started", "call_history", ["delegator", "started"])
    op.create_index("call_history_started", "call_history", ["started"])


def downgrade() -> None:
    op.drop_index("call_history_started", table_name="call_history")
    op.drop_index("call_history_delegator_started", table_name="call_history")
    op.drop_index("call_history_line_started", table_name="call_history")
    op.drop_table("call_history")
