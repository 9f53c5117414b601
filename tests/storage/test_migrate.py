"""Migrations bring an empty database to the schema in tables.py, and are safe to repeat."""

from __future__ import annotations

import asyncio
import sys

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from viraltracker_bot.storage.database import Database
from viraltracker_bot.storage.migrate import current_revision, head_revision
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
