"""The conversation session repository: one row per conversation key, saved every turn."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from viraltracker_bot.storage.dialects import dialect_name, insert_for
from viraltracker_bot.storage.sqlite_driver import COMMITS
from viraltracker_bot.storage.tables import SessionRow

_table = SessionRow.__table__

# Both statements are built once, with bound parameters: every message loads and saves its
# session, and building the expressions anew each time cost more than running them.


@functools.cache
def _load() -> Any:
    stmt = select(SessionRow).where(SessionRow.key == bindparam("key"))
    return stmt.execution_options(populate_existing=True)


@functools.cache
def _save(dialect: str) -> Any:
    c = _table.c
    now = bindparam("now", type_=c.updated_at.type)
    ins = insert_for(dialect, _table).values(
        key=bindparam("key", type_=c.key.type),
        platform=bindparam("platform", type_=c.platform.type),
        result_cache=bindparam("result_cache", type_=c.result_cache.type),
        history=bindparam("history", type_=c.history.type),
        turns=1,
        created_at=now,
        updated_at=now,
    )
    return ins.on_conflict_do_update(
        index_elements=["key"],
        set_={
            "platform": ins.excluded.platform,
            "result_cache": ins.excluded.result_cache,
            "history": ins.excluded.history,
            "turns": c.turns + 1,
            "updated_at": ins.excluded.updated_at,
        },
    )


async def load_session(session: AsyncSession, key: str) -> SessionRow | None:
    """The stored session of a conversation, or None for a new conversation.

    `populate_existing`: a row loaded earlier in this session is refreshed, not served stale
    after `save_session` (a core statement the ORM identity map does not see).
    """
    result = await session.execute(_load(), {"key": key})
    return result.scalar_one_or_none()


async def save_session(
    session: AsyncSession,
    key: str,
    platform: str,
    result_cache: dict[str, Any],
    history: list[Any],
    *,
    last: bool = False,
) -> None:
    """Create or replace the session of a conversation and count the turn.

    One upsert statement, so two processes saving the same new key never collide; the
    caller's transaction decides when it becomes visible (`last`: this is its last statement,
    which on SQLite commits it in the same trip).
    """
    params = {
        "key": key,
        "platform": platform,
        "result_cache": result_cache,
        "history": history,
        "now": datetime.now(UTC),
    }
    options = COMMITS if last else {}
    await session.execute(_save(dialect_name(session)), params, execution_options=options)
