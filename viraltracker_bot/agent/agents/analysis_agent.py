"""The analysis specialist: outliers, platform comparisons and insights from cached results."""

from __future__ import annotations

from typing import Literal

from pydantic_ai import ModelRetry, RunContext

from viraltracker_bot.agent.agents import toolkit
from viraltracker_bot.agent.dependencies import AgentDependencies, CachedAnalysis, CachedResult
from viraltracker_bot.agent.models import new_agent
from viraltracker_bot.analysis import metrics
from viraltracker_bot.analysis.metrics import PlatformComparison, outliers
from viraltracker_bot.exports.formatting import format_number, format_percent
from viraltracker_bot.platforms.models import Platform, Post

INSTRUCTIONS = """\
You are the analysis specialist of a viral-content research bot used by content teams.
You work only from results the platform specialists already fetched in this conversation (listed
below); if there are none, say which search to run first. Use analyze_viral_content for what makes
the outliers stand out, compare_platforms for side-by-side figures, generate_insights for
recommendations a content team can act on this week, rank_results to list the latest results
again re-ranked or cut ("top 3 by likes"), export_results to export what the latest
search found on every platform it covered. Ground every claim in the numbers the tools
return; charts are attached for you."""

analysis_agent = new_agent("analysis", INSTRUCTIONS)

Metric = Literal["views", "likes", "engagement", "engagement_rate"]


def _cached_posts(
    ctx: RunContext[AgentDependencies], platform: Platform | None
) -> dict[Platform, list[Post]]:
    cache = ctx.deps.result_cache
    chosen = cache.current() if platform is None else cache.filled()
    found = {
        p: r.posts for p, r in chosen.items() if r.posts and (platform is None or p == platform)
    }
    if not found:
        where = platform.label if platform else "any platform"
        raise ModelRetry(f"No posts from {where} are cached in this conversation: search first.")
    return found


async def _attach_chart(ctx: RunContext[AgentDependencies], draw) -> str:  # type: ignore[no-untyped-def]
    """Draw a chart into the export dir and attach it; a chart that cannot be drawn is skipped."""
    from viraltracker_bot.exports.charts import NothingToChart

    try:
        path = await draw(ctx.deps.settings.export_dir)
    except NothingToChart as exc:
        return f"(no chart: {exc})"
    ctx.deps.files.append(path)
    return f"Chart attached: {path.name}"


@analysis_agent.tool
async def analyze_viral_content(
    ctx: RunContext[AgentDependencies],
    platform: Platform | None = None,
    metric: Metric = "views",
    threshold: float = 2.0,
    chart: bool = True,
) -> str:
    """Find the outliers in the cached results and the patterns they share (hooks, formats,
    lengths, posting times).

    Args:
        platform: only this platform's cached posts (default: the latest search's).
        metric: what makes a post an outlier: "views", "likes", "engagement" or "engagement_rate".
        threshold: how many trimmed standard deviations above the mean counts as an outlier.
        chart: attach a bar chart of the top posts.
    """
    from viraltracker_bot.exports.charts import top_posts_chart

    by_platform = _cached_posts(ctx, platform)
    posts = [p for group in by_platform.values() for p in group]
    standouts = outliers(posts, threshold=threshold, metric=metric)
    lines = [
        f"Outliers by {metric} (z >= {threshold}) among {len(posts)} cached posts from "
        f"{', '.join(p.label for p in by_platform)}: {len(standouts)}."
    ]
    lines += [
        f"{toolkit.post_line(i, s.post)} (z {s.z:.1f})" for i, s in enumerate(standouts[:8], 1)
    ]
    lines += [f"- {line}" for line in toolkit.batch_patterns(posts)]
    if chart:
        ranked = toolkit.rank_posts(posts)
        lines.append(
            await _attach_chart(
                ctx, lambda d: top_posts_chart(ranked, d, "viral-outliers", "Top posts by views")
            )
        )
    summary = "\n".join(lines)
    ctx.deps.result_cache.put_analysis(
        CachedAnalysis(kind="outliers", summary=summary, platforms=list(by_platform))
    )
    return summary


