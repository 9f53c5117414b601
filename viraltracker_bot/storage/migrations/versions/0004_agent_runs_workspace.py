"""A workspace's agent runs of the day, found by index: the daily budget is checked per message.

Revision ID: 0004
Revises: 0003
Create Date: 2026-01-04
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_agent_runs_workspace_started", "agent_runs", ["workspace", "started_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_agent_runs_workspace_started", table_name="agent_runs")
