"""YouTube videos and Shorts through streamers/youtube-scraper: builders, run input, field map."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from viraltracker_bot.config import Settings
from viraltracker_bot.platforms.models import Platform, PlatformQuery, Post
from viraltracker_bot.platforms.normalise import ItemShape
from viraltracker_bot.platforms.spec import (
    PlatformSpec,
    clean_terms,
    per_term_cap,
    pool_size,
    split_terms,
)

DATE_FILTERS = ((1, "today"), (7, "week"), (31, "month"), (365, "year"))
"""The actor's upload-date buckets: the smallest one that covers the requested days is used."""


def search_query(
    keywords: str,
    max_shorts: int = 100,
    max_videos: int = 0,
    days_back: int | None = None,
    min_views: int | None = 100_000,
    max_subscribers: int | None = 50_000,
    *,
    sort: str | None = None,
) -> PlatformQuery:
    """Shorts (and optionally long videos) for comma-separated keywords."""
    max_shorts, max_videos = max(0, max_shorts), max(0, max_videos)
    return PlatformQuery(
        platform=Platform.youtube,
        kind="search",
        terms=split_terms(keywords),
        limit=max(1, max_shorts + max_videos),
        hours_back=days_back * 24 if days_back else None,
        min_views=min_views,
        max_followers=max_subscribers,
        sort=sort,
        options={"max_shorts": max_shorts, "max_videos": max_videos},
    )


def build_input(query: PlatformQuery, settings: Settings, _now: datetime) -> dict[str, Any]:
    """Counts are per search term; the date bucket is coarse, the exact age is filtered later."""
    shorts = query.options.get("max_shorts")
    videos = query.options.get("max_videos")
    if shorts is None and videos is None:
        shorts, videos = query.limit, 0
    # a pool to filter and rank, shared between Shorts and videos as the query shares its limit
    pool, limit = pool_size(query, settings), max(1, query.limit)
    terms = clean_terms(query.terms)
    shorts_n, videos_n = _within(
        _pooled(shorts, pool, limit),
        _pooled(videos, pool, limit),
        per_term_cap(len(terms), settings),
    )
    run_input: dict[str, Any] = {
        "searchQueries": terms,
        "maxResults": videos_n,
        "maxResultsShorts": shorts_n,
        "maxResultStreams": 0,
    }
    date_filter = _date_filter(query.hours_back)
    if date_filter:
        run_input["dateFilter"] = date_filter
    if query.sort:
        run_input["sortingOrder"] = query.sort
    return run_input


def _pooled(count: Any, pool: int, limit: int) -> int:
    """A requested count grown to its share of the search's pool (never shrunk); zero stays
    zero (no long videos asked for, none fetched)."""
    wanted = int(count or 0)
    return -(-wanted * pool // limit) if pool > limit else wanted


def _within(shorts: int, videos: int, budget: int) -> tuple[int, int]:
    """(Shorts, videos) for one term, scaled down together to the term's share of the per-run
    cap: the actor fetches both counts for every term, so capping each alone let Shorts plus
    videos ask for twice the cap. A count asked for keeps at least one while the budget allows."""
    total = shorts + videos
    if total <= budget:
        return shorts, videos
    scaled = budget * shorts // total
    if shorts and not scaled and budget > 1:
        scaled = 1
    return scaled, budget - scaled


def _date_filter(hours_back: int | None) -> str | None:
    if not hours_back:
        return None
    days = hours_back / 24
    return next((name for limit, name in DATE_FILTERS if days <= limit), None)


_HANDLE = re.compile(r"youtube\.com/@([^/?#]+)")


def _derive(item: dict[str, Any], values: dict[str, Any], _now: datetime) -> None:
    """A Short is known by its URL; the channel handle comes from the channel URL."""
    url = values.get("url") or ""
    if not url and values.get("platform_id"):
        url = values["url"] = f"https://www.youtube.com/watch?v={values['platform_id']}"
    values["is_short"] = "/shorts/" in url or str(item.get("type", "")).lower() in (
        "short",
        "shorts",
    )
    if not values.get("author"):
        match = _HANDLE.search(str(item.get("channelUrl") or ""))
        values["author"] = match.group(1) if match else values.get("author_name")


SHAPE = ItemShape(
    model=Post,
    id_field="platform_id",
    fixed={"platform": Platform.youtube, "shares": None},
    fields={
        "platform_id": ("id",),
        "url": ("url",),
        "author": ("channelUsername",),
        "author_name": ("channelName",),
        "author_followers": ("numberOfSubscribers", "channelSubscribers"),
        "author_verified": ("isChannelVerified",),
        "text": ("title", "text"),
        "views": ("viewCount",),
        "likes": ("likes", "likeCount"),
        "comments": ("commentsCount", "commentCount"),
        "posted_at": ("date", "uploadDate", "publishedAt"),
        "duration_s": ("duration",),
        "hashtags": ("hashtags",),
    },
    derive=_derive,
)

SPEC = PlatformSpec(
    platform=Platform.youtube,
    actor_setting="youtube_actor",
    shape=SHAPE,
    build_input=build_input,
    kinds=frozenset({"search"}),
)
