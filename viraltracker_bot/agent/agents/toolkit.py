"""What every specialist's tools share: fetch and cache results, describe them, export, analyse."""

from __future__ import annotations

import statistics
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic_ai import Agent, ModelRetry, RunContext
from sqlalchemy import select

from viraltracker_bot.agent.agents import explain
from viraltracker_bot.agent.dependencies import AgentDependencies, CachedResult
from viraltracker_bot.agent.untrusted import quoted
from viraltracker_bot.analysis.metrics import (
    author_outlier_score,
    score_posts,
    trimmed_stats,
)
from viraltracker_bot.exports.formatting import (
    ExportFormat,
    format_number,
    format_percent,
    parse_format,
    short_text,
)
from viraltracker_bot.platforms.models import Ad, Platform, PlatformQuery, Post, SearchResult

SHOWN = 10
"""How many posts a tool lists for the model (the export has them all)."""


async def fetch(
    ctx: RunContext[AgentDependencies], query: PlatformQuery, *, soft_min_views: int | None = None
) -> SearchResult:
    """Run a platform query and keep its results, with the query, in the conversation's cache.

    `soft_min_views` (a "viral" wish): keep only posts with that many views, unless that would
    leave fewer than a few, in which case all are kept, ranked by views.
    """
    deps = ctx.deps
    result = await deps.services.run(
        query, budget=deps.budget, progress=deps.progress, writes=deps.writes
    )
    # Cached in the order the tools list them, so "analyse #3" means the same post to everyone
    # (ads come longest-running first from the service, `filters.longest_running`).
    result = result.model_copy(update={"posts": rank_posts(result.posts)})
    if soft_min_views:
        result = prefer_views(result, soft_min_views)
    deps.result_cache.put(query.platform, CachedResult.from_search(result))
    return result


def prefer_views(result: SearchResult, floor: int) -> SearchResult:
    """The posts with `floor`+ views when at least a few have them (the query then says so);
    otherwise the result as it is, already ranked by views."""
    reaching = [p for p in result.posts if (p.views or 0) >= floor]
    if not reaching or len(reaching) < min(explain.FEW, len(result.posts)):
        return result
    counts = dict(result.filtered_out)
    counts["min_views"] = counts.get("min_views", 0) + len(result.posts) - len(reaching)
    return result.model_copy(
        update={
            "posts": reaching,
            "query": result.query.model_copy(update={"min_views": floor}),
            "filtered_out": counts,
        }
    )


async def search(
    ctx: RunContext[AgentDependencies],
    query: PlatformQuery,
    noun: str,
    *,
    viral_floor: int | None = None,
    notes: list[str] | None = None,
) -> str:
    """Fetch, cache and describe; with `viral_floor`, say how the "viral" wish was applied.
    `notes` say how a filter the query's description does not show was applied."""
    result = await fetch(ctx, query, soft_min_views=viral_floor)
    notes = list(notes or [])
    if viral_floor and result.posts:
        if result.query.min_views == viral_floor:
            notes.append(f"viral: ranked by views, keeping those with {viral_floor:,}+ views")
        else:
            reached = sum(1 for p in result.posts if (p.views or 0) >= viral_floor)
            notes.append(
                f"viral: ranked by views; {reached or 'none'} of the {len(result.posts)} {noun} "
                f"reached {viral_floor:,} views, too few to filter on, so all are kept; for a "
                'minimum anyway, ask e.g. "over 10k views"'
            )
    return describe_result(result, noun, notes)


def remember(
    ctx: RunContext[AgentDependencies], query: PlatformQuery, posts: list[Post]
) -> CachedResult:
    """Cache posts read from the database (not a platform run) under their platform."""
    cached = CachedResult(query=query, posts=posts, source="database")
    ctx.deps.result_cache.put(query.platform, cached)
    return cached


def cached_or_retry(ctx: RunContext[AgentDependencies], platform: Platform) -> CachedResult:
    """The platform's cached results; the model is told to search first when there are none."""
    cached = ctx.deps.result_cache.get(platform)
    if cached is None or not cached.count:
        raise ModelRetry(
            f"There are no {platform.label} results in this conversation yet: search first."
        )
    return cached


