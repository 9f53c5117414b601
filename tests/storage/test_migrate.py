"""Migrations bring an empty database to the schema in tables.py, and are safe to repeat."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from viraltracker_bot.storage.database import Database
from viraltracker_bot.storage.migrate import current_revision, head_revision, upgrade_to_head
from viraltracker_bot.storage.stats import TopPostsFilter, top_posts
from viraltracker_bot.storage.tables import Base


async def test_fresh_database_is_at_head_and_matches_tables(database_url: str) -> None:
    db = Database(database_url)
    try:
        assert await current_revision(db.engine) is None
        await db.upgrade()
        assert await current_revision(db.engine) == head_revision()
        async with db.engine.connect() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": True}), Base.metadata
                )
            )
        assert diff == []
    finally:
        await db.dispose()


async def test_upgrade_twice_and_concurrently(database_url: str) -> None:
    first, second = Database(database_url), Database(database_url)
    try:
        await asyncio.gather(first.upgrade(), second.upgrade(), first.upgrade())
        await first.upgrade()
        assert await current_revision(second.engine) == head_revision()
    finally:
        await first.dispose()
        await second.dispose()


async def test_processes_starting_at_once_migrate_once(database_url: str) -> None:
    """Two bot processes starting together on one fresh database both come up."""
    script = (
        "import asyncio, sys\n"
        "from viraltracker_bot.storage.database import open_database\n"
        "async def main():\n"
        "    db = await open_database(sys.argv[1])\n"
        "    await db.dispose()\n"
        "asyncio.run(main())\n"
    )
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", script, database_url, stderr=asyncio.subprocess.PIPE
        )
        for _ in range(2)
    ]
    outcomes = await asyncio.gather(*(p.communicate() for p in procs))
    errors = [err.decode() for (_, err), p in zip(outcomes, procs, strict=True) if p.returncode]
    assert errors == []
    db = Database(database_url)
    try:
        assert await current_revision(db.engine) == head_revision()
    finally:
        await db.dispose()


async def test_scraped_items_stored_with_nul_before_are_cleaned(database_url: str) -> None:
    """Rows written before NUL was left out of JSON columns: on PostgreSQL one of them made
    every "text only" search fail, until the migration that cleans them."""
    db = Database(database_url)
    try:
        await upgrade_to_head(db.engine, revision="0006")
        raw = '{"text": "a\\u0000b", "media": [], "path": "C:\\\\u0000"}'
        cast = "CAST(:raw AS json)" if db.dialect == "postgresql" else ":raw"
        async with db.engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO posts (platform, platform_id, text, hashtags, views, "
                    "first_seen_at, last_seen_at, raw) VALUES ('twitter', 'old', 'a tweet', "
                    f"'[]', 5, :now, :now, {cast})"
                ),
                {"raw": raw, "now": datetime.now(UTC)},
            )
        await db.upgrade()
        async with db.transaction() as session:
            [post] = await top_posts(session, TopPostsFilter(text_only=True))
        assert post.platform_id == "old"
        removed = {"text": "ab", "media": [], "path": "C:\\u0000"}
        assert post.raw == (removed if db.dialect == "postgresql" else json.loads(raw))
    finally:
        await db.dispose()
