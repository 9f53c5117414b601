"""The viral filters applied after a scrape: views, author size, age; then the ranking."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from viraltracker_bot.platforms.models import PlatformQuery, Post


def passes(post: Post, query: PlatformQuery, now: datetime) -> bool:
    """Unknown values pass the author and age checks (cannot prove them big or old), not views."""
    if query.min_views is not None and (post.views is None or post.views < query.min_views):
        return False
    if (
        query.max_followers is not None
        and post.author_followers is not None
        and post.author_followers > query.max_followers
    ):
        return False
    if query.hours_back and post.posted_at is not None:
        if _aware(post.posted_at) < now - timedelta(hours=query.hours_back):
            return False
    return True


def _aware(moment: datetime) -> datetime:
    """SQLite hands datetimes back without a zone; everything stored is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def viral_posts(posts: list[Post], query: PlatformQuery, now: datetime) -> list[Post]:
    """Posts passing the filters, most viewed first (newest first for 'Latest'), up to the limit."""
    kept = [p for p in posts if passes(p, query, now)]
    if (query.sort or "").lower() in ("latest", "recent", "new", "newest"):
        oldest = datetime.min.replace(tzinfo=UTC)
        kept.sort(key=lambda p: _aware(p.posted_at) if p.posted_at else oldest, reverse=True)
    else:
        kept.sort(key=lambda p: p.views if p.views is not None else -1, reverse=True)
    return kept[: max(0, query.limit)]
