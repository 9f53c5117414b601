"""The async engine and session factory for SQLite (default) or PostgreSQL (several replicas)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from viraltracker_bot.storage import checkpoints, json_text, sqlite_driver


class Database:
    """Owns one engine per process; every repository call borrows a session from it."""

    def __init__(
        self, url: str, *, echo: bool = False, checkpoint_in_background: bool = False
    ) -> None:
        self.url = url
        # SQLite only: WAL checkpoints by a task of this process rather than in commits
        # (`checkpoints`); `start_checkpoints` runs it.
        self.checkpoint_in_background = checkpoint_in_background
        self._checkpoints: asyncio.Task[None] | None = None
        parsed = make_url(url)
        self.dialect = parsed.get_backend_name()
        kwargs: dict[str, Any] = {
            "echo": echo,
            "json_serializer": json_text.to_text,
            "json_deserializer": json_text.from_text,
        }
        if self.is_sqlite:
            # One writer at a time on SQLite: wait for the lock rather than fail at once.
            kwargs["connect_args"] = {"timeout": 30}
            # SQLAlchemy keeps 5 by default and closes the overflow as it comes back: with 200
            # answers in flight that was a new connection (a thread, four PRAGMAs, a cold page
            # cache) every couple of seconds. An idle pooled connection costs one idle thread.
            kwargs.update(pool_size=20, max_overflow=10)
            if parsed.get_driver_name() == "aiosqlite":
                parsed = parsed.set(drivername=f"sqlite+{sqlite_driver.DRIVER}")
        else:
            kwargs.update(pool_size=10, max_overflow=10, pool_pre_ping=True)
            # `?search_path=schema` keeps the bot (or one test) in its own PostgreSQL schema.
            search_path = parsed.query.get("search_path")
            if search_path:
                parsed = parsed.difference_update_query(["search_path"])
                kwargs["connect_args"] = {"server_settings": {"search_path": str(search_path)}}
        self.engine: AsyncEngine = create_async_engine(parsed, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
            if checkpoint_in_background:
                event.listen(self.engine.sync_engine, "connect", _no_automatic_checkpoints)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # SQLite only: the connection the inbox's group commits write through.
        self.kept_writer = sqlite_driver.KeptWriter(self.engine) if self.is_sqlite else None

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session whose work commits on success and rolls back on any error."""
        async with self.sessions() as session, session.begin():
            yield session

    async def upgrade(self) -> None:
        """Bring the schema to the newest alembic revision (idempotent)."""
        from viraltracker_bot.storage.migrate import upgrade_to_head

        await upgrade_to_head(self.engine)

    def start_checkpoints(self) -> None:
        """Checkpoint the WAL every second from here (SQLite with `checkpoint_in_background`)."""
        if self.is_sqlite and self.checkpoint_in_background and self._checkpoints is None:
            self._checkpoints = asyncio.create_task(
                checkpoints.checkpoint_forever(self.engine), name="sqlite:checkpoints"
            )

    async def dispose(self) -> None:
        await checkpoints.stop(self._checkpoints)
        self._checkpoints = None
        if self.kept_writer is not None:
            await self.kept_writer.close()
        await self.engine.dispose()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """Every new connection's settings (`sqlite_driver.set_up`), in one trip to its thread."""
    sqlite_driver.on_its_thread(dbapi_connection, sqlite_driver.set_up)


def _no_automatic_checkpoints(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()


async def open_database(url: str) -> Database:
    """Connect, migrate, and checkpoint in the background: what every entry point does on start."""
    db = Database(url, checkpoint_in_background=True)
    await db.upgrade()
    db.start_checkpoints()
    return db
