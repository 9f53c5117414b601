"""The Facebook Ad Library specialist: ad searches and page ads, judged by how long they run."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field
from pydantic_ai import RunContext

from viraltracker_bot.agent.agents import toolkit
from viraltracker_bot.agent.dependencies import AgentDependencies
from viraltracker_bot.agent.models import new_agent
from viraltracker_bot.platforms import facebook
from viraltracker_bot.platforms.models import Platform

INSTRUCTIONS = """\
You are the Facebook Ad Library specialist of a viral-content research bot used by marketers.
Find ads with your tools, never invent them. The Ad Library shows no views or clicks: the signal is
how long an ad has run (advertisers keep paying for winners), so report days running, active vs
inactive, and spend or impression ranges where the library gives them (mostly political ads).
Answer in short Markdown: the longest-running ads with page, days, status, text and link."""

facebook_agent = new_agent("facebook", INSTRUCTIONS)

Count = Annotated[int, Field(ge=1, le=1000)]
Status = Literal["all", "active", "inactive"]


@facebook_agent.tool
async def search_facebook_ads(
    ctx: RunContext[AgentDependencies],
    keyword_or_url: str,
    period: Literal["last7d", "last14d", "last30d", "last90d", ""] = "last30d",
    count: Count = 50,
    active_status: Status = "all",
    country: str = "ALL",
) -> str:
    """Search the Facebook Ad Library by keyword, or fetch the ads behind an Ad Library search URL.

    Args:
        keyword_or_url: a keyword ("meal kit") or a facebook.com/ads/library/ URL.
        period: how recent the ads are ("" = any time).
        count: how many of the longest-running ads to return (at least 50 are fetched to rank).
        active_status: "all", "active" or "inactive".
        country: two-letter country code, or "ALL".
    """
    if (shared := ctx.deps.shared_filters) is not None:  # one of several platforms: alike
        count, period = shared.limit, facebook.period_covering(shared.hours_back)
    query = facebook.search_query(keyword_or_url, count, period, active_status, country)
    return await toolkit.search(ctx, query, "ads")


@facebook_agent.tool
async def scrape_facebook_page_ads(
    ctx: RunContext[AgentDependencies],
    page: str,
    active_status: Status = "all",
    country: str = "ALL",
    count: Count = 50,
) -> str:
    """All ads of one Facebook page.

    Args:
        page: the page's URL, numeric id or vanity name.
        active_status: "all", "active" or "inactive".
        country: two-letter country code, or "ALL".
        count: how many ads to fetch.
    """
    query = facebook.page_query(page, active_status, country, count)
    return await toolkit.search(ctx, query, "ads")


export_facebook_ads = toolkit.add_export_tool(
    facebook_agent, Platform.facebook, "export_facebook_ads", "ads"
)
