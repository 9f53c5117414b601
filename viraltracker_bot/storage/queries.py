"""The actor result cache: which query ran when, and which posts/ads it found."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

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


async def record_query(
    session: AsyncSession,
    *,
    cache_key: str,
    platform: str,
    kind: str,
    query: dict[str, Any],
    actor: str,
    run_input: dict[str, Any],
    run_id: str | None,
    sandbox: bool,
    item_count: int,
    skipped: int,
    now: datetime,
    post_ids: Sequence[int] = (),
    ad_ids: Sequence[int] = (),
) -> int:
    """Remember one run and link what it found, in the platform's order (first sighting wins);
    returns the run's row id.

    Core statements, not ORM objects: the unit of work cost several times SQLite's own work
    while holding its write lock, and nothing reads the row back as an object.
    """
    values = {
        "cache_key": cache_key,
        "platform": platform,
        "kind": kind,
        "query": query,
        "actor": actor,
        "run_input": run_input,
        "run_id": run_id,
        "sandbox": sandbox,
        "item_count": item_count,
        "skipped": skipped,
        "created_at": now,
    }
    query_id: int = (await session.execute(_insert_query(), values)).scalar_one()
    # One executemany without RETURNING: the links' own ids are never read.
    links = [
        {"query_id": query_id, "post_id": post_id, "ad_id": None, "rank": rank, "found_at": now}
        for rank, post_id in enumerate(_unique(post_ids))
    ]
    links += [
        {"query_id": query_id, "post_id": None, "ad_id": ad_id, "rank": rank, "found_at": now}
        for rank, ad_id in enumerate(_unique(ad_ids))
    ]
    if links:
        await session.execute(_insert_links(), links)
    return query_id


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
