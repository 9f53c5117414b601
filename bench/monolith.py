"""The baseline for bench/routing.py: one agent holding every tool, as the seed's single agent did.

It reuses the specialists' own tool functions and instructions, so the only difference from the
orchestrator is the shape: one big prompt and tool list on every request instead of routing.
"""

from __future__ import annotations

from typing import Any

from pydantic_ai import Agent

from viraltracker_bot.agent.agents import (
    analysis_agent,
    facebook_agent,
    tiktok_agent,
    twitter_agent,
    youtube_agent,
)
from viraltracker_bot.agent.dependencies import AgentDependencies
from viraltracker_bot.agent.models import new_agent

TOOLS = [
    twitter_agent.search_twitter,
    twitter_agent.scrape_twitter_user,
    twitter_agent.get_top_tweets,
    twitter_agent.analyze_tweet,
    twitter_agent.export_tweets,
    tiktok_agent.search_tiktok,
    tiktok_agent.search_tiktok_hashtag,
    tiktok_agent.scrape_tiktok_user,
    tiktok_agent.analyze_tiktok_video,
    tiktok_agent.analyze_tiktok_batch,
    tiktok_agent.export_tiktok_videos,
    youtube_agent.search_youtube,
    youtube_agent.export_youtube_videos,
    facebook_agent.search_facebook_ads,
    facebook_agent.scrape_facebook_page_ads,
    facebook_agent.export_facebook_ads,
    analysis_agent.analyze_viral_content,
    analysis_agent.compare_platforms,
    analysis_agent.generate_insights,
]

INSTRUCTIONS = "\n\n".join(
    [
        "You are a viral-content research bot with tools for every platform. Pick the tools "
        "the request needs; call independent searches together.",
        twitter_agent.INSTRUCTIONS,
        tiktok_agent.INSTRUCTIONS,
        youtube_agent.INSTRUCTIONS,
        facebook_agent.INSTRUCTIONS,
        analysis_agent.INSTRUCTIONS,
    ]
)


def build_monolith() -> Agent[AgentDependencies, Any]:
    """A fresh monolithic agent (tools are shared with the specialists, not copied)."""
    return new_agent("monolith", INSTRUCTIONS, tools=TOOLS)
