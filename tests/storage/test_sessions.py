"""A conversation's session survives between turns and counts them."""

from __future__ import annotations

from viraltracker_bot.storage.database import Database
from viraltracker_bot.storage.sessions import load_session, save_session


async def test_new_conversation_has_no_session(db: Database) -> None:
    async with db.transaction() as session:
        assert await load_session(session, "slack:T1:C1:1.0") is None


async def test_save_then_load_roundtrip_and_turns(db: Database) -> None:
    key = "slack:T1:C1:1.0"
    cache = {"last_twitter_query": {"query": {"platform": "twitter"}, "post_ids": [1, 2]}}
    history = [{"kind": "request", "parts": [{"content": "find viral AI tweets"}]}]
    async with db.transaction() as session:
        await save_session(session, key, "slack", cache, history)
    async with db.transaction() as session:
        row = await load_session(session, key)
    assert row is not None
    assert (row.result_cache, row.history, row.turns, row.platform) == (cache, history, 1, "slack")
    created = row.created_at

    async with db.transaction() as session:
        before = await load_session(session, key)
        await save_session(session, key, "slack", {"custom": {}}, [*history, {"kind": "x"}])
        after = await load_session(session, key)
    assert before is after  # same identity, refreshed rather than stale
    assert after.turns == 2
    assert after.result_cache == {"custom": {}}
    assert len(after.history) == 2
    assert after.created_at == created
    assert after.updated_at >= after.created_at


async def test_sessions_are_per_key(db: Database) -> None:
    async with db.transaction() as session:
        await save_session(session, "a", "discord", {"x": 1}, [])
        await save_session(session, "b", "discord", {"x": 2}, [])
    async with db.transaction() as session:
        a, b = await load_session(session, "a"), await load_session(session, "b")
    assert a.result_cache == {"x": 1} and b.result_cache == {"x": 2}


async def test_history_may_hold_any_text(db: Database) -> None:
    """Scraped text quoted in the history (RTL marks) is stored as JSON, escaped; NUL, which
    PostgreSQL refuses in text and its json operators refuse in JSON, is left out."""
    history = [{"content": "tweet said \x00\u202e hi"}]
    async with db.transaction() as session:
        await save_session(session, "k", "slack", {}, history)
    async with db.transaction() as session:
        row = await load_session(session, "k")
    assert row is not None and row.history == [{"content": "tweet said \u202e hi"}]
