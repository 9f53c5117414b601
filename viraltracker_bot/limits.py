"""Limits that span messages and replicas: a person's message rate, a workspace's daily budget.

Both are counted in the database, so every replica enforces the same numbers. A person may send
`user_messages_per_minute` messages per calendar minute; a workspace (Slack team, Discord guild)
may spend `daily_actor_runs_per_workspace` actor runs and `daily_model_tokens_per_workspace`
model tokens per UTC day, read from `agent_runs`. A message is refused before any work once a
budget is spent, so a day can overshoot by at most one message's own limits. Zero turns a limit
off; terminal sessions (the operator's own) are never limited.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, case, func, select

from viraltracker_bot.config import Settings
from viraltracker_bot.conversation import IncomingMessage, Reply
from viraltracker_bot.storage.database import Database
from viraltracker_bot.storage.dialects import insert_for
from viraltracker_bot.storage.sqlite_driver import COMMITS
from viraltracker_bot.storage.tables import AgentRunRow, UsageCounterRow

log = logging.getLogger(__name__)


def _utcnow() -> datetime:
    return datetime.now(UTC)


@functools.cache
def _count_stmt(dialect: str) -> Any:
    """The scope's row counts one more in its window, or restarts at 1 in a newer one.

    A replica whose clock is a little behind counts into the newer window it finds, rather than
    turning the row back to its own.
    """
    table = UsageCounterRow.__table__
    window = bindparam("window", type_=table.c.window_start.type)
    ins = insert_for(dialect, table).values(scope=bindparam("for"), window_start=window, count=1)
    newer = ins.excluded.window_start > table.c.window_start
    return ins.on_conflict_do_update(
        index_elements=["scope"],
        set_={
            "count": case((newer, 1), else_=table.c.count + 1),
            "window_start": case((newer, ins.excluded.window_start), else_=table.c.window_start),
        },
    ).returning(table.c.count)


async def count_in_window(db: Database, scope: str, window_start: datetime) -> int:
    """Add one to a fixed-window counter and return the new count (atomic across replicas).

    One statement, committed in its own trip (it holds SQLite's write turn on every message).
    """
    params = {"for": scope, "window": window_start}
    async with db.engine.begin() as connection:
        counted = await connection.execute(
            _count_stmt(db.dialect), params, execution_options=COMMITS
        )
        return int(counted.scalar_one())


_runs = AgentRunRow.__table__.c
_SPENT_SINCE = select(
    func.coalesce(func.sum(_runs.actor_runs), 0),
    func.coalesce(func.sum(_runs.input_tokens + _runs.output_tokens), 0),
).where(
    _runs.workspace == bindparam("workspace"),
    _runs.started_at >= bindparam("since", type_=_runs.started_at.type),
)
"""Built once: every message of a limited workspace runs it (an index range scan)."""


async def spent_today(db: Database, workspace: str, now: datetime) -> tuple[int, int]:
    """(actor runs, model tokens) a workspace's agent runs used since midnight UTC."""
    midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    async with db.engine.connect() as connection:
        result = await connection.execute(_SPENT_SINCE, {"workspace": workspace, "since": midnight})
        runs, tokens = result.one()
    return int(runs), int(tokens)


def _until_midnight(now: datetime) -> str:
    tomorrow = (now.astimezone(UTC) + timedelta(days=1)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    minutes = max(1, int((tomorrow - now).total_seconds() // 60))
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


class Limits:
    """Checks a message against the shared limits before the core spends anything on it."""

    def __init__(
        self, settings: Settings, db: Database, *, clock: Callable[[], datetime] = _utcnow
    ) -> None:
        self.settings = settings
        self.db = db
        self.clock = clock

    async def check(self, message: IncomingMessage) -> Reply | None:
        """A clear refusal when a limit is reached, else None (and the message is counted)."""
        if message.key.platform == "console":
            return None
        now = self.clock()
        return await self._budget(message, now) or await self._rate(message, now)

    async def _rate(self, message: IncomingMessage, now: datetime) -> Reply | None:
        limit = self.settings.user_messages_per_minute
        if limit <= 0:
            return None
        key = message.key
        scope = f"messages:{key.platform}:{key.workspace}:{message.user}"
        window = now.astimezone(UTC).replace(second=0, microsecond=0)
        count = await count_in_window(self.db, scope, window)
        if count <= limit:
            return None
        wait_s = max(1, 60 - now.second)
        return Reply(
            text=(
                f"⚠️ You've sent more than {limit} messages this minute, which is as many as I "
                f"take from one person. Please wait about {wait_s} seconds and ask again."
            ),
            error=True,
        )

    async def _budget(self, message: IncomingMessage, now: datetime) -> Reply | None:
        runs_cap = self.settings.daily_actor_runs_per_workspace
        tokens_cap = self.settings.daily_model_tokens_per_workspace
        workspace = message.key.workspace
        if not workspace or (runs_cap <= 0 and tokens_cap <= 0):
            return None
        runs, tokens = await spent_today(self.db, workspace, now)
        if runs_cap > 0 and runs >= runs_cap:
            spent = f"today's {runs_cap:,} scraper runs"
        elif tokens_cap > 0 and tokens >= tokens_cap:
            spent = f"today's {tokens_cap:,} AI model tokens"
        else:
            return None
        return Reply(
            text=(
                f"⚠️ This workspace has used {spent}, its daily budget. It resets at midnight "
                f"UTC (in {_until_midnight(now)}). The bot's operator can raise the budget."
            ),
            error=True,
        )
