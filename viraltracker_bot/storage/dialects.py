"""What differs between SQLite and PostgreSQL: the upsert INSERT, time zones, NUL characters."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def dialect_name(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def upsert_insert(session: AsyncSession, table: Table) -> Any:
    """An INSERT that supports `.on_conflict_do_update` / `.on_conflict_do_nothing`.

    Both dialects' constructs share that API and the `.excluded` namespace, so repositories
    write one upsert and pick the construct here.
    """
    return insert_for(dialect_name(session), table)


def insert_for(dialect: str, table: Table) -> Any:
    """`upsert_insert` by dialect name: for statements built once, before any session."""
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"upserts are written for SQLite and PostgreSQL, not {dialect}")


def as_utc(value: datetime | None) -> datetime | None:
    """Aware UTC: SQLite stores datetimes without their offset, so everything is kept in UTC.

    A naive datetime is taken to be UTC already (that is what SQLite hands back).
    """
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def nul_free(value: str | None) -> str | None:
    """The text without NUL characters, which PostgreSQL text columns refuse outright.

    Scraped text can carry them; they are dropped on both databases so both store the same.
    JSON columns leave them out too (`json_text`): the `json` type stores their escape, but
    its operators refuse it.
    """
    if value is None or "\x00" not in value:
        return value
    return value.replace("\x00", "")
