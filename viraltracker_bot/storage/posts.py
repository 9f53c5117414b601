"""The post and ad repository: upserts that never duplicate, and loading posts back by id."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from viraltracker_bot.platforms.models import Ad, Platform, Post
from viraltracker_bot.storage.bulk import Key, Upsert, bulk_upsert
from viraltracker_bot.storage.dialects import as_utc, nul_free
from viraltracker_bot.storage.tables import AdRow, PostRow

# Ids per `IN (...)` when loading.
_ID_CHUNK = 10_000

# A later scrape that lacks a value (say, an actor that omits views) must not erase the one
# we already have; every other column takes the newest value.
_POST_KEEP_IF_MISSING = (
    "author",
    "author_name",
    "author_followers",
    "author_verified",
    "url",
    "views",
    "likes",
    "comments",
    "shares",
    "posted_at",
    "is_short",
    "duration_s",
)
_POST_ALWAYS = ("text", "hashtags", "raw", "last_seen_at")

_AD_KEEP_IF_MISSING = (
    "page_id",
    "page_name",
    "is_active",
    "start_date",
    "end_date",
    "currency",
    "spend_lower",
    "spend_upper",
    "impressions_lower",
    "impressions_upper",
    "title",
    "cta_text",
    "link_url",
    "url",
    "display_format",
)
_AD_ALWAYS = ("publisher_platforms", "creative_text", "raw", "last_seen_at")


def posts_upsert(posts: Sequence[Post]) -> tuple[Upsert, list[Key]]:
    """The upsert of these posts, and each post's key in input order.

    A post appearing twice in one batch is written once with its last occurrence (PostgreSQL
    refuses to update one row twice in a statement) and both positions get the same id.
    `first_seen_at` is set only when the row is created; `last_seen_at` moves on every sighting.
    """
    now = datetime.now(UTC)
    rows = [_post_values(post, now) for post in posts]
    keys = [(row["platform"], row["platform_id"]) for row in rows]
    unique = dict(zip(keys, rows, strict=True))  # a later duplicate replaces the earlier row
    upsert = Upsert(
        PostRow.__table__,
        list(unique.values()),
        key=("platform", "platform_id"),
        keep_if_missing=_POST_KEEP_IF_MISSING,
        always=_POST_ALWAYS,
    )
    return upsert, keys


def ads_upsert(ads: Sequence[Ad]) -> tuple[Upsert, list[Key]]:
    """The upsert of these ads (by ad_id), and each ad's key in input order."""
    now = datetime.now(UTC)
    rows = [_ad_values(ad, now) for ad in ads]
    keys = [(row["ad_id"],) for row in rows]
    unique = dict(zip(keys, rows, strict=True))
    upsert = Upsert(
        AdRow.__table__,
        list(unique.values()),
        key=("ad_id",),
        keep_if_missing=_AD_KEEP_IF_MISSING,
        always=_AD_ALWAYS,
    )
    return upsert, keys


async def upsert_posts(session: AsyncSession, posts: Sequence[Post]) -> list[int]:
    """Insert new posts, refresh known ones (see `posts_upsert`); returns row ids in input order."""
    upsert, keys = posts_upsert(posts)
    ids = await bulk_upsert(session, upsert)
    return [ids[key] for key in keys]


async def upsert_ads(session: AsyncSession, ads: Sequence[Ad]) -> list[int]:
    """Insert new ads, refresh known ones (by ad_id); returns row ids in input order."""
    upsert, keys = ads_upsert(ads)
    ids = await bulk_upsert(session, upsert)
    return [ids[key] for key in keys]


async def load_posts(session: AsyncSession, ids: Sequence[int]) -> list[Post]:
    """Posts by row id, in the order given; ids that no longer exist are left out."""
    found: dict[int, Post] = {}
    for chunk in _chunks(list(dict.fromkeys(ids)), _ID_CHUNK):
        result = await session.execute(select(PostRow).where(PostRow.id.in_(chunk)))
        for row in result.scalars():
            found[row.id] = post_from_row(row)
    return [found[i] for i in ids if i in found]


