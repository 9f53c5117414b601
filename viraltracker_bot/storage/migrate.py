"""Bring a database to the newest schema with alembic, safely from several processes at once."""

from __future__ import annotations

import asyncio
import weakref
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# Any constant shared by every process of this product; "vtbot" + "mig" as a 63-bit number.
_PG_LOCK_KEY = 0x767462_6F74_6D6967 & 0x7FFF_FFFF_FFFF_FFFF


# alembic keeps the running migration in module globals (`alembic.context`), so two upgrades
# interleaving on one event loop would read each other's connection: one at a time per loop.
_LOOP_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def alembic_config() -> Config:
    """A config built in code, so migrations are found inside an installed package (no ini)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str | None:
    """The newest revision shipped with this code."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at (None for an empty database)."""
    async with engine.connect() as conn:
        return await conn.run_sync(
            lambda sync_conn: MigrationContext.configure(sync_conn).get_current_revision()
        )


async def upgrade_to_head(engine: AsyncEngine, *, revision: str = "head") -> None:
    """Migrate to head (or to `revision`: tests of a migration); a no-op when already there.

    Everything runs in one transaction that first takes a database lock, so processes
    starting at once take turns and the later ones find the schema current:
    `pg_advisory_xact_lock` on PostgreSQL (released at commit), `BEGIN IMMEDIATE` on SQLite
    (the database write lock; SQLite DDL is transactional, the driver just never opens the
    transaction itself).
    """
    lock = _LOOP_LOCKS.setdefault(asyncio.get_running_loop(), asyncio.Lock())
    async with lock, engine.connect() as conn:
        await conn.run_sync(_upgrade_locked, revision)
        await conn.commit()


def _upgrade_locked(connection: Connection, revision: str) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
    elif connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)
