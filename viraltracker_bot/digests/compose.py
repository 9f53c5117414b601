"""Turning a schedule's search results into the digest people read: new, ranked, with files."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel

from viraltracker_bot.conversation import Reply
from viraltracker_bot.digests.schedule import DigestQuery, local_label
from viraltracker_bot.exports import (
    NothingToChart,
    export_ads,
    export_posts,
    format_number,
    format_percent,
    short_text,
    top_posts_chart,
)
from viraltracker_bot.platforms.models import Ad, PlatformQuery, Post, SearchResult
from viraltracker_bot.storage.tables import ScheduleRow


class SearchService(Protocol):
    """What a digest needs from the platforms: `PlatformServices` fits this."""

    async def run(self, query: PlatformQuery) -> SearchResult: ...


class Digest(BaseModel):
    """A composed digest: the Reply to post and the keys of what it shows (never shown again)."""

    reply: Reply
    posted_keys: list[str]
    new_posts: int
    sandbox: bool = False


def post_key(post: Post) -> str:
    return f"{post.platform.value}:{post.platform_id}"


def ad_key(ad: Ad) -> str:
    return f"ad:{ad.ad_id}"


def _rank_value(post: Post, sort: str) -> float:
    if sort == "likes":
        return float(post.likes or 0)
    if sort == "engagement":
        return post.engagement_score
    if sort == "engagement_rate":
        return post.engagement_rate or 0.0
    return float(post.views or 0)


def _passes(post: Post, query: DigestQuery) -> bool:
    """The saved filters, applied again here: a cached result may have been fetched for another."""
    if query.min_views and (post.views is None or post.views < query.min_views):
        return False
    if query.max_followers and (post.author_followers or 0) > query.max_followers:
        return False
    return True


def pick_new(
    results: list[SearchResult], query: DigestQuery, seen: set[str]
) -> tuple[list[Post], list[Ad]]:
    """What none of this schedule's earlier digests showed, best first, at most `limit`."""
    posts: dict[str, Post] = {}
    ads: dict[str, Ad] = {}
    for result in results:
        for post in result.posts:
            if post_key(post) not in seen and _passes(post, query):
                posts.setdefault(post_key(post), post)
        for ad in result.ads:
            if ad_key(ad) not in seen:
                ads.setdefault(ad_key(ad), ad)
    ranked = sorted(posts.values(), key=lambda p: _rank_value(p, query.sort), reverse=True)
    ranked_ads = sorted(
        ads.values(), key=lambda a: (a.days_running or 0, a.impressions_upper or 0), reverse=True
    )
    return ranked[: query.limit], ranked_ads[: query.limit]


async def compose_digest(
    row: ScheduleRow,
    services: SearchService,
    *,
    next_run: datetime,
    export_dir: Path,
) -> Digest:
    """Run the saved query on every platform and write the digest (raises on a failed search)."""
    query = DigestQuery.model_validate(row.query)
    results = [await services.run(pq) for pq in query.platform_queries()]
    posts, ads = pick_new(results, query, set(row.seen_post_ids))
    files = await _attachments(row, query, posts, ads, export_dir)
    sandbox = any(r.sandbox for r in results)
    text = _text(row, query, posts, ads, next_run=next_run, sandbox=sandbox, files=files)
    keys = [post_key(p) for p in posts] + [ad_key(a) for a in ads]
    return Digest(
        reply=Reply(text=text, files=files),
        posted_keys=keys,
        new_posts=len(keys),
        sandbox=sandbox,
    )


async def _attachments(
    row: ScheduleRow, query: DigestQuery, posts: list[Post], ads: list[Ad], export_dir: Path
) -> list[Path]:
    name = f"digest_{row.id}"
    single = query.platform_queries()[0] if len(query.platforms) == 1 else None
    files: list[Path] = []
    if posts:
        files.append(await export_posts(posts, "csv", export_dir, name, single))
        try:
            title = f"Digest #{row.id}: {short_text(query.describe(), 60)}"
            files.append(await top_posts_chart(posts, export_dir, name, title=title))
        except NothingToChart:
            pass  # e.g. tweets without view counts: the CSV still carries them
    if ads:
        files.append(await export_ads(ads, "csv", export_dir, f"{name}_ads", single))
    return files


def _text(
    row: ScheduleRow,
    query: DigestQuery,
    posts: list[Post],
    ads: list[Ad],
    *,
    next_run: datetime,
    sandbox: bool,
    files: list[Path],
) -> str:
    lines = [f"**Digest #{row.id}: {query.describe()}**", _headline(row, len(posts) + len(ads))]
    lines += [_post_line(i, p) for i, p in enumerate(posts, 1)]
    lines += [_ad_line(i, a) for i, a in enumerate(ads, len(posts) + 1)]
    footer = f"Next digest: {local_label(next_run, row.timezone)}."
    if files:
        footer = ("CSV and chart attached. " if len(files) > 1 else "CSV attached. ") + footer
    lines.append(footer)
    if sandbox:
        lines.append("_Sandbox data: no APIFY_TOKEN is set, so these posts are examples._")
    return "\n".join(lines)


def _headline(row: ScheduleRow, count: int) -> str:
    if row.last_run_at is None:
        return f"First digest: {count} {'item' if count == 1 else 'items'}."
    since = f"since the last digest ({local_label(row.last_run_at, row.timezone)})"
    if count:
        return f"{count} new {since}:"
    return f"Nothing new {since}: every match was in an earlier digest or missed the filters."


def _post_line(rank: int, post: Post) -> str:
    who = f"@{post.author}" if post.author else (post.author_name or "unknown")
    stats = [f"{format_number(post.views)} views"]
    if post.engagement_rate is not None:
        stats.append(f"{format_percent(post.engagement_rate)} engagement")
    line = f"{rank}. {post.platform.label} · {who} · {' · '.join(stats)}"
    if post.text:
        line += f" — {short_text(post.text, 100)}"
    return line + (f" {post.url}" if post.url else "")


def _ad_line(rank: int, ad: Ad) -> str:
    days = f"running {ad.days_running} days" if ad.days_running is not None else "dates unknown"
    line = f"{rank}. {ad.page_name or 'Unknown page'} · {days}"
    if ad.creative_text:
        line += f" — {short_text(ad.creative_text, 100)}"
    return line + (f" {ad.url}" if ad.url else "")


def failure_text(row: ScheduleRow, message: str, retry_at: datetime) -> str:
    """The one message a failing digest posts: what broke, and that it will retry quietly."""
    query = DigestQuery.model_validate(row.query)
    return (
        f"Digest #{row.id} ({query.describe()}) could not run: {message} "
        f"I'll retry at {local_label(retry_at, row.timezone)} and keep retrying quietly "
        "until it works."
    )
