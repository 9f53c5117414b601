"""Schedules remember their workspace (Slack team, Discord guild) so chat lists only its own.

Revision ID: 0002
Revises: 0001
Create Date: 2026-01-02
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
    with op.batch_alter_table("schedules") as batch:
        batch.add_column(sa.Column("workspace", sa.String(length=128), nullable=True))
    op.create_index("ix_schedules_workspace", "schedules", ["workspace"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_schedules_workspace", table_name="schedules")
    with op.batch_alter_table("schedules") as batch:
        batch.drop_column("workspace")