def post_line(rank: int, post: Post) -> str:
    """One post as a chat line: who, how it did, what it says, where it is."""
    who = f"@{post.author}" if post.author else "unknown author"
    if post.author_followers is not None:
        who += f" ({format_number(post.author_followers)} followers)"
    figures = [f"{format_number(post.views)} views", f"{format_number(post.likes)} likes"]
    if post.engagement_rate is not None:
        figures.append(f"{format_percent(post.engagement_rate)} engagement")
    when = f", {post.posted_at:%Y-%m-%d}" if post.posted_at else ""
    link = f" {post.url}" if post.url else ""
    return f"{rank}. {who}: {', '.join(figures)}{when}. {quoted(post.text, 100)}{link}"


def ad_line(rank: int, ad: Ad) -> str:
    """One ad as a chat line: page, how long it has run, whether it still runs, what it says."""
    days = f"{ad.days_running} days" if ad.days_running is not None else "unknown duration"
    state = {True: "active", False: "inactive", None: "status unknown"}[ad.is_active]
    extras = []
    if ad.spend_lower is not None or ad.spend_upper is not None:
        extras.append(f"spend {_range(ad.spend_lower, ad.spend_upper)} {ad.currency or ''}".strip())
    if ad.impressions_lower is not None or ad.impressions_upper is not None:
        extras.append(f"impressions {_range(ad.impressions_lower, ad.impressions_upper)}")
    more = f" ({'; '.join(extras)})" if extras else ""
    link = f" {ad.url}" if ad.url else ""
    page = ad.page_name or "unknown page"
    return f"{rank}. {page}: {days}, {state}{more}. {quoted(ad.creative_text, 100)}{link}"


def _range(lower: int | None, upper: int | None) -> str:
    if lower is not None and upper is not None and lower != upper:
        return f"{format_number(lower)}-{format_number(upper)}"
    return format_number(upper if upper is not None else lower)


def rank_posts(posts: list[Post], sort: str = "views") -> list[Post]:
    """Posts best first by views, likes, engagement (score) or engagement rate."""
    readers = {
        "views": lambda p: p.views or 0,
        "likes": lambda p: p.likes or 0,
        "engagement": lambda p: p.engagement_score,
        "engagement_rate": lambda p: p.engagement_rate or 0.0,
    }
    return sorted(posts, key=readers.get(sort, readers["views"]), reverse=True)


def describe_posts(
    title: str,
    posts: list[Post],
    noun: str,
    shown: int = SHOWN,
    empty: str | None = None,
    by: str = "views",
) -> str:
    """A heading and the top posts, numbered as the cache holds them (for 'analyse #3'),
    ranked `by` that; `empty` says why there are none and how to widen the search."""
    if not posts:
        return empty or (
            f"{title}: no {noun} matched. Try broader keywords, a longer window or lower minimums."
        )
    if len(posts) == 1:
        lines = [f"{title}: 1 {noun.removesuffix('s')}:"]
    else:
        lines = [f"{title}: {len(posts)} {noun}, top {min(shown, len(posts))} by {by}:"]
    lines += [post_line(i, p) for i, p in enumerate(posts[:shown], 1)]
    return "\n".join(lines)


def describe_result(result: SearchResult, noun: str, notes: list[str] | None = None) -> str:
    """What a search found, and how (sandbox, cache, filters, skipped items); when little or
    nothing is left, which filter removed it and what to ask for instead."""
    notes = list(notes or [])
    if result.ads or noun == "ads":
        body = _describe_ads(result.query.describe(), result.ads)
        if not result.ads:
            body = explain.empty_ads(result.query)
    else:
        empty = None if result.posts else explain.empty_posts(result, noun)
        body = describe_posts(result.query.describe(), rank_posts(result.posts), noun, empty=empty)
        if (thinned := explain.thinned(result, noun)) is not None:
            notes.append(thinned)
    if result.sandbox:
        notes.append("sandbox data: no APIFY_TOKEN is set")
    if result.from_cache:
        notes.append("from the recent-results cache, no new scraper run")
    if result.skipped:
        notes.append(f"{result.skipped} malformed items skipped")
    return body + (f"\n({'; '.join(notes)})" if notes else "")


def _describe_ads(title: str, ads: list[Ad]) -> str:
    if not ads:
        return f"{title}: no ads matched."
    active = sum(1 for a in ads if a.is_active)
    inactive = sum(1 for a in ads if a.is_active is False)
    lines = [
        f"{title}: {len(ads)} ads ({active} active, {inactive} inactive); "
        "longest-running first (ads that keep running are the ones that pay off):"
    ]
    lines += [ad_line(i, a) for i, a in enumerate(ads[:SHOWN], 1)]
    return "\n".join(lines)


