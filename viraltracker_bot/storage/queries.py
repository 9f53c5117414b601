"""The actor result cache: which query ran when, and which posts/ads it found."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Dialect, Table, bindparam, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from viraltracker_bot.storage.bulk import SqlitePlan, compile_for_sqlite
from viraltracker_bot.storage.tables import PostQueryRow, QueryRow

_queries = QueryRow.__table__
_links = PostQueryRow.__table__

# Statements are built once, with bound parameters: every search runs three of them, and
# building SQLAlchemy expressions anew each time cost more than running them.


@functools.cache
def _fresh(sandbox: bool) -> Any:
    return (
        select(QueryRow)
        .where(
            QueryRow.cache_key == bindparam("key"),
            QueryRow.sandbox.is_(sandbox),
            QueryRow.created_at >= bindparam("since", type_=_queries.c.created_at.type),
        )
        .order_by(QueryRow.created_at.desc(), QueryRow.id.desc())
        .limit(1)
    )


@functools.cache
def _insert_query() -> Any:
    return insert(_queries).returning(_queries.c.id)


@functools.cache
def _insert_links() -> Any:
    return insert(_links)


@functools.cache
def _linked() -> Any:
    return (
        select(_links.c.post_id, _links.c.ad_id)
        .where(_links.c.query_id == bindparam("query_id"))
        .order_by(_links.c.rank, _links.c.id)
    )


async def find_fresh(
    session: AsyncSession,
    cache_key: str,
    *,
    max_age_s: float,
    sandbox: bool,
    now: datetime,
) -> QueryRow | None:
    """The newest run of this exact actor input within the TTL (sandbox and live never mix)."""
    if max_age_s <= 0:
        return None
    params = {"key": cache_key, "since": now - timedelta(seconds=max_age_s)}
    return (await session.execute(_fresh(sandbox), params)).scalar_one_or_none()


@dataclass(frozen=True)
class RecordedRun:
    """One actor run as the cache remembers it (a `queries` row)."""

    cache_key: str
    platform: str
    kind: str
    query: dict[str, Any]
    actor: str
    run_input: dict[str, Any]
    run_id: str | None
    sandbox: bool
    item_count: int
    skipped: int
    created_at: datetime

    def values(self) -> dict[str, Any]:
        return {field.name: getattr(self, field.name) for field in fields(self)}


async def record_query(
    session: AsyncSession,
    run: RecordedRun,
    post_ids: Sequence[int] = (),
    ad_ids: Sequence[int] = (),
) -> int:
    """Remember one run and link what it found, in the platform's order (first sighting wins);
    returns the run's row id.

    Core statements, not ORM objects: the unit of work cost several times SQLite's own work
    while holding its write lock, and nothing reads the row back as an object.
    """
    query_id: int = (await session.execute(_insert_query(), run.values())).scalar_one()
    links = _links_of(query_id, post_ids, ad_ids, run.created_at)
    if links:  # one executemany without RETURNING: the links' own ids are never read
        await session.execute(_insert_links(), links)
    return query_id


@dataclass(frozen=True)
class SqliteRecord:
    """`record_query` ready to run on aiosqlite's thread, inside a bigger write (see
    `searches.store_search`): the run's values processed, the links' statement compiled."""

    query_sql: str
    query_params: tuple[Any, ...]
    links: SqlitePlan
    found_at: datetime

    def run(
        self, connection: sqlite3.Connection, post_ids: Sequence[int], ad_ids: Sequence[int]
    ) -> int:
        query_id = connection.execute(self.query_sql, self.query_params).lastrowid
        assert query_id is not None
        links = _links_of(query_id, post_ids, ad_ids, self.found_at)
        if links:
            connection.executemany(self.links.sql, self.links.parameters(links))
        return query_id


def prepare_sqlite_record(dialect: Dialect, run: RecordedRun) -> SqliteRecord:
    values = run.values()
    insert_run = _sqlite_insert(dialect, _queries, tuple(values))
    [query_params] = insert_run.parameters([values])
    links = _sqlite_insert(dialect, _links, _LINK_COLUMNS)
    return SqliteRecord(insert_run.sql, query_params, links, run.created_at)


_LINK_COLUMNS = ("query_id", "post_id", "ad_id", "rank", "found_at")


@functools.cache
def _sqlite_insert(dialect: Dialect, table: Table, columns: tuple[str, ...]) -> SqlitePlan:
    return compile_for_sqlite(dialect, table, insert(table), columns)


def _links_of(
    query_id: int, post_ids: Sequence[int], ad_ids: Sequence[int], now: datetime
) -> list[dict[str, Any]]:
    links = [
        {"query_id": query_id, "post_id": post_id, "ad_id": None, "rank": rank, "found_at": now}
        for rank, post_id in enumerate(_unique(post_ids))
    ]
    links += [
        {"query_id": query_id, "post_id": None, "ad_id": ad_id, "rank": rank, "found_at": now}
        for rank, ad_id in enumerate(_unique(ad_ids))
    ]
    return links


async def linked_ids(session: AsyncSession, query_id: int) -> tuple[list[int], list[int]]:
    """(post ids, ad ids) a recorded query found, in the order it found them."""
    posts: list[int] = []
    ads: list[int] = []
    for post_id, ad_id in (await session.execute(_linked(), {"query_id": query_id})).all():
        if post_id is not None:
            posts.append(post_id)
        elif ad_id is not None:
            ads.append(ad_id)
    return posts, ads


def _unique(ids: Sequence[int]) -> list[int]:
    return list(dict.fromkeys(ids))
