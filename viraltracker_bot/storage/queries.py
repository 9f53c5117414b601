"""The actor result cache: which query ran when, and which posts/ads it found."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from viraltracker_bot.storage.tables import PostQueryRow, QueryRow


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
    stmt = (
        select(QueryRow)
        .where(
            QueryRow.cache_key == cache_key,
            QueryRow.sandbox.is_(sandbox),
            QueryRow.created_at >= now - timedelta(seconds=max_age_s),
        )
        .order_by(QueryRow.created_at.desc(), QueryRow.id.desc())
        .limit(1)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


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
) -> QueryRow:
    """Remember one run and link what it found, in the platform's order (first sighting wins)."""
    row = QueryRow(
        cache_key=cache_key,
        platform=platform,
        kind=kind,
        query=query,
        actor=actor,
        run_input=run_input,
        run_id=run_id,
        sandbox=sandbox,
        item_count=item_count,
        skipped=skipped,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    # One executemany without RETURNING: the links' own ids are never read, and the ORM's
    # per-object unit of work cost several times SQLite's work while holding its write lock.
    links = [
        {"query_id": row.id, "post_id": post_id, "ad_id": None, "rank": rank, "found_at": now}
        for rank, post_id in enumerate(_unique(post_ids))
    ]
    links += [
        {"query_id": row.id, "post_id": None, "ad_id": ad_id, "rank": rank, "found_at": now}
        for rank, ad_id in enumerate(_unique(ad_ids))
    ]
    if links:
        await session.execute(insert(PostQueryRow.__table__), links)
    return row


async def linked_ids(session: AsyncSession, query_id: int) -> tuple[list[int], list[int]]:
    """(post ids, ad ids) a recorded query found, in the order it found them."""
    stmt = (
        select(PostQueryRow.post_id, PostQueryRow.ad_id)
        .where(PostQueryRow.query_id == query_id)
        .order_by(PostQueryRow.rank, PostQueryRow.id)
    )
    posts: list[int] = []
    ads: list[int] = []
    for post_id, ad_id in (await session.execute(stmt)).all():
        if post_id is not None:
            posts.append(post_id)
        elif ad_id is not None:
            ads.append(ad_id)
    return posts, ads


def _unique(ids: Sequence[int]) -> list[int]:
    return list(dict.fromkeys(ids))
