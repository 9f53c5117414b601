"""SQLite's WAL is checkpointed beside the writers, never inside one of their commits."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text

from viraltracker_bot.storage import checkpoints
from viraltracker_bot.storage.database import open_database


async def test_commits_leave_the_wal_and_the_background_copies_it_into_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(checkpoints, "CHECKPOINT_EVERY_S", 0.05)
    path = tmp_path / "bot.db"
    db = await open_database(f"sqlite+aiosqlite:///{path}")
    try:
        async with db.sessions() as session:
            assert (await session.execute(text("PRAGMA wal_autocheckpoint"))).scalar_one() == 0
        before = path.stat().st_size
        body = "x" * 4000
        for _ in range(10):  # ~1,000 pages of WAL: past SQLite's automatic checkpoint
            async with db.engine.begin() as conn:
                await conn.execute(text("CREATE TABLE IF NOT EXISTS t (b TEXT)"))
                await conn.execute(text("INSERT INTO t (b) VALUES (:b)"), [{"b": body}] * 100)
        for _ in range(200):  # the background checkpoint copies the WAL into the file
            if path.stat().st_size > before + 2_000_000:
                break
            await asyncio.sleep(0.05)
        assert path.stat().st_size > before + 2_000_000
    finally:
        await db.dispose()