async def export_latest(ctx: RunContext[AgentDependencies], fmt: str, limit: int | None) -> str:
    """Everything the latest search turn found (and what a comparison on it showed), across
    its platforms: the posts in one file with a platform column (one sheet to filter and
    pivot), the ads in a file of their own."""
    from viraltracker_bot.exports.files import export_ads, export_posts

    latest = ctx.deps.result_cache.shown_last()
    if not latest:
        raise ModelRetry("There are no results in this conversation yet: search first.")
    try:
        file_format: ExportFormat = parse_format(fmt)
    except ValueError as exc:
        raise ModelRetry(str(exc)) from None
    export_dir = ctx.deps.settings.export_dir
    with_posts = {p: r for p, r in latest.items() if r.posts}
    parts: list[str] = []
    files = []
    if with_posts:
        chosen = {p: rank_posts(r.posts)[: limit or None] for p, r in with_posts.items()}
        posts = rank_posts([post for group in chosen.values() for post in group])
        subject = "-".join(dict.fromkeys(t for r in with_posts.values() for t in r.query.terms))
        name = f"{subject[:40] or 'posts'}-{'-'.join(p.value for p in with_posts)}"
        queries = [r.query for r in with_posts.values()]
        files.append(await export_posts(posts, file_format, export_dir, name, queries=queries))
        counts = ", ".join(f"{len(group)} {p.label}" for p, group in chosen.items())
        parts.append(
            f"{len(posts)} posts ({counts}) in one file with a platform column, ranked by "
            f"views: {files[-1].name}"
        )
    for platform, cached in latest.items():
        if cached.ads:
            ads = cached.ads[:limit] if limit else cached.ads
            name = f"{platform.value}-{'-'.join(cached.query.terms)[:40]}"
            path = await export_ads(ads, file_format, export_dir, name, query=cached.query)
            files.append(path)
            parts.append(f"{len(ads)} {platform.label} ads: {path.name}")
    if not files:
        raise ModelRetry("The latest search found nothing to export: search again first.")
    ctx.deps.files.extend(files)
    searches = "; ".join(r.query.describe() for r in latest.values())
    return (
        f"Exported the latest results as {file_format.upper()} (attached): "
        f"{'; '.join(parts)}. Searches: {searches}."
    )


async def export_cached(
    ctx: RunContext[AgentDependencies], platform: Platform, fmt: str, limit: int | None
) -> str:
    """Write the cached results to a file that is attached to the reply."""
    from viraltracker_bot.exports.files import export_ads, export_posts

    cached = cached_or_retry(ctx, platform)
    try:
        file_format: ExportFormat = parse_format(fmt)
    except ValueError as exc:
        raise ModelRetry(str(exc)) from None
    export_dir = ctx.deps.settings.export_dir
    name = f"{platform.value}-{'-'.join(cached.query.terms)[:40] or cached.query.kind}"
    if cached.ads:
        ads = cached.ads[:limit] if limit else cached.ads
        path = await export_ads(ads, file_format, export_dir, name, query=cached.query)
        count, noun = len(ads), "ads"
    else:  # in the order the tools listed them (a search by views, stored tops by their sort)
        posts = cached.posts[:limit] if limit else cached.posts
        path = await export_posts(posts, file_format, export_dir, name, query=cached.query)
        count, noun = len(posts), "posts"
    ctx.deps.files.append(path)
    return (
        f"Exported {count} {platform.label} {noun} from {cached.query.describe()} "
        f"as {file_format.upper()}: {path.name} (attached)."
    )


EXPORT_DOC = """\
Export the latest {what} (with the query that found them) as a file attached to the reply.

Args:
    format: "csv", "json" or "markdown".
    limit: export only the top this many (default: all).
"""


def add_export_tool(
    agent: Agent[AgentDependencies, Any], platform: Platform, name: str, what: str
) -> Callable[..., Awaitable[str]]:
    """Give a specialist its export tool: the same tool for every platform, under the name the
    model (and the routing benchmark) already calls it by, with `what` naming what it exports."""

    async def export(
        ctx: RunContext[AgentDependencies],
        format: Literal["csv", "json", "markdown"] = "csv",
        limit: int | None = None,
    ) -> str:
        return await export_cached(ctx, platform, format, limit)

    export.__name__ = export.__qualname__ = name
    export.__doc__ = EXPORT_DOC.format(what=what)
    agent.tool(export)
    return export


