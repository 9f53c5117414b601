"""Export posts and ads as CSV, JSON or Markdown files the adapters attach to a reply.

Empty lists still produce a file (CSV with only the header row, JSON with "count": 0, Markdown
saying nothing matched): the user asked for an export and gets one that says so, and CSV
consumers keep a stable schema.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from viraltracker_bot.exports.formatting import ExportFormat
from viraltracker_bot.exports.markdown import ads_markdown, posts_markdown
from viraltracker_bot.exports.paths import write_export
from viraltracker_bot.platforms.models import Ad, PlatformQuery, Post

POST_COLUMNS = (
    "rank", "platform", "author", "followers", "text", "views", "likes", "comments", "shares",
    "engagement_rate", "posted_at", "url",
)  # fmt: skip
AD_COLUMNS = (
    "rank", "page", "page_id", "ad_id", "active", "days_running", "start_date", "end_date",
    "platforms", "currency", "spend_lower", "spend_upper", "impressions_lower",
    "impressions_upper", "title", "creative_text", "cta", "link_url", "url",
)  # fmt: skip
EXTENSIONS: dict[ExportFormat, str] = {"csv": "csv", "json": "json", "markdown": "md"}
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """Stop spreadsheets from running scraped text as a formula (CSV injection)."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def _iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment else ""


def _post_row(rank: int, post: Post) -> list[Any]:
    rate = post.engagement_rate
    return [
        rank, post.platform.value, post.author or post.author_name or "", post.author_followers,
        post.text, post.views, post.likes, post.comments, post.shares,
        "" if rate is None else round(rate, 6), _iso(post.posted_at), post.url or "",
    ]  # fmt: skip


def _ad_row(rank: int, ad: Ad) -> list[Any]:
    active = "" if ad.is_active is None else str(ad.is_active).lower()
    return [
        rank, ad.page_name or "", ad.page_id or "", ad.ad_id, active, ad.days_running,
        _iso(ad.start_date), _iso(ad.end_date), ";".join(ad.publisher_platforms),
        ad.currency or "", ad.spend_lower, ad.spend_upper, ad.impressions_lower,
        ad.impressions_upper, ad.title or "", ad.creative_text, ad.cta_text or "",
        ad.link_url or "", ad.url or "",
    ]  # fmt: skip


def _csv_bytes(columns: Sequence[str], rows: list[list[Any]]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if v is None else neutralise(v) for v in row])
    # The BOM lets Excel read emoji and accents in post text as UTF-8.
    return buffer.getvalue().encode("utf-8-sig")


def _described(query: PlatformQuery) -> dict[str, Any]:
    return query.model_dump(mode="json") | {"description": query.describe()}


def _json_bytes(
    kind: str,
    items: Sequence[Post] | Sequence[Ad],
    query: PlatformQuery | None,
    exported_at: datetime,
    queries: Sequence[PlatformQuery] = (),
) -> bytes:
    document: dict[str, Any] = {
        "kind": kind,
        "query": _described(query) if query is not None else None,
        "exported_at": exported_at.isoformat(),
        "count": len(items),
        "items": [item.model_dump(mode="json") for item in items],
    }
    if queries:  # one file for several platforms' searches: each one's parameters
        document["queries"] = [_described(q) for q in queries]
    return json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")


def _render(
    fmt: ExportFormat,
    kind: str,
    items: Sequence[Any],
    query: PlatformQuery | None,
    columns: Sequence[str],
    row: Callable[[int, Any], list[Any]],
    markdown: Callable[..., str],
    queries: Sequence[PlatformQuery] = (),
) -> bytes:
    exported_at = datetime.now(UTC)
    if fmt == "csv":
        return _csv_bytes(columns, [row(rank, item) for rank, item in enumerate(items, start=1)])
    if fmt == "json":
        return _json_bytes(kind, items, query, exported_at, queries)
    if fmt == "markdown":
        extra = {"queries": queries} if queries else {}
        return markdown(items, query, exported_at, **extra).encode("utf-8")
    raise ValueError(f"Unknown export format {fmt!r}: use csv, json or markdown.")


async def export_posts(
    posts: list[Post],
    fmt: ExportFormat,
    export_dir: Path,
    name: str,
    query: PlatformQuery | None = None,
    *,
    queries: Sequence[PlatformQuery] = (),
) -> Path:
    """Write posts (ranked by the caller) to a new file in export_dir; returns its path.

    `queries` instead of `query`: the posts of several searches (one per platform) in one file,
    told apart by its platform column, with every search's parameters in the JSON/Markdown.
    """
    data = await asyncio.to_thread(
        _render, fmt, "posts", posts, query, POST_COLUMNS, _post_row, posts_markdown, queries
    )
    return await write_export(export_dir, name, EXTENSIONS[fmt], data)


async def export_ads(
    ads: list[Ad],
    fmt: ExportFormat,
    export_dir: Path,
    name: str,
    query: PlatformQuery | None = None,
) -> Path:
    """Write Facebook Ad Library entries to a new file in export_dir and return its path."""
    data = await asyncio.to_thread(
        _render, fmt, "ads", ads, query, AD_COLUMNS, _ad_row, ads_markdown
    )
    return await write_export(export_dir, name, EXTENSIONS[fmt], data)
