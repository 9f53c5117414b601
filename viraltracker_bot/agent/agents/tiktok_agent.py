"""The TikTok specialist: keyword, hashtag and creator searches, video and batch analysis."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from pydantic_ai import RunContext

from viraltracker_bot.agent.agents import toolkit
from viraltracker_bot.agent.dependencies import AgentDependencies
from viraltracker_bot.agent.models import new_agent
from viraltracker_bot.platforms import tiktok
from viraltracker_bot.platforms.models import Platform, PlatformQuery

INSTRUCTIONS = """\
You are the TikTok specialist of a viral-content research bot used by content teams.
Find videos with your tools, never invent them. By default searches look for viral videos
(100K+ views) by small creators (at most 50K followers) from the last 10 days: say so
when few match, and widen (min_views=0, max_followers=0) if the user wants more.
Answer in short Markdown: the best videos with numbers and links, then what stands out.
To explain a video call analyze_tiktok_video; for what a whole batch has in common call
analyze_tiktok_batch, and explain from the facts it returns."""

tiktok_agent = new_agent("tiktok", INSTRUCTIONS)

Count = Annotated[int, Field(ge=1, le=1000)]
Days = Annotated[int, Field(ge=1, le=365)]


def _filters(
    ctx: RunContext[AgentDependencies],
    count: int,
    min_views: int | None,
    max_days: int,
    max_followers: int | None,
) -> tuple[int, int | None, int, int | None]:
    """(count, min views, days, max followers): a multi-platform request's shared filters, or
    this search's own, where None means the configured viral defaults and 0 no bound at all."""
    if (shared := ctx.deps.shared_filters) is not None:
        return shared.limit, shared.min_views, shared.days, shared.max_followers
    settings = ctx.deps.settings
    views = settings.viral_min_views if min_views is None else (min_views or None)
    followers = settings.micro_max_followers if max_followers is None else (max_followers or None)
    return count, views, max_days, followers


def _windowed(ctx: RunContext[AgentDependencies], query: PlatformQuery) -> PlatformQuery:
    """The shared window to the hour (TikTok's own filter counts whole days)."""
    if (shared := ctx.deps.shared_filters) is None:
        return query
    return query.model_copy(update={"hours_back": shared.hours_back})


@tiktok_agent.tool
async def search_tiktok(
    ctx: RunContext[AgentDependencies],
    keywords: str,
    count: Count = 50,
    min_views: int | None = None,
    max_days: Days = 10,
    max_followers: int | None = None,
) -> str:
    """Search TikTok videos matching ANY of the keywords, keeping the viral ones.

    Args:
        keywords: comma-separated alternatives, e.g. "morning routine, productivity".
        count: how many of the best videos to return (at least 50 are fetched to rank).
        min_views: keep videos with at least this many views (default 100K; 0 = no minimum).
        max_days: only videos from the last this many days.
        max_followers: keep creators with at most this many followers (default 50K; 0 = any).
    """
    count, views, days, followers = _filters(ctx, count, min_views, max_days, max_followers)
    query = _windowed(ctx, tiktok.search_query(keywords, count, views, days, followers))
    return await toolkit.search(ctx, query, "videos")


@tiktok_agent.tool
async def search_tiktok_hashtag(
    ctx: RunContext[AgentDependencies],
    hashtag: str,
    count: Count = 50,
    min_views: int | None = None,
    max_days: Days = 10,
    max_followers: int | None = None,
) -> str:
    """Search the videos under a hashtag, keeping the viral ones.

    Args:
        hashtag: the hashtag, with or without "#" (comma-separate several).
        count: how many of the best videos to return (at least 50 are fetched to rank).
        min_views: keep videos with at least this many views (default 100K; 0 = no minimum).
        max_days: only videos from the last this many days.
        max_followers: keep creators with at most this many followers (default 50K; 0 = any).
    """
    count, views, days, followers = _filters(ctx, count, min_views, max_days, max_followers)
    query = _windowed(ctx, tiktok.hashtag_query(hashtag, count, views, days, followers))
    return await toolkit.search(ctx, query, "videos")


@tiktok_agent.tool
async def scrape_tiktok_user(
    ctx: RunContext[AgentDependencies], username: str, count: Count = 50
) -> str:
    """Fetch one creator's latest videos (no viral filter: their whole recent output).

    Args:
        username: the creator, with or without "@".
        count: how many videos to fetch.
    """
    query = tiktok.user_query(username, count)
    return await toolkit.search(ctx, query, "videos")


@tiktok_agent.tool
async def analyze_tiktok_video(
    ctx: RunContext[AgentDependencies], index: int | None = None, url: str | None = None
) -> str:
    """Facts on why one video from the latest results performed: hook, format, timing, engagement.

    Args:
        index: the video's number in the latest list (1 = the top one).
        url: or the video's link.
    """
    return await toolkit.explain_post(ctx, Platform.tiktok, "Video", index, url)


@tiktok_agent.tool
async def analyze_tiktok_batch(ctx: RunContext[AgentDependencies]) -> str:
    """What the standout videos of the latest results share: hooks, lengths, hashtags, timing."""
    cached = toolkit.cached_or_retry(ctx, Platform.tiktok)
    lines = toolkit.batch_patterns(cached.posts)
    return "\n".join([f"Patterns in {cached.describe()}:", *(f"- {line}" for line in lines)])


export_tiktok_videos = toolkit.add_export_tool(
    tiktok_agent, Platform.tiktok, "export_tiktok_videos", "TikTok videos"
)
