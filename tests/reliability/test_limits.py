"""Shared limits: a person's messages per minute, a workspace's daily budget, on every replica."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from viraltracker_bot.config import Settings
from viraltracker_bot.conversation import ConversationKey, IncomingMessage
from viraltracker_bot.limits import count_in_window
from viraltracker_bot.runtime import Runtime
from viraltracker_bot.storage.agent_runs import record_run
from viraltracker_bot.storage.database import Database
from viraltracker_bot.storage.tables import UsageCounterRow

NOON = datetime.now(UTC).replace(hour=12, minute=0, second=5, microsecond=0)
RATE_ONLY = {
    "user_messages_per_minute": 3,
    "daily_actor_runs_per_workspace": 0,
    "daily_model_tokens_per_workspace": 0,
}
BUDGETS = {
    "user_messages_per_minute": 0,
    "daily_actor_runs_per_workspace": 5,
    "daily_model_tokens_per_workspace": 1000,
}


def said(text: str, *, user: str = "U1", workspace: str = "T1", platform: str = "slack"):
    key = ConversationKey(platform=platform, workspace=workspace, channel="C1", thread=user)  # type: ignore[arg-type]
    return IncomingMessage(key=key, user=user, text=text)


@pytest.fixture
def replicas(settings: Settings) -> Callable[[dict[str, Any]], Any]:
    """Two processes' cores on one database with these limits, their clocks at today's noon."""

    @asynccontextmanager
    async def start(limits: dict[str, Any]) -> AsyncIterator[list[Runtime]]:
        limited = settings.model_copy(update=limits)
        runtimes = [await Runtime.start(limited), await Runtime.start(limited)]
        for runtime in runtimes:
            runtime.conversation.limits.clock = lambda: NOON
        try:
            yield runtimes
        finally:
            for runtime in runtimes:
                await runtime.close()

    return start


async def test_a_person_gets_a_clear_answer_past_the_rate_across_replicas(replicas) -> None:
    async with replicas(RATE_ONLY) as runtimes:
        one, two = (r.conversation for r in runtimes)
        answers = [await (one if i % 2 else two).handle(said("top tiktok cats")) for i in range(3)]
        assert not any(a.error for a in answers)
        refused = await one.handle(said("top tiktok cats"))
        assert refused.error and "more than 3 messages this minute" in refused.text
        assert "55 seconds" in refused.text
        assert not (await two.handle(said("top tiktok cats", user="U2"))).error  # others go on
        for runtime in runtimes:  # a minute later the person may ask again
            runtime.conversation.limits.clock = lambda: NOON + timedelta(minutes=1)
        assert not (await two.handle(said("top tiktok cats"))).error


async def _spent(runtime: Runtime, workspace: str, at: datetime, **fields: Any) -> None:
    async with runtime.db.transaction() as session:
        await record_run(
            session, agent="tiktok", workspace=workspace, started_at=at, duration_ms=1.0, **fields
        )


@pytest.mark.parametrize(
    ("spent", "words"),
    [
        ({"actor_runs": 5}, "5 scraper runs"),
        ({"input_tokens": 600, "output_tokens": 400}, "1,000 AI model tokens"),
    ],
)
async def test_a_workspace_past_its_daily_budget_is_refused_until_midnight(
    replicas, spent: dict[str, int], words: str
) -> None:
    async with replicas(BUDGETS) as (one, two):
        await _spent(one, "T1", NOON - timedelta(hours=1), **spent)
        await _spent(one, "T2", NOON - timedelta(days=1), **spent)  # yesterday's is forgotten
        refused = await two.conversation.handle(said("top tiktok cats"))
        assert refused.error and words in refused.text and "11 h 59 min" in refused.text
        assert not (await two.conversation.handle(said("hello", workspace="T2"))).error
        two.conversation.limits.clock = lambda: NOON + timedelta(days=1)
        assert not (await two.conversation.handle(said("hello", user="U3"))).error


async def test_the_operators_terminal_is_never_limited(replicas) -> None:
    async with replicas({**BUDGETS, "user_messages_per_minute": 1}) as (one, _):
        await _spent(one, "T1", NOON, actor_runs=50)
        for _ in range(3):
            reply = await one.conversation.handle(said("hello", platform="console"))
            assert not reply.error


async def test_zero_turns_the_limits_off(replicas) -> None:
    off = dict.fromkeys(RATE_ONLY, 0)
    async with replicas(off) as (one, _):
        await _spent(one, "T1", NOON, actor_runs=10_000)
        for _ in range(12):
            assert not (await one.conversation.handle(said("hello"))).error


async def test_a_persons_count_restarts_each_minute_in_one_row(db: Database) -> None:
    minute = NOON.replace(second=0)
    counts = [
        await count_in_window(db, "messages:slack:T1:U1", minute + timedelta(minutes=m))
        for m in (0, 0, 1, 3, 3, 3)
    ]
    assert counts == [1, 2, 1, 1, 2, 3]
    async with db.sessions() as session:
        rows = await session.scalar(select(func.count()).select_from(UsageCounterRow))
    assert rows == 1  # nothing older is left behind to clear


async def test_a_replica_whose_clock_is_behind_counts_into_the_newer_minute(db: Database) -> None:
    minute = NOON.replace(second=0)
    assert await count_in_window(db, "messages:slack:T1:U1", minute) == 1
    assert await count_in_window(db, "messages:slack:T1:U1", minute - timedelta(minutes=1)) == 2
    assert await count_in_window(db, "messages:slack:T1:U1", minute) == 3
