"""The Twitter/X specialist: searches tweets, reads timelines and stored tops, explains, exports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from pydantic import Field
from pydantic_ai import RunContext

from viraltracker_bot.agent.agents import toolkit
from viraltracker_bot.agent.dependencies import AgentDependencies
from viraltracker_bot.agent.models import new_agent
from viraltracker_bot.platforms import twitter
from viraltracker_bot.platforms.models import Platform, PlatformQuery

INSTRUCTIONS = """\
You are the Twitter/X specialist of a viral-content research bot used by content teams.
Find tweets with your tools, never invent them. Keywords are OR-ed: pass alternatives
comma-separated.
Searches cover the last 24 hours unless the user asks otherwise; "this week" is 168 hours.
When the user wants viral or trending tweets, pass viral=true: tweets are ranked by views and
kept to those with 100K+ views when enough reach it; say how it was applied.
Answer in short Markdown: the best tweets with their numbers and links, then one or two lines on
what stands out. When asked why a tweet worked, call analyze_tweet and explain from its facts:
hook, format, timing and engagement against the author's usual. Offer an export when useful."""

twitter_agent = new_agent("twitter", INSTRUCTIONS)

Hours = Annotated[int, Field(ge=1, le=24 * 90)]
Limit = Annotated[int, Field(ge=1, le=5000)]


@twitter_agent.tool
async def search_twitter(
    ctx: RunContext[AgentDependencies],
    keywords: str,
    hours_back: Hours = 24,
    limit: Limit = 50,
    min_views: int | None = None,
    sort: Literal["Top", "Latest"] = "Top",
    viral: bool = False,
    min_likes: int | None = None,
) -> str:
    """Search recent tweets matching ANY of the keywords.

    Args:
        keywords: comma-separated alternatives, e.g. "bitcoin, btc" (OR logic).
        hours_back: how far back to look, in hours (24 = the last day).
        limit: how many tweets to fetch (up to 5000; the scraper wants at least 50).
        min_views: keep only tweets with at least this many views.
        sort: "Top" (most engaging) or "Latest".
        viral: the user asked for viral/trending tweets: rank by views, and keep those with
            the viral minimum (100K views) unless too few reach it.
        min_likes: keep only tweets with at least this many likes ("over 10k likes").
    """
    max_followers, floor = None, None
    if (shared := ctx.deps.shared_filters) is not None:  # one of several platforms: alike
        hours_back, limit, min_views = shared.hours_back, shared.limit, shared.min_views
        max_followers = shared.max_followers
    elif viral and min_views is None:
        floor, sort = ctx.deps.settings.viral_min_views, "Top"
    query = twitter.search_query(
        keywords,
        hours_back=hours_back,
        limit=limit,
        min_views=min_views,
        sort=sort,
        max_followers=max_followers,
        min_likes=min_likes,
    )
    # Twitter filters by likes at its end (min_faves:); the query's description does not say so
    notes = [f"only tweets with {min_likes:,}+ likes"] if min_likes else []
    return await toolkit.search(ctx, query, "tweets", viral_floor=floor, notes=notes)


@twitter_agent.tool
async def scrape_twitter_user(
    ctx: RunContext[AgentDependencies],
    handle: str,
    hours_back: Hours = 24 * 7,
    limit: Limit = 50,
) -> str:
    """Fetch one account's recent tweets (its timeline, without retweets).

    Args:
        handle: the account, with or without "@".
        hours_back: how far back to look, in hours (168 = a week).
        limit: how many tweets to fetch.
    """
    query = twitter.user_query(handle, hours_back=hours_back, limit=limit)
    return await toolkit.search(ctx, query, "tweets")


@twitter_agent.tool
async def get_top_tweets(
    ctx: RunContext[AgentDependencies],
    hours_back: Hours = 24,
    sort: Literal["views", "likes", "engagement"] = "views",
    min_views: int = 0,
    text_only: bool = False,
    keyword: str | None = None,
    limit: Annotated[int, Field(ge=1, le=100)] = 10,
) -> str:
    """The best tweets already stored by earlier searches (no new scraping).

    Args:
        hours_back: only tweets posted in the last this many hours.
        sort: rank by "views", "likes" or "engagement" (likes + 0.8 x retweets + 0.5 x replies).
        min_views: keep only tweets with at least this many views.
        text_only: keep only tweets without links or media.
        keyword: keep only tweets containing this word.
        limit: how many to list.
    """
    from viraltracker_bot.storage.stats import TopPostsFilter, top_posts

    wanted = TopPostsFilter(
        platform=Platform.twitter,
        keywords=[keyword] if keyword else [],
        since=datetime.now(UTC) - timedelta(hours=hours_back),
        min_views=min_views or None,
        text_only=text_only,
        sort=sort,
        limit=limit,
    )
    await ctx.deps.services.stored()  # searches still being stored count too
    async with ctx.deps.db.sessions() as session:
        posts = await top_posts(session, wanted)
    query = PlatformQuery(
        platform=Platform.twitter,
        terms=[keyword] if keyword else [],
        limit=limit,
        hours_back=hours_back,
        min_views=min_views or None,
        sort=sort,
        options={"source": "database", "text_only": text_only},
    )
    toolkit.remember(ctx, query, posts)
    title = f"Top stored tweets of the last {hours_back}h by {sort}"
    narrowed = [f'containing "{keyword}"'] if keyword else []
    narrowed += [f"with {min_views:,}+ views"] if min_views else []
    narrowed += ["without links or media"] if text_only else []
    empty = (
        f"{title}: none stored{' ' + ', '.join(narrowed) if narrowed else ''}. Only tweets "
        f'earlier searches found are stored: search first ("find {keyword or "bitcoin"} '
        f'tweets"){", or drop a filter" if narrowed else ""}, or ask for a longer window '
        '("last 7 days").'
    )
    return toolkit.describe_posts(title, posts, "tweets", empty=empty, by=sort)


@twitter_agent.tool
async def analyze_tweet(
    ctx: RunContext[AgentDependencies], index: int | None = None, url: str | None = None
) -> str:
    """Facts on why a tweet from the latest results performed: hook, format, timing, engagement.

    Args:
        index: the tweet's number in the latest list (1 = the top one).
        url: or the tweet's link.
    """
    return await toolkit.explain_post(ctx, Platform.twitter, "Tweet", index, url)


export_tweets = toolkit.add_export_tool(twitter_agent, Platform.twitter, "export_tweets", "tweets")
