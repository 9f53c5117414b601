"""Scraped items stored with NUL lose it: PostgreSQL's json operators refuse its escape.

One stored tweet whose raw item held `\\u0000` made every "text only" Twitter search fail, for
everyone (`stats._no_media` reads `raw -> 'media'`). New rows are written without NUL
(`json_text`); this cleans the rows written before. SQLite's JSON functions read the escape, so
its rows are left as they are.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from viraltracker_bot.storage import json_text

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SCRAPED = ("posts", "ads")
_NUL_ESCAPE = "\\u0000"


def upgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name != "postgresql":
        return
    for table in _SCRAPED:
        rows = connection.execute(
            sa.text(f"SELECT id, raw::text FROM {table} WHERE strpos(raw::text, :nul) > 0"),
            {"nul": _NUL_ESCAPE},
        ).all()
        cleaned = [
            {"id": row_id, "raw": json_text.to_text(json_text.from_text(raw))}
            for row_id, raw in rows
        ]
        if cleaned:
            connection.execute(
                sa.text(f"UPDATE {table} SET raw = CAST(:raw AS json) WHERE id = :id"), cleaned
            )


def downgrade() -> None:
    """Nothing to undo: the NUL characters are not kept anywhere."""