async def load_ads(session: AsyncSession, ids: Sequence[int]) -> list[Ad]:
    """Ads by row id, in the order given; ids that no longer exist are left out."""
    found: dict[int, Ad] = {}
    for chunk in _chunks(list(dict.fromkeys(ids)), _ID_CHUNK):
        result = await session.execute(select(AdRow).where(AdRow.id.in_(chunk)))
        for row in result.scalars():
            found[row.id] = ad_from_row(row)
    return [found[i] for i in ids if i in found]


async def author_median_views(
    session: AsyncSession, platform: Platform | str, author: str
) -> float | None:
    """The median views of every stored post by this author: the baseline for 'outlier for them'.

    Computed in Python because SQLite has no median; one author's posts are few.
    """
    result = await session.execute(
        select(PostRow.views).where(
            PostRow.platform == str(platform),
            PostRow.author == author,
            PostRow.views.is_not(None),
        )
    )
    views = [v for v in result.scalars()]
    return float(statistics.median(views)) if views else None


def post_from_row(row: PostRow) -> Post:
    return Post(
        platform=Platform(row.platform),
        platform_id=row.platform_id,
        url=row.url,
        author=row.author,
        author_name=row.author_name,
        author_followers=row.author_followers,
        author_verified=row.author_verified,
        text=row.text or "",
        views=row.views,
        likes=row.likes,
        comments=row.comments,
        shares=row.shares,
        posted_at=as_utc(row.posted_at),
        is_short=row.is_short,
        duration_s=row.duration_s,
        hashtags=list(row.hashtags or []),
        raw=dict(row.raw or {}),
    )


def ad_from_row(row: AdRow) -> Ad:
    return Ad(
        ad_id=row.ad_id,
        page_id=row.page_id,
        page_name=row.page_name,
        is_active=row.is_active,
        start_date=as_utc(row.start_date),
        end_date=as_utc(row.end_date),
        publisher_platforms=list(row.publisher_platforms or []),
        currency=row.currency,
        spend_lower=row.spend_lower,
        spend_upper=row.spend_upper,
        impressions_lower=row.impressions_lower,
        impressions_upper=row.impressions_upper,
        creative_text=row.creative_text or "",
        title=row.title,
        cta_text=row.cta_text,
        link_url=row.link_url,
        url=row.url,
        display_format=row.display_format,
        raw=dict(row.raw or {}),
    )


def _post_values(post: Post, now: datetime) -> dict[str, Any]:
    """Plain attribute reads (not model_dump): this runs once per row of a 100k-post batch."""
    return {
        "platform": post.platform.value,
        "platform_id": nul_free(post.platform_id),
        "author": nul_free(post.author),
        "author_name": nul_free(post.author_name),
        "author_followers": post.author_followers,
        "author_verified": post.author_verified,
        "text": nul_free(post.text) or "",
        "url": nul_free(post.url),
        "views": post.views,
        "likes": post.likes,
        "comments": post.comments,
        "shares": post.shares,
        "posted_at": as_utc(post.posted_at),
        "is_short": post.is_short,
        "duration_s": post.duration_s,
        "hashtags": [nul_free(tag) for tag in post.hashtags],
        "first_seen_at": now,
        "last_seen_at": now,
        "raw": post.raw,
    }


def _ad_values(ad: Ad, now: datetime) -> dict[str, Any]:
    return {
        "ad_id": nul_free(ad.ad_id),
        "page_id": nul_free(ad.page_id),
        "page_name": nul_free(ad.page_name),
        "is_active": ad.is_active,
        "start_date": as_utc(ad.start_date),
        "end_date": as_utc(ad.end_date),
        "publisher_platforms": ad.publisher_platforms,
        "currency": nul_free(ad.currency),
        "spend_lower": ad.spend_lower,
        "spend_upper": ad.spend_upper,
        "impressions_lower": ad.impressions_lower,
        "impressions_upper": ad.impressions_upper,
        "creative_text": nul_free(ad.creative_text) or "",
        "title": nul_free(ad.title),
        "cta_text": nul_free(ad.cta_text),
        "link_url": nul_free(ad.link_url),
        "url": nul_free(ad.url),
        "display_format": nul_free(ad.display_format),
        "first_seen_at": now,
        "last_seen_at": now,
        "raw": ad.raw,
    }


def _chunks(items: list[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
