"""Markdown reports of posts and ads: readable in chat previews, GitHub and note apps."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from urllib.parse import quote

from viraltracker_bot.exports.formatting import format_number, format_percent, short_text
from viraltracker_bot.platforms.models import Ad, PlatformQuery, Post

TEXT_CHARS = 80


def cell(text: str | None, limit: int = TEXT_CHARS) -> str:
    """One table cell: a single line, truncated, with characters that break tables escaped."""
    flat = short_text(text, limit)
    for char in ("\\", "|", "`", "*", "_", "[", "]", "<", ">"):
        flat = flat.replace(char, "\\" + char)
    return flat or " "


def link(url: str | None, label: str = "open") -> str:
    """A Markdown link, only for http(s) URLs, with characters that end a link target encoded."""
    if not url or not url.lower().startswith(("http://", "https://")):
        return "–"
    safe = quote(url.strip(), safe=":/?#@!$&'*+,;=%~-._")
    return f"[{label}]({safe})"


def _header(title: str, query: PlatformQuery | None, exported_at: datetime, count: int, noun: str):
    lines = [f"# {title}: {cell(query.describe(), 200)}" if query else f"# {title}", ""]
    lines.append(f"Exported {exported_at:%Y-%m-%d %H:%M} UTC · {count} {noun}")
    lines.append("")
    return lines


def posts_markdown(
    posts: Sequence[Post],
    query: PlatformQuery | None,
    exported_at: datetime,
    queries: Sequence[PlatformQuery] = (),
) -> str:
    """A title naming the query (or a list of the searches), then one table row per post in
    the given (ranked) order."""
    lines = _header("Top posts", query, exported_at, len(posts), "posts")
    if queries:
        lines += [f"- {cell(q.describe(), 200)}" for q in queries] + [""]
    if not posts:
        lines.append("_No posts matched this query._")
        return "\n".join(lines) + "\n"
    lines.append("| # | Platform | Author | Post | Views | Likes | Engagement | Link |")
    lines.append("|---:|---|---|---|---:|---:|---:|---|")
    for rank, post in enumerate(posts, start=1):
        author = cell(f"@{post.author}" if post.author else post.author_name or "unknown", 40)
        if post.author_followers is not None:
            author += f" ({format_number(post.author_followers)})"
        lines.append(
            f"| {rank} | {post.platform.label} | {author} | {cell(post.text)} "
            f"| {format_number(post.views)} | {format_number(post.likes)} "
            f"| {format_percent(post.engagement_rate)} | {link(post.url)} |"
        )
    return "\n".join(lines) + "\n"


def _range(lower: int | None, upper: int | None, unit: str = "") -> str:
    if lower is None and upper is None:
        return "–"
    if upper is None or upper == lower:
        text = f"{format_number(lower)}+" if upper is None else format_number(lower)
    else:
        text = f"{format_number(lower or 0)}–{format_number(upper)}"
    return f"{text} {unit}".strip()


def ads_markdown(ads: Sequence[Ad], query: PlatformQuery | None, exported_at: datetime) -> str:
    """A title naming the query, then one row per ad: how long it ran is the signal that matters."""
    lines = _header("Facebook ads", query, exported_at, len(ads), "ads")
    if not ads:
        lines.append("_No ads matched this query._")
        return "\n".join(lines) + "\n"
    lines.append("| # | Page | Days running | Active | Spend | Impressions | Creative | Link |")
    lines.append("|---:|---|---:|---|---|---|---|---|")
    for rank, ad in enumerate(ads, start=1):
        active = {True: "yes", False: "no", None: "–"}[ad.is_active]
        days = "–" if ad.days_running is None else str(ad.days_running)
        creative = " · ".join(t for t in (ad.title, ad.creative_text) if t)
        lines.append(
            f"| {rank} | {cell(ad.page_name or ad.page_id or 'unknown', 40)} | {days} | {active} "
            f"| {_range(ad.spend_lower, ad.spend_upper, ad.currency or '')} "
            f"| {_range(ad.impressions_lower, ad.impressions_upper)} "
            f"| {cell(creative)} | {link(ad.url or ad.link_url)} |"
        )
    return "\n".join(lines) + "\n"
