"""Agent run records add up to the per-agent and per-tool figures `stats` shows."""

from __future__ import annotations

from viraltracker_bot.storage.agent_runs import agent_stats, percentile, record_run
from viraltracker_bot.storage.database import Database


def test_percentile_is_nearest_rank() -> None:
    values = list(range(1, 101))  # 1..100
    assert percentile(values, 50) == 50
    assert percentile(values, 95) == 95
    assert percentile([7.0], 95) == 7.0
    assert percentile([], 50) == 0.0


async def test_agent_stats(db: Database) -> None:
    async with db.transaction() as session:
        for ms in (100, 200, 300, 400):
            await record_run(
                session,
                agent="twitter",
                tools=["search_tweets", "search_tweets", "export"],
                duration_ms=ms,
                input_tokens=10,
                output_tokens=5,
            )
        await record_run(
            session,
            agent="orchestrator",
            tools=[{"name": "route_to_twitter"}],
            duration_ms=1000,
            input_tokens=100,
            output_tokens=50,
            outcome="error",
            error="model unavailable",
        )
    async with db.transaction() as session:
        stats = await agent_stats(session)
    by_name = {(s.kind, s.name): s for s in stats}
    twitter = by_name["agent", "twitter"]
    assert (twitter.runs, twitter.successes, twitter.success_rate) == (4, 4, 1.0)
    assert (twitter.p50_ms, twitter.p95_ms, twitter.total_tokens) == (200, 400, 60)
    orchestrator = by_name["agent", "orchestrator"]
    assert orchestrator.success_rate == 0.0
    search = by_name["tool", "search_tweets"]
    assert search.runs == 4  # used twice in a run counts once
    assert by_name["tool", "route_to_twitter"].total_tokens == 150
    assert [s.kind for s in stats] == ["agent", "agent", "tool", "tool", "tool"]
    assert stats[0].name == "twitter"  # most runs first


async def test_agent_stats_empty(db: Database) -> None:
    async with db.transaction() as session:
        assert await agent_stats(session) == []


async def test_record_run_fills_defaults(db: Database) -> None:
    async with db.transaction() as session:
        row = await record_run(session, agent="tiktok")
    assert row.id is not None and row.tools == [] and row.outcome == "ok"
