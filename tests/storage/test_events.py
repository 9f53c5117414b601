"""An event id is claimed exactly once, even when many deliveries race."""

from __future__ import annotations

import asyncio

from viraltracker_bot.storage.database import Database
from viraltracker_bot.storage.events import claim_event


async def test_claim_once(db: Database) -> None:
    assert await claim_event(db, "C1:1700000000.000100", "slack", "slack:T:C1:1") is True
    assert await claim_event(db, "C1:1700000000.000100", "slack") is False
    assert await claim_event(db, "C1:1700000000.000200", "slack") is True


async def test_concurrent_claims_one_winner(db: Database) -> None:
    claims = (claim_event(db, "interaction-1", "discord") for _ in range(20))
    results = await asyncio.gather(*claims)
    assert results.count(True) == 1


async def test_concurrent_claims_from_two_engines(database_url: str, db: Database) -> None:
    """Two Database objects stand in for two processes sharing one database."""
    other = Database(database_url)
    try:
        ids = [f"evt-{i}" for i in range(10)]
        claims = [claim_event(d, e, "slack") for e in ids for d in (db, other, db, other)]
        results = await asyncio.gather(*claims)
    finally:
        await other.dispose()
    per_event = [results[i * 4 : i * 4 + 4].count(True) for i in range(len(ids))]
    assert per_event == [1] * len(ids)
