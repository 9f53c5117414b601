"""Why a search came back empty or thin, in words a user can act on: which filter, what to ask."""

from __future__ import annotations

from viraltracker_bot.exports.formatting import format_number
from viraltracker_bot.platforms.models import Platform, PlatformQuery, SearchResult

FEW = 5
"""Fewer posts than this after filtering: the reply says what to ask for to see more."""


def _longer_window(hours_back: int | None) -> str:
    if not hours_back or hours_back < 168:
        return "last 7 days"
    return "last 30 days" if hours_back < 720 else "last 90 days"


def _round_down(value: float) -> int:
    """A round number at or below `value` (12,345 -> 10,000), for a suggestion to type."""
    if value < 10:
        return 1
    magnitude = 10 ** (len(str(int(value))) - 1)
    return int(value // magnitude * magnitude)


def _reasons(query: PlatformQuery, counts: dict[str, int]) -> list[str]:
    reasons = []
    if n := counts.get("min_views"):
        reasons.append(f"{n} had fewer than {query.min_views:,} views")
    if n := counts.get("max_followers"):
        who = "channels" if query.platform == Platform.youtube else "authors"
        reasons.append(f"{n} came from {who} with more than {query.max_followers:,} followers")
    if n := counts.get("hours_back"):
        reasons.append(f"{n} {'was' if n == 1 else 'were'} older than {query.hours_back}h")
    return reasons


def widening(query: PlatformQuery, counts: dict[str, int]) -> list[str]:
    """What to ask for, phrased the way the bot reads requests, to loosen each filter that bit."""
    asks = []
    if counts.get("min_views") and query.min_views:
        lower = format_number(_round_down(query.min_views / 10))
        asks.append(f'a lower view minimum ("over {lower.lower()} views" or "any views")')
    if counts.get("max_followers") and query.max_followers:
        bigger = format_number(_round_down(query.max_followers * 20))
        asks.append(f'bigger accounts too ("under {bigger.lower()} followers" or "any size")')
    if counts.get("hours_back"):
        asks.append(f'a longer window ("{_longer_window(query.hours_back)}")')
    return asks


def _sentence(items: list[str], joiner: str = "and") -> str:
    if len(items) < 2:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {joiner} " + items[-1]


def _broader(query: PlatformQuery) -> str:
    """What else to search for, by the kind of search that found nothing."""
    if query.kind == "user":
        return "Check the handle's spelling (and that the account is public)"
    if query.kind == "hashtag":
        return 'Try a related or broader hashtag, or keywords instead ("bitcoin, btc")'
    return 'Try other or broader keywords (alternatives are OR-ed: "bitcoin, btc")'


def empty_posts(result: SearchResult, noun: str) -> str:
    """A search with no posts left: what the platform returned and which filter removed it."""
    query = result.query
    title = query.describe()
    counts = result.filtered_out
    if result.scraped == 0:
        window = f" in the last {query.hours_back}h" if query.hours_back else ""
        longer = f', or a longer window ("{_longer_window(query.hours_back)}")' if window else ""
        return f"{title}: the search itself found no {noun}{window}. {_broader(query)}{longer}."
    if counts:
        reasons = _reasons(query, counts)
        asks = widening(query, counts)
        return (
            f"{title}: {result.scraped} {noun} found, but none passed the filters: "
            f"{_sentence(reasons)}. To see some, ask for {_sentence(asks, 'or')}."
        )
    unreadable = f" ({result.skipped} malformed)" if result.skipped else ""
    return (
        f"{title}: the {result.scraped} items returned could not be read as {noun}{unreadable}. "
        "Try again, or other keywords."
    )


def thinned(result: SearchResult, noun: str) -> str | None:
    """When filters removed posts: how many and why; with fewer left than asked for (and few),
    what to ask to see more."""
    counts = result.filtered_out
    removed = sum(counts.values())
    if not removed or not result.posts:
        return None
    # what the platform returned, not only what was kept: the kept are capped at the limit
    found = max(len(result.posts) + removed, result.scraped - result.skipped)
    note = (
        f"the filters removed {removed} of the {found} {noun} found: "
        f"{_sentence(_reasons(result.query, counts))}"
    )
    # a search ranks a pool and cuts it to the limit: 3 shown of "top 3" are not too few
    if len(result.posts) < min(FEW, result.query.limit):
        note += f"; for more, ask for {_sentence(widening(result.query, counts), 'or')}"
    return note


def empty_ads(query: PlatformQuery) -> str:
    """An Ad Library search with no ads: the settings that narrowed it and what to loosen."""
    options = query.options
    narrowing = []
    days = "".join(ch for ch in str(options.get("period") or "") if ch.isdigit())
    if days and int(days) < 90:
        narrowing.append(f'ads of the last {days} days (ask for the "last 90 days")')
    if str(options.get("active_status") or "all") != "all":
        narrowing.append(f"only {options['active_status']} ads (ask for all ads)")
    if str(options.get("country") or "ALL").upper() != "ALL":
        narrowing.append(f"only {options['country']} (ask for all countries)")
    tried = f" It looked at {_sentence(narrowing)}." if narrowing else ""
    broader = (
        "Check the page's link or id"
        if query.kind == "page_ads"
        else "Try a broader keyword, or the advertiser's page name"
    )
    return f"{query.describe()}: the Ad Library returned no ads.{tried} {broader}."
