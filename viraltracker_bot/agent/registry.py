"""The agent catalog: one entry per specialist; the orchestrator's routing is generated from it.

Adding a platform is one specialist module in `agents/` and one entry here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic_ai import Agent

from viraltracker_bot.agent.agents.analysis_agent import analysis_agent
from viraltracker_bot.agent.agents.facebook_agent import facebook_agent
from viraltracker_bot.agent.agents.tiktok_agent import tiktok_agent
from viraltracker_bot.agent.agents.twitter_agent import twitter_agent
from viraltracker_bot.agent.agents.youtube_agent import youtube_agent
from viraltracker_bot.agent.dependencies import AgentDependencies
from viraltracker_bot.platforms.models import Platform


@dataclass(frozen=True)
class AgentEntry:
    """A specialist as the orchestrator sees it."""

    name: str
    description: str
    agent: Agent[AgentDependencies, Any]
    progress: str
    platform: Platform | None = None
    words: tuple[str, ...] = ()
    """Words naming the platform in a request ('tweets', 'on x'), for the deterministic router."""
    examples: tuple[str, ...] = ()


CATALOG: tuple[AgentEntry, ...] = (
    AgentEntry(
        name="twitter",
        description="Twitter/X: search recent tweets by keywords, a user's timeline, the best "
        "stored tweets, why a tweet went viral, exports of tweets.",
        agent=twitter_agent,
        progress="Asking the Twitter/X specialist…",
        platform=Platform.twitter,
        words=(
            "twitter",
            "tweets",
            "tweet",
            "tweeted",
            "tweeting",
            "x.com",
            "on x",
            "from x",
            "x/twitter",
        ),
        examples=("find viral bitcoin tweets from the last 48 hours", "analyze tweet #2"),
    ),
    AgentEntry(
        name="tiktok",
        description="TikTok: viral videos by keywords, a hashtag or a creator, why a video worked, "
        "what a batch of videos has in common, exports.",
        agent=tiktok_agent,
        progress="Asking the TikTok specialist…",
        platform=Platform.tiktok,
        words=("tiktok", "tiktoks", "tik tok", "tik-tok", "tiktoker", "tiktokers"),
        examples=("top 10 #productivity tiktoks this week",),
    ),
    AgentEntry(
        name="youtube",
        description="YouTube: viral Shorts (and optionally long videos) by keywords, exports.",
        agent=youtube_agent,
        progress="Asking the YouTube specialist…",
        platform=Platform.youtube,
        words=("youtube", "yt", "youtube shorts", "shorts", "youtuber", "youtubers"),
        examples=("viral sourdough shorts on youtube",),
    ),
    AgentEntry(
        name="facebook",
        description="Facebook Ad Library: ads by keyword or Ad Library URL, a page's ads, with "
        "days running, active status and spend ranges; exports.",
        agent=facebook_agent,
        progress="Asking the Facebook Ad Library specialist…",
        platform=Platform.facebook,
        words=("facebook", "fb", "ad library", "meta ads", "facebook ads"),
        examples=('facebook ads for "meal kit" active in the US',),
    ),
    AgentEntry(
        name="analysis",
        description="Analysis of results already fetched in this conversation: outliers and the "
        "patterns they share, cross-platform comparisons, recommendations; attaches charts; "
        "exports the latest results of several platforms in one file.",
        agent=analysis_agent,
        progress="Analysing the results…",
        examples=(
            "compare bitcoin on twitter and tiktok",
            "what do the viral ones have in common?",
        ),
    ),
)


def entry(name: str) -> AgentEntry:
    """The catalog entry called `name`."""
    for candidate in CATALOG:
        if candidate.name == name:
            return candidate
    raise KeyError(f"No specialist called {name!r}; known: {', '.join(names())}")


def names() -> list[str]:
    return [e.name for e in CATALOG]


def platform_entries() -> list[AgentEntry]:
    """The specialists that search a platform (everything but analysis)."""
    return [e for e in CATALOG if e.platform is not None]


def entry_for(platform: Platform) -> AgentEntry | None:
    return next((e for e in CATALOG if e.platform == platform), None)


def platform_words() -> dict[str, tuple[str, ...]]:
    """Catalog name -> the words that name its platform."""
    return {e.name: e.words for e in CATALOG if e.words}


def capabilities_text() -> str:
    """What the bot can do, for `help` and for empty messages."""
    lines = ["I find and analyse viral content. Ask me things like:"]
    for e in CATALOG:
        lines.append(f"• *{e.name}*: {e.description}")
        lines += [f"    e.g. “{example}”" for example in e.examples]
    lines.append(
        "Follow-ups use the results of this conversation: “export those as CSV”, "
        "“now compare with TikTok”, “why did #3 do so well?”."
    )
    lines.append(
        "Digests post a search on a schedule: “every weekday at 9am post the top new TikToks "
        "about #productivity here”, “list digests”, “pause digest 2”, “remove digest 2”."
    )
    return "\n".join(lines)
