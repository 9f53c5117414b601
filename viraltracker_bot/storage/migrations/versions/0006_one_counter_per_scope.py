"""Usage counters: one row per scope, its newest window, instead of one row per window.

With a row per window, the first count of each window also had to clear the scope's older
windows: a second write transaction on nearly every message (a person rarely writes twice in a
minute). The counts are for the current minute only, so the table is recreated rather than
converted: at most the current minute's counts are forgotten. During a rolling deploy a replica
still on the old code fails its counts against the new table, and `Limits` lets a message
through when its check fails, so the rate limit only pauses until that replica is replaced.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _counters(*primary_key: str) -> None:
    op.create_table(
        "usage_counters",
        sa.Column("scope", sa.String(length=255), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(*primary_key),
    )


def upgrade() -> None:
    op.drop_table("usage_counters")
    _counters("scope")


def downgrade() -> None:
    op.drop_table("usage_counters")
    _counters("scope", "window_start")
