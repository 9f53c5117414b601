"""Top-post queries over everything stored: what `top`, digests and the analysis agent ask."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import Float, Select, Text, case, cast, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from viraltracker_bot.analysis.metrics import trimmed_stats, z_score
from viraltracker_bot.platforms.models import Platform, Post
from viraltracker_bot.storage.dialects import as_utc, dialect_name, nul_free
from viraltracker_bot.storage.posts import load_posts, post_from_row
from viraltracker_bot.storage.tables import PostRow

TopSort = Literal["views", "likes", "engagement", "engagement_rate", "outlier"]

# `sort="outlier"` scores at most this many matching posts (the most viewed ones).
OUTLIER_CANDIDATES = 20_000


class TopPostsFilter(BaseModel):
    """Which stored posts to rank, and by what."""

    platform: Platform | None = None
    keywords: list[str] = Field(
        default_factory=list,
        description="any of them (OR), case-insensitive, in the text or the hashtags",
    )
    since: datetime | None = Field(None, description="posted at or after this time")
    min_views: int | None = None
    max_followers: int | None = Field(None, description="authors with at most this many")
    text_only: bool = Field(False, description="tweets without photos or videos")
    sort: TopSort = "views"
    limit: int = Field(10, ge=1, le=1000)


async def top_posts(session: AsyncSession, f: TopPostsFilter) -> list[Post]:
    """The best `limit` stored posts matching the filter.

    Sorts: views, likes, engagement (likes + 0.8 shares + 0.5 comments), engagement_rate
    ((likes + comments + shares) / views, posts with views only), and outlier: the z-score of
    views against a 10%-trimmed baseline of the matching posts *of the same platform*, so a
    tweet and a TikTok are each measured against their own kind.
    """
    if f.sort == "outlier":
        return await _top_outliers(session, f)
    order = _sort_expression(f.sort)
    stmt = (
        select(PostRow)
        .where(*_conditions(session, f))
        .order_by(order.desc().nulls_last(), PostRow.id)
        .limit(f.limit)
    )
    if f.sort == "engagement_rate":
        stmt = stmt.where(PostRow.views > 0)
    result = await session.execute(stmt)
    return [post_from_row(row) for row in result.scalars()]


def _conditions(session: AsyncSession, f: TopPostsFilter) -> list[Any]:
    conditions: list[Any] = []
    if f.platform is not None:
        conditions.append(PostRow.platform == f.platform.value)
    if f.keywords:
        conditions.append(or_(*(_mentions(session, kw) for kw in f.keywords if kw.strip())))
    if f.since is not None:
        conditions.append(PostRow.posted_at >= as_utc(f.since))
    if f.min_views is not None:
        conditions.append(PostRow.views >= f.min_views)
    if f.max_followers is not None:
        # Unknown follower counts are left out: "small accounts" must be known to be small.
        conditions.append(PostRow.author_followers <= f.max_followers)
    if f.text_only:
        conditions.extend([PostRow.platform == Platform.twitter.value, _no_media(session)])
    return conditions


def _mentions(session: AsyncSession, keyword: str) -> Any:
    """The keyword (or '#keyword') anywhere in the text or the JSON list of hashtags.

    Substring match, as people type them ("ai" also finds "#AItools"); LIKE wildcards in
    the keyword are escaped. SQLite's LIKE already ignores ASCII case, PostgreSQL gets ILIKE.
    """
    word = (nul_free(keyword) or "").strip().lstrip("#")
    hashtags = cast(PostRow.hashtags, Text)
    if dialect_name(session) == "sqlite":
        return or_(
            PostRow.text.contains(word, autoescape=True),
            hashtags.contains(word, autoescape=True),
        )
    pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return or_(PostRow.text.ilike(pattern), hashtags.ilike(pattern))


def _no_media(session: AsyncSession) -> Any:
    """The stored actor item has no `media` (absent, null or an empty list).

    Tweets carry their photos and videos in the item's `media` list (apidojo/tweet-scraper);
    `is_short`/`duration_s` are never set for tweets, so the raw item is the only witness.
    """
    if dialect_name(session) == "sqlite":
        media_count = func.json_array_length(PostRow.raw, "$.media")
        return func.coalesce(media_count, 0) == 0
    media = PostRow.raw.op("->")("media")
    return (
        case(
            (func.json_typeof(media) == "array", func.json_array_length(media)),
            else_=0,
        )
        == 0
    )


def _sort_expression(sort: TopSort) -> Any:
    likes, comments, shares = (
        func.coalesce(PostRow.likes, 0),
        func.coalesce(PostRow.comments, 0),
        func.coalesce(PostRow.shares, 0),
    )
    if sort == "likes":
        return PostRow.likes
    if sort == "engagement":
        return likes + 0.8 * shares + 0.5 * comments
    if sort == "engagement_rate":
        return cast(likes + comments + shares, Float) / PostRow.views
    return PostRow.views


async def _top_outliers(session: AsyncSession, f: TopPostsFilter) -> list[Post]:
    stmt: Select[Any] = (
        select(PostRow.id, PostRow.platform, PostRow.views)
        .where(*_conditions(session, f), PostRow.views.is_not(None))
        .order_by(PostRow.views.desc(), PostRow.id)
        .limit(OUTLIER_CANDIDATES)
    )
    by_platform: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for row_id, platform, views in await session.execute(stmt):
        by_platform[platform].append((row_id, float(views)))
    scored: list[tuple[float, int]] = []
    for candidates in by_platform.values():
        values = [views for _, views in candidates]
        baseline = trimmed_stats(values)
        spread = trimmed_stats(values, trim=0.0).std
        scored.extend((z_score(views, baseline, spread), row_id) for row_id, views in candidates)
    scored.sort(key=lambda pair: (-pair[0], pair[1]))
    return await load_posts(session, [row_id for _, row_id in scored[: f.limit]])