def _comparison_lines(comparison: PlatformComparison) -> list[str]:
    lines = []
    for platform, s in comparison.platforms.items():
        top = s.top_post
        lead = f"; top: @{top.author} {format_number(top.views)} views" if top else ""
        lines.append(
            f"- {platform.label}: {s.count} posts, median {format_number(s.median_views)} views, "
            f"median engagement {format_percent(s.median_engagement_rate)}, "
            f"total {format_number(s.total_views)} views{lead}"
        )
    reach = comparison.leader("median_views")
    rate = comparison.leader("median_engagement_rate")
    if reach:
        lines.append(f"Highest median reach: {reach.label}.")
    if rate:
        lines.append(f"Highest median engagement rate: {rate.label}.")
    return lines


@analysis_agent.tool
async def compare_platforms(ctx: RunContext[AgentDependencies], chart: bool = True) -> str:
    """Compare the cached platforms side by side: counts, median views and engagement, totals.

    Args:
        chart: attach a comparison chart.
    """
    from viraltracker_bot.exports.charts import comparison_chart

    compared = {p: r for p, r in ctx.deps.result_cache.comparable().items() if r.posts}
    if not compared:
        raise ModelRetry("No posts are cached in this conversation: search first.")
    by_platform = {p: r.posts for p, r in compared.items()}
    comparison = metrics.compare_platforms(by_platform)
    queries = [r.query.describe() for r in compared.values()]
    lines = ["Comparison of " + "; ".join(queries) + ":", *_comparison_lines(comparison)]
    if len(by_platform) < 2:
        lines.append("Only one platform is cached: search another to compare against.")
    elif (mismatch := _unlike(compared)) is not None:
        lines.append(mismatch)
    if chart:
        lines.append(
            await _attach_chart(ctx, lambda d: comparison_chart(comparison, d, "comparison"))
        )
    summary = "\n".join(lines)
    ctx.deps.result_cache.put_analysis(
        CachedAnalysis(kind="comparison", summary=summary, platforms=list(by_platform))
    )
    return summary


def _filters_of(cached: CachedResult, likes: bool) -> str:
    """The filters a result was searched with; with `likes`, its likes minimum too ("any
    likes" when none), since only some compared results had one."""
    query = cached.query
    bits = [f"last {query.hours_back}h" if query.hours_back else "any age"]
    bits.append(f"{query.min_views:,}+ views" if query.min_views else "any views")
    if query.max_followers:
        bits.append(f"authors ≤{query.max_followers:,} followers")
    if likes:
        bits.append(f"{floor:,}+ likes" if (floor := _min_likes(cached)) else "any likes")
    return ", ".join(bits)


def _min_likes(cached: CachedResult) -> int | None:
    """The likes minimum a search applied (only Twitter's min_faves: can), if any."""
    value = cached.query.options.get("min_likes")
    return int(value) if value else None


def _unlike(compared: dict[Platform, CachedResult]) -> str | None:
    """A warning when the compared results were searched with different filters.

    A likes minimum counts: 'over 10k likes' filters tweets only (the other actors have no
    likes filter), so one side holds only its most liked posts and medians mislead."""
    liked = [p for p, r in compared.items() if _min_likes(r)]
    filters = {p: _filters_of(r, bool(liked)) for p, r in compared.items()}
    if len(set(filters.values())) < 2:
        return None
    each = "; ".join(f"{p.label}: {f}" for p, f in filters.items())
    names = " and ".join(p.value for p in compared)
    warning = (
        f"Not like for like: these were searched with different filters ({each}). Ask "
        f'"compare <topic> on {names}" to search them all with the same filters.'
    )
    if liked:
        only = " and ".join(p.label for p in liked)
        warning += (
            f" A likes minimum is no shared filter: only {only} can filter by likes, so "
            'search without one and ask "top 10 by likes" to rank each by likes instead.'
        )
    return warning


