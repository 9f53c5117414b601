"""The durable inbox's indexes on processed_events, and usage counters for rate limits.

Revision ID: 0003
Revises: 0002
Create Date: 2026-01-03
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
    op.create_index(
        "ix_processed_events_conversation",
        "processed_events",
        ["conversation_key", "created_at"],
        unique=False,
    )
    op.create_index(
        "ix_processed_events_status_lease",
        "processed_events",
        ["status", "lease_until"],
        unique=False,
    )
    op.create_table(
        "usage_counters",
        sa.Column("scope", sa.String(length=255), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "window_start"),
    )


def downgrade() -> None:
    op.drop_table("usage_counters")
    op.drop_index("ix_processed_events_status_lease", table_name="processed_events")
    op.drop_index("ix_processed_events_conversation", table_name="processed_events")
