"""The viral filters applied after a scrape: views, author size, age; then the ranking and cut."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from viraltracker_bot.platforms.models import Ad, PlatformQuery, Post


def failed_filter(post: Post, query: PlatformQuery, now: datetime) -> str | None:
    """The first filter the post fails (min_views, max_followers, hours_back), or None.

    Unknown values pass the author and age checks (cannot prove them big or old), not views.
    """
    if query.min_views is not None and (post.views is None or post.views < query.min_views):
        return "min_views"
    if (
        query.max_followers is not None
        and post.author_followers is not None
        and post.author_followers > query.max_followers
    ):
        return "max_followers"
    if query.hours_back and post.posted_at is not None:
        if _aware(post.posted_at) < now - timedelta(hours=query.hours_back):
            return "hours_back"
    return None


def passes(post: Post, query: PlatformQuery, now: datetime) -> bool:
    return failed_filter(post, query, now) is None


def filtered_out(posts: list[Post], query: PlatformQuery, now: datetime) -> dict[str, int]:
    """How many posts each filter removed: what a reply of few or no posts must explain."""
    counts: dict[str, int] = {}
    for post in posts:
        failed = failed_filter(post, query, now)
        if failed is not None:
            counts[failed] = counts.get(failed, 0) + 1
    return counts


def _aware(moment: datetime) -> datetime:
    """SQLite hands datetimes back without a zone; everything stored is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


LATEST_SORTS = ("latest", "recent", "new", "newest")


def newest_first(query: PlatformQuery) -> bool:
    """Whether the query's cut keeps the newest posts: a 'Latest' sort, or a creator's posts.

    "@nasa's last 5" means their five newest, whatever the query's sort says: the actor may
    return more than asked (TikTok lists pinned videos, often old hits, on top of the count),
    and ranking those by views before the cut kept old hits instead of the latest five. The
    CLI and digests build user queries without a sort, so the kind decides, not the builder.
    """
    return query.kind == "user" or (query.sort or "").lower() in LATEST_SORTS


def viral_posts(posts: list[Post], query: PlatformQuery, now: datetime) -> list[Post]:
    """Posts passing the filters, most viewed first (newest first for 'Latest' and a creator's
    posts, see `newest_first`), up to the limit."""
    kept = [p for p in posts if passes(p, query, now)]
    if newest_first(query):
        oldest = datetime.min.replace(tzinfo=UTC)
        kept.sort(key=lambda p: _aware(p.posted_at) if p.posted_at else oldest, reverse=True)
    else:
        kept.sort(key=lambda p: p.views if p.views is not None else -1, reverse=True)
    return kept[: max(0, query.limit)]


def longest_running(ads: list[Ad], query: PlatformQuery) -> list[Ad]:
    """The query's limit of ads, longest-running first: a search asks the Ad Library for a pool
    (see `spec.pool_size`), and its top N are the ads advertisers kept paying for longest, not
    the first N the library happened to list."""
    ranked = sorted(ads, key=lambda ad: ad.days_running or 0, reverse=True)
    return ranked[: max(0, query.limit)]