@analysis_agent.tool
async def rank_results(
    ctx: RunContext[AgentDependencies], sort: Metric | None = None, limit: int = toolkit.SHOWN
) -> str:
    """List the results shown last again, re-ranked and cut to the top few, with no new search
    ("top 3 by likes", "just the top 5"): a count is no reason to pay for another scraper run.
    Later "#2" means the second post of this list.

    Args:
        sort: rank by "views", "likes", "engagement" or "engagement_rate" (default: the order
            they were listed in last).
        limit: how many to list per platform.
    """
    cache = ctx.deps.result_cache
    shown = cache.shown_last()
    sections = []
    for platform in (p for p in Platform if p in shown):  # in the order replies list them
        cached = shown[platform]
        if cached.posts:
            by = sort or _ranked_by(cached.posts)
            ranked = toolkit.rank_posts(cached.posts, by)
            cache.reorder(platform, ranked)
            title = cached.query.describe()
            sections.append(toolkit.describe_posts(title, ranked, "posts", limit, by=by))
        elif cached.ads:  # ads have no views or likes: longest-running first, as listed
            lines = [f"{cached.query.describe()}: {len(cached.ads)} ads, longest-running first:"]
            lines += [toolkit.ad_line(i, a) for i, a in enumerate(cached.ads[: max(1, limit)], 1)]
            sections.append("\n".join(lines))
    if not sections:
        raise ModelRetry("The latest search found nothing to list: search again first.")
    return "\n\n".join([*sections, "(from this conversation's results, no new search)"])


def _ranked_by(posts: list[Post]) -> str:
    """The metric the posts are already listed by ('just the top 5' after 'top 3 by likes'
    keeps the likes order); views, as searches list them, when none fits."""
    metrics: tuple[str, ...] = ("views", "likes", "engagement", "engagement_rate")
    return next((m for m in metrics if toolkit.rank_posts(posts, m) == posts), "views")


@analysis_agent.tool
async def export_results(
    ctx: RunContext[AgentDependencies],
    format: Literal["csv", "json", "markdown"] = "csv",
    limit: int | None = None,
) -> str:
    """Export everything the latest search found, on every platform it covered: the posts in
    one file with a platform column, Facebook ads in their own file; attached to the reply.

    Args:
        format: "csv", "json" or "markdown".
        limit: export only the top this many per platform (default: all).
    """
    return await toolkit.export_latest(ctx, format, limit)


@analysis_agent.tool
async def generate_insights(ctx: RunContext[AgentDependencies]) -> str:
    """Facts to base recommendations on: what the best posts across the cached results share,
    which platform rewards the topic, and what the longest-running ads say."""
    cache = ctx.deps.result_cache
    current = cache.current()
    by_platform = {p: r.posts for p, r in current.items() if r.posts}
    ads = [a for r in current.values() for a in r.ads]
    if not by_platform and not ads:
        raise ModelRetry("Nothing is cached in this conversation yet: search a platform first.")
    lines = ["Insight facts:"]
    if by_platform:
        posts = [p for group in by_platform.values() for p in group]
        lines += _comparison_lines(metrics.compare_platforms(by_platform))
        lines += [f"- {line}" for line in toolkit.batch_patterns(posts)]
        lines += _recommendations(posts)
    if ads:
        long_runners = sorted(ads, key=lambda a: a.days_running or 0, reverse=True)[:3]
        lines.append("Longest-running ads (proven creatives to learn from):")
        lines += [toolkit.ad_line(i, a) for i, a in enumerate(long_runners, 1)]
    if cache.last_analysis:
        lines.append(f"Earlier analysis ({cache.last_analysis.kind}) is cached too.")
    summary = "\n".join(lines)
    cache.put_analysis(
        CachedAnalysis(kind="insights", summary=summary, platforms=list(by_platform))
    )
    return summary


def _recommendations(posts: list[Post]) -> list[str]:
    """Plain rules of thumb drawn from the standouts, for when no model writes the advice."""
    ranked = toolkit.rank_posts(posts)
    top = ranked[: max(1, len(ranked) // 5)]
    advice = []
    questions = sum("?" in toolkit.hook_of(p.text) for p in top)
    if questions * 2 >= len(top):
        advice.append("Open with a question: most standouts do.")
    numbers = sum(any(c.isdigit() for c in toolkit.hook_of(p.text)) for p in top)
    if numbers * 2 >= len(top):
        advice.append("Lead with a concrete number in the first line.")
    short = [p for p in top if p.duration_s]
    if short:
        median = sorted(p.duration_s or 0 for p in short)[len(short) // 2]
        advice.append(f"Keep videos near {median:.0f}s, the standouts' median length.")
    if top and top[0].author:
        advice.append(f"Study @{top[0].author}: the single best performer in these results.")
    if not advice:
        advice.append("No single pattern dominates: test several hooks and formats.")
    return ["Recommendations:", *(f"- {a}" for a in advice)]
