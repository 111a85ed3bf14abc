"""Call history: who last put a call on hold and when (kept when someone else
picked the held call up).

Revision ID: 0003
Revises: 0002
Create Date: 2025-01-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("call_history", sa.Column("held_by", sa.Text, nullable=True))
    op.add_column("call_history", sa.Column("held_at", sa.Double, nullable=True))


def downgrade() -> None:
    op.drop_column("call_history", "held_at")
    op.drop_column("call_history", "held_by")
