"""Facebook Ad Library via curious_coder/facebook-ads-library-scraper: builders, input, ads."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlencode

from viraltracker_bot.config import Settings
from viraltracker_bot.platforms.models import Ad, Platform, PlatformQuery
from viraltracker_bot.platforms.normalise import ItemShape, dig, to_int, to_text
from viraltracker_bot.platforms.spec import PlatformSpec, clean_terms, item_count

ActiveStatus = Literal["all", "active", "inactive"]
AD_LIBRARY = "https://www.facebook.com/ads/library/"


PERIODS = ("last24h", "last7d", "last14d", "last30d", "last90d")
"""The windows the actor's `period` offers, shortest first ("" = any time)."""


def period_hours(period: str) -> int | None:
    """'last30d' -> 720, 'last24h' -> 24: the Ad Library period as the window every query states
    in hours, so a search's description says its period like the other platforms' ("" = any
    time: none)."""
    number = "".join(ch for ch in period if ch.isdigit())
    if not number or not int(number):
        return None
    return int(number) if period.strip().lower().endswith("h") else int(number) * 24


def period_covering(hours_back: int | None) -> str:
    """The shortest Ad Library period covering a window in hours ("" = any time): what a query
    that counts hours (a digest's) asks the actor for, since the actor knows only periods."""
    if not hours_back:
        return ""
    return next((p for p in PERIODS if hours_back <= (period_hours(p) or 0)), "")


def search_query(
    keyword_or_url: str,
    count: int = 50,
    period: str = "last30d",
    active_status: ActiveStatus = "all",
    country: str = "ALL",
) -> PlatformQuery:
    """Ads matching a keyword, or the ads behind an Ad Library URL the user pasted."""
    return PlatformQuery(
        platform=Platform.facebook,
        kind="search",
        terms=[keyword_or_url.strip()],
        limit=count,
        hours_back=period_hours(period),
        options={"period": period, "active_status": active_status, "country": country.upper()},
    )


def page_query(
    page: str,
    active_status: ActiveStatus = "all",
    country: str = "ALL",
    count: int = 50,
    period: str = "",
) -> PlatformQuery:
    """All ads of one page: a page URL, a numeric page id, or a page's vanity name."""
    return PlatformQuery(
        platform=Platform.facebook,
        kind="page_ads",
        terms=[page.strip()],
        limit=count,
        hours_back=period_hours(period),
        options={"period": period, "active_status": active_status, "country": country.upper()},
    )


def build_input(query: PlatformQuery, settings: Settings, _now: datetime) -> dict[str, Any]:
    """The actor scrapes URLs: a keyword becomes an Ad Library search URL."""
    status = str(query.options.get("active_status") or "all")
    country = str(query.options.get("country") or "ALL")
    target = clean_terms(query.terms)[0]
    if query.kind == "page_ads":
        url = _page_url(target, status, country)
    else:
        url = target if target.startswith("http") else _search_url(target, status, country)
    return {
        "urls": [{"url": url}],
        "count": item_count(query, settings),
        "period": str(query.options.get("period") or ""),
        "scrapeAdDetails": False,
        "scrapePageAds.activeStatus": status,
        "scrapePageAds.countryCode": country,
    }


def _search_url(keyword: str, status: str, country: str) -> str:
    params = {
        "active_status": status,
        "ad_type": "all",
        "country": country,
        "q": keyword,
        "search_type": "keyword_unordered",
        "media_type": "all",
    }
    return f"{AD_LIBRARY}?{urlencode(params)}"


def _page_url(page: str, status: str, country: str) -> str:
    if page.startswith("http"):
        return page
    if page.isdigit():
        params = {
            "active_status": status,
            "ad_type": "all",
            "country": country,
            "view_all_page_id": page,
            "search_type": "page",
            "media_type": "all",
        }
        return f"{AD_LIBRARY}?{urlencode(params)}"
    return f"https://www.facebook.com/{page.lstrip('@')}"


def impressions_range(text: Any) -> tuple[int | None, int | None]:
    """'1K-5K' -> (1000, 5000), '<1K' -> (0, 1000), '>1M' -> (1000000, None)."""
    label = to_text(text).replace(" ", "")
    if not label:
        return None, None
    if label.startswith("<"):
        return 0, to_int(label[1:])
    if label.startswith(">"):
        return to_int(label[1:]), None
    low, _, high = label.partition("-")
    return to_int(low), to_int(high) if high else to_int(low)


def _derive(item: dict[str, Any], values: dict[str, Any], _now: datetime) -> None:
    """Template bodies fall back to the first card; impressions arrive as a text range."""
    if "{{" in (values.get("creative_text") or ""):
        values["creative_text"] = to_text(dig(item, "snapshot.cards.0.body")) or ""
    if values.get("impressions_lower") is None:
        low, high = impressions_range(dig(item, "impressions_with_index.impressions_text"))
        values["impressions_lower"], values["impressions_upper"] = low, high
    if not values.get("url") and values.get("ad_id"):
        values["url"] = f"{AD_LIBRARY}?id={values['ad_id']}"


SHAPE = ItemShape(
    model=Ad,
    id_field="ad_id",
    fixed={"platform": Platform.facebook},
    fields={
        "ad_id": ("ad_archive_id", "adArchiveID", "ad_id"),
        "page_id": ("page_id", "snapshot.page_id"),
        "page_name": ("page_name", "snapshot.page_name"),
        "is_active": ("is_active",),
        "start_date": ("start_date", "start_date_formatted"),
        "end_date": ("end_date", "end_date_formatted"),
        "publisher_platforms": ("publisher_platform", "publisher_platforms"),
        "currency": ("currency",),
        "spend_lower": ("spend.lower_bound",),
        "spend_upper": ("spend.upper_bound",),
        "impressions_lower": ("impressions.lower_bound",),
        "impressions_upper": ("impressions.upper_bound",),
        "creative_text": ("snapshot.body.text", "snapshot.body", "snapshot.cards.0.body"),
        "title": ("snapshot.title", "snapshot.cards.0.title"),
        "cta_text": ("snapshot.cta_text", "snapshot.cards.0.cta_text"),
        "link_url": ("snapshot.link_url", "snapshot.cards.0.link_url"),
        "url": ("ad_library_url", "url"),
        "display_format": ("snapshot.display_format",),
    },
    derive=_derive,
)

SPEC = PlatformSpec(
    platform=Platform.facebook,
    actor_setting="facebook_ads_actor",
    shape=SHAPE,
    build_input=build_input,
    kinds=frozenset({"search", "page_ads"}),
)
