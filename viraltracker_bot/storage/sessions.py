"""The conversation session repository: one row per conversation key, saved every turn."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from viraltracker_bot.storage.dialects import upsert_insert
from viraltracker_bot.storage.tables import SessionRow


async def load_session(session: AsyncSession, key: str) -> SessionRow | None:
    """The stored session of a conversation, or None for a new conversation.

    `populate_existing`: a row loaded earlier in this session is refreshed, not served stale
    after `save_session` (a core statement the ORM identity map does not see).
    """
    stmt = select(SessionRow).where(SessionRow.key == key)
    result = await session.execute(stmt.execution_options(populate_existing=True))
    return result.scalar_one_or_none()


async def save_session(
    session: AsyncSession,
    key: str,
    platform: str,
    result_cache: dict[str, Any],
    history: list[Any],
) -> None:
    """Create or replace the session of a conversation and count the turn.

    One upsert statement, so two processes saving the same new key never collide; the
    caller's transaction decides when it becomes visible.
    """
    now = datetime.now(UTC)
    table = SessionRow.__table__
    ins = upsert_insert(session, table).values(
        key=key,
        platform=platform,
        result_cache=result_cache,
        history=history,
        turns=1,
        created_at=now,
        updated_at=now,
    )
    stmt = ins.on_conflict_do_update(
        index_elements=["key"],
        set_={
            "platform": ins.excluded.platform,
            "result_cache": ins.excluded.result_cache,
            "history": ins.excluded.history,
            "turns": table.c.turns + 1,
            "updated_at": ins.excluded.updated_at,
        },
    )
    await session.execute(stmt)