def pick_post(cached: CachedResult, index: int | None, url: str | None) -> tuple[int, Post]:
    """The post a user points at: by its number in the list, by its link, else the top one."""
    posts = cached.posts
    if url:
        for i, post in enumerate(posts, 1):
            if post.url and (post.url.rstrip("/") == url.rstrip("/") or post.platform_id in url):
                return i, post
        raise ModelRetry(f"No cached post has the link {url}; use its number in the list.")
    number = index or 1
    if not 1 <= number <= len(posts):
        raise ModelRetry(f"Choose a post number between 1 and {len(posts)}.")
    return number, posts[number - 1]


async def explain_post(
    ctx: RunContext[AgentDependencies],
    platform: Platform,
    label: str,
    index: int | None,
    url: str | None,
) -> str:
    """The facts on why one cached post performed, headed by its line (`label` says "Tweet",
    "Video"), measured against its batch and its author's usual views."""
    cached = cached_or_retry(ctx, platform)
    number, post = pick_post(cached, index, url)
    median = await author_median_views(ctx, platform, post.author)
    facts = post_facts(post, cached.posts, median)
    return "\n".join([f"{label} {post_line(number, post)}", *(f"- {fact}" for fact in facts)])


async def author_median_views(
    ctx: RunContext[AgentDependencies], platform: Platform, author: str | None
) -> float | None:
    """The author's median views over the posts stored so far: their normal, to measure against."""
    from viraltracker_bot.storage.tables import PostRow

    if not author:
        return None
    await ctx.deps.services.stored()  # searches still being stored count too
    stmt = (
        select(PostRow.views)
        .where(PostRow.platform == platform.value, PostRow.author == author)
        .where(PostRow.views.is_not(None))
        .limit(500)
    )
    async with ctx.deps.db.sessions() as session:
        views = [v for (v,) in await session.execute(stmt)]
    return float(statistics.median(views)) if len(views) >= 2 else None


def hook_of(text: str) -> str:
    """The opening line a viewer sees first."""
    first = (text or "").strip().split("\n", 1)[0]
    for stop in (". ", "! ", "? "):
        if stop in first[:160]:
            first = first[: first.index(stop) + 1]
            break
    return short_text(first, 140)


def post_facts(post: Post, batch: list[Post], author_median: float | None) -> list[str]:
    """Why a post may have performed, as measurable facts: hook, format, timing, engagement."""
    text = post.text or ""
    hook = hook_of(text)
    facts = [f"Hook: {quoted(hook, 140)}" + _hook_traits(hook)]
    shape = [f"{len(text)} characters", f"{len(text.split())} words"]
    if text.count("\n") >= 2:
        shape.append(f"{text.count(chr(10)) + 1} lines (list or thread style)")
    if post.hashtags:
        shape.append(
            f"{len(post.hashtags)} hashtags ({', '.join('#' + h for h in post.hashtags[:5])})"
        )
    if "http" in text:
        shape.append("contains a link")
    if post.duration_s:
        shape.append(f"{post.duration_s:.0f}s long" + (" (Short)" if post.is_short else ""))
    facts.append("Format: " + ", ".join(shape))
    facts.append("Timing: " + _timing(post))
    facts.append("Engagement: " + _engagement(post, batch, author_median))
    return facts


