"""The YouTube specialist: Shorts-first keyword searches, and exports of what they found."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from pydantic_ai import RunContext

from viraltracker_bot.agent.agents import toolkit
from viraltracker_bot.agent.dependencies import AgentDependencies
from viraltracker_bot.agent.models import new_agent
from viraltracker_bot.platforms import youtube
from viraltracker_bot.platforms.models import Platform

INSTRUCTIONS = """\
You are the YouTube specialist of a viral-content research bot used by content teams.
Find videos with your tools, never invent them. Searches return Shorts by default (100 Shorts,
no long videos) with 100K+ views from channels of at most 50K subscribers: say so when few match,
and widen (min_views=0, max_subscribers=0) if the user wants more.
Answer in short Markdown: the best videos with numbers and links, then what stands out."""

youtube_agent = new_agent("youtube", INSTRUCTIONS)


@youtube_agent.tool
async def search_youtube(
    ctx: RunContext[AgentDependencies],
    keywords: str,
    max_shorts: Annotated[int, Field(ge=0, le=1000)] = 100,
    max_videos: Annotated[int, Field(ge=0, le=1000)] = 0,
    days_back: Annotated[int, Field(ge=1, le=365)] | None = None,
    min_views: int | None = None,
    max_subscribers: int | None = None,
) -> str:
    """Search YouTube for ANY of the comma-separated keywords: Shorts by default.

    Args:
        keywords: comma-separated alternatives, e.g. "sourdough, bread baking".
        max_shorts: how many Shorts are wanted (default 100).
        max_videos: how many regular videos are wanted (default 0). The best max_shorts +
            max_videos are returned, ranked from at least 50 fetched.
        days_back: only videos uploaded in the last this many days.
        min_views: keep videos with at least this many views (default 100K; 0 = no minimum).
        max_subscribers: keep channels with at most this many subscribers (default 50K; 0 = any).
    """
    settings = ctx.deps.settings
    views = settings.viral_min_views if min_views is None else (min_views or None)
    subs = settings.micro_max_followers if max_subscribers is None else (max_subscribers or None)
    if max_shorts + max_videos == 0:
        max_shorts = 100
    shared = ctx.deps.shared_filters
    if shared is not None:  # one of several platforms: the same filters as the others
        views, subs, days_back = shared.min_views, shared.max_followers, shared.days
        max_shorts, max_videos = (shared.limit, 0) if max_shorts else (0, shared.limit)
    query = youtube.search_query(keywords, max_shorts, max_videos, days_back, views, subs)
    if shared is not None:  # the window to the hour, not in whole days
        query = query.model_copy(update={"hours_back": shared.hours_back})
    return await toolkit.search(ctx, query, "videos")


export_youtube_videos = toolkit.add_export_tool(
    youtube_agent, Platform.youtube, "export_youtube_videos", "YouTube videos"
)
