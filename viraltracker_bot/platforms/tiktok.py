"""TikTok through clockworks/tiktok-scraper: query builders, run input, video field map."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from viraltracker_bot.config import Settings
from viraltracker_bot.platforms.models import Platform, PlatformQuery, Post
from viraltracker_bot.platforms.normalise import ItemShape
from viraltracker_bot.platforms.spec import (
    PlatformSpec,
    clean_terms,
    item_count,
    per_term_cap,
    split_terms,
)


def search_query(
    keywords: str,
    count: int = 50,
    min_views: int | None = 100_000,
    max_days: int | None = 10,
    max_followers: int | None = 50_000,
) -> PlatformQuery:
    """Videos for comma-separated keywords; defaults find recent viral videos by small creators."""
    return _query("search", split_terms(keywords), count, min_views, max_days, max_followers)


def hashtag_query(
    hashtag: str,
    count: int = 50,
    min_views: int | None = 100_000,
    max_days: int | None = 10,
    max_followers: int | None = 50_000,
) -> PlatformQuery:
    """Videos under one or more hashtags ('#productivity' or 'productivity,focus')."""
    tags = [t.lstrip("#") for t in split_terms(hashtag)]
    return _query("hashtag", tags, count, min_views, max_days, max_followers)


def user_query(
    username: str,
    count: int = 50,
    min_views: int | None = None,
    max_days: int | None = None,
    max_followers: int | None = None,
) -> PlatformQuery:
    """One creator's latest videos."""
    return _query("user", [username.strip().lstrip("@")], count, min_views, max_days, max_followers)


def _query(
    kind: str,
    terms: list[str],
    count: int,
    min_views: int | None,
    max_days: int | None,
    max_followers: int | None,
) -> PlatformQuery:
    return PlatformQuery(
        platform=Platform.tiktok,
        kind=kind,  # type: ignore[arg-type]
        terms=terms,
        limit=count,
        hours_back=max_days * 24 if max_days else None,
        min_views=min_views,
        max_followers=max_followers,
    )


def build_input(query: PlatformQuery, settings: Settings, _now: datetime) -> dict[str, Any]:
    """The actor takes the age, view and follower limits nowhere: they are applied afterwards.
    `resultsPerPage` counts per hashtag, search or profile: each term's share of the cap."""
    terms = clean_terms(query.terms)
    run_input: dict[str, Any] = {
        "resultsPerPage": min(item_count(query, settings), per_term_cap(len(terms), settings)),
        "shouldDownloadVideos": False,
        "shouldDownloadCovers": False,
        "shouldDownloadSubtitles": False,
    }
    if query.kind == "hashtag":
        run_input["hashtags"] = [t.lstrip("#") for t in terms]
    elif query.kind == "user":
        run_input["profiles"] = [_profile_url(t) for t in terms]
    else:
        run_input["searchQueries"] = terms
    return run_input


def _profile_url(user: str) -> str:
    if user.startswith("http"):
        return user
    return f"https://www.tiktok.com/@{user.lstrip('@')}"


def _derive(_item: dict[str, Any], values: dict[str, Any], _now: datetime) -> None:
    if not values.get("url") and values.get("platform_id") and values.get("author"):
        values["url"] = f"https://www.tiktok.com/@{values['author']}/video/{values['platform_id']}"


SHAPE = ItemShape(
    model=Post,
    id_field="platform_id",
    fixed={"platform": Platform.tiktok, "is_short": True},
    fields={
        "platform_id": ("id",),
        "url": ("webVideoUrl", "videoUrl"),
        "author": ("authorMeta.name", "authorMeta.uniqueId"),
        "author_name": ("authorMeta.nickName", "authorMeta.nickname"),
        "author_followers": ("authorMeta.fans", "authorMeta.followers"),
        "author_verified": ("authorMeta.verified",),
        "text": ("text", "desc"),
        "views": ("playCount", "stats.playCount"),
        "likes": ("diggCount", "stats.diggCount"),
        "comments": ("commentCount", "stats.commentCount"),
        "shares": ("shareCount", "stats.shareCount"),
        "posted_at": ("createTimeISO", "createTime"),
        "duration_s": ("videoMeta.duration",),
        "hashtags": ("hashtags",),
    },
    derive=_derive,
)

SPEC = PlatformSpec(
    platform=Platform.tiktok,
    actor_setting="tiktok_actor",
    shape=SHAPE,
    build_input=build_input,
    kinds=frozenset({"search", "hashtag", "user"}),
)