def _hook_traits(hook: str) -> str:
    traits = []
    if "?" in hook:
        traits.append("asks a question")
    if any(ch.isdigit() for ch in hook):
        traits.append("leads with a number")
    if any(ord(ch) > 0x2500 for ch in hook):
        traits.append("uses emoji")
    words = [w for w in hook.split() if w.isalpha()]
    if words and sum(w.isupper() and len(w) > 1 for w in words) >= max(2, len(words) // 3):
        traits.append("shouts in capitals")
    if hook.lower().startswith(("how ", "why ", "what ", "stop ", "this ", "i ", "you ")):
        traits.append(f"opens with '{hook.split()[0]}'")
    return f" ({', '.join(traits)})" if traits else ""


def _timing(post: Post) -> str:
    if post.posted_at is None:
        return "posting time unknown"
    posted = post.posted_at if post.posted_at.tzinfo else post.posted_at.replace(tzinfo=UTC)
    age_h = max(1.0, (datetime.now(UTC) - posted).total_seconds() / 3600)
    text = f"posted {posted:%A %H:%M} UTC, {age_h:.0f} hours ago"
    if post.views:
        text += f", {format_number(post.views / age_h)} views per hour since"
    return text


def _engagement(post: Post, batch: list[Post], author_median: float | None) -> str:
    bits = [
        f"{format_number(post.views)} views, {format_number(post.likes)} likes, "
        f"{format_number(post.comments)} comments, {format_number(post.shares)} shares/reposts",
        f"engagement rate {format_percent(post.engagement_rate)}",
    ]
    rates = [p.engagement_rate for p in batch if p.engagement_rate is not None]
    if rates and post.engagement_rate is not None:
        batch_rate = statistics.median(rates)
        bits.append(f"batch median rate {format_percent(batch_rate)}")
    scored = {id(s.post): s for s in score_posts(batch, "views")} if len(batch) >= 3 else {}
    if (mine := scored.get(id(post))) is not None:
        bits.append(
            f"views z-score {mine.z:.1f} in this batch ({mine.percentile:.0f}th percentile)"
        )
    lift = author_outlier_score(post.views, author_median)
    if lift is not None:
        bits.append(f"{lift + 1:.1f}x the author's median views ({format_number(author_median)})")
    elif post.views and post.author_followers:
        bits.append(f"{post.views / post.author_followers:.1f} views per follower")
    return "; ".join(bits)


def batch_patterns(posts: list[Post]) -> list[str]:
    """What the outliers of a batch share, against the rest: the patterns worth copying."""
    if not posts:
        return ["No posts to analyse."]
    scored = score_posts(posts, "views")
    if not scored:  # standouts are picked by views: with none to rank by, there are none
        return [f"None of the {len(posts)} posts has a view count to find standouts by."]
    top = [s.post for s in scored if s.z >= 2.0] or [
        s.post for s in scored[: max(1, len(scored) // 5)]
    ]
    rest = [p for p in posts if all(p is not t for t in top)] or posts
    lines = [
        f"{len(top)} standout posts of {len(posts)} (z >= 2 on a 10% trimmed baseline, or top 20%)."
    ]
    lines.append(_compare_figure("median length", top, rest, lambda p: len(p.text or ""), "chars"))
    lines.append(
        _share_line("hooks that ask a question", top, rest, lambda p: "?" in hook_of(p.text))
    )
    lines.append(
        _share_line(
            "hooks that lead with a number",
            top,
            rest,
            lambda p: any(c.isdigit() for c in hook_of(p.text)),
        )
    )
    lines.append(_share_line("posts with hashtags", top, rest, lambda p: bool(p.hashtags)))
    # Only posts with a duration: a tweet in the batch is no 0-second video.
    timed_top = [p for p in top if p.duration_s]
    timed_rest = [p for p in rest if p.duration_s]
    if timed_top and timed_rest:
        lines.append(
            _compare_figure(
                "median duration", timed_top, timed_rest, lambda p: p.duration_s or 0, "s"
            )
        )
    hours = [p.posted_at.hour for p in top if p.posted_at]
    if hours:
        common = statistics.mode(hours)
        lines.append(f"Most standouts were posted around {common:02d}:00 UTC.")
    views = [float(p.views) for p in posts if p.views is not None]
    if views:
        stats = trimmed_stats(views)
        lines.append(
            f"Baseline: trimmed mean {format_number(stats.mean)} views, "
            f"std {format_number(stats.std)} ({stats.kept} of {stats.n} posts kept)."
        )
    return lines


def _compare_figure(label: str, top: list[Post], rest: list[Post], read, unit: str) -> str:  # type: ignore[no-untyped-def]
    a = statistics.median([read(p) for p in top])
    b = statistics.median([read(p) for p in rest])
    return f"{label.capitalize()}: standouts {a:.0f}{unit} vs others {b:.0f}{unit}."


def _share_line(label: str, top: list[Post], rest: list[Post], test) -> str:  # type: ignore[no-untyped-def]
    share_top = sum(1 for p in top if test(p)) / len(top)
    share_rest = sum(1 for p in rest if test(p)) / len(rest)
    return f"{label.capitalize()}: {share_top:.0%} of standouts vs {share_rest:.0%} of others."
