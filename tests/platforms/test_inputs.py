"""Each platform turns a user's query into the input its actor expects."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from viraltracker_bot.config import Settings
from viraltracker_bot.platforms import facebook, tiktok, twitter, youtube
from viraltracker_bot.platforms.catalog import spec_for
from viraltracker_bot.platforms.errors import InvalidQuery
from viraltracker_bot.platforms.models import Platform, PlatformQuery

NOW = datetime(2024, 5, 10, 9, 30, tzinfo=UTC)


@pytest.fixture
def cfg() -> Settings:
    return Settings(_env_file=None, apify_token=None, max_items_per_run=1000)  # type: ignore[call-arg]


def run_input(query: PlatformQuery, cfg: Settings) -> dict:
    return spec_for(query.platform).run_input(query, cfg, NOW)


def test_twitter_keywords_are_ored_with_since_and_no_retweets(cfg: Settings) -> None:
    got = run_input(twitter.search_query("btc, bitcoin", hours_back=48, limit=10), cfg)
    [term] = got["searchTerms"]
    assert term.startswith("(btc OR bitcoin) ")
    assert "since:2024-05-08" in term
    assert "-filter:retweets" in term and "-filter:replies" in term
    assert got["maxItems"] == 50  # the actor's minimum
    assert got["sort"] == "Top"


def test_twitter_phrases_options_and_latest_sort(cfg: Settings) -> None:
    query = twitter.search_query(
        "ai agents,llm",
        limit=300,
        sort="Latest",
        min_likes=100,
        language="en",
        include_replies=True,
    )
    got = run_input(query, cfg)
    [term] = got["searchTerms"]
    assert term.startswith('("ai agents" OR llm)')
    assert "min_faves:100" in term and "-filter:replies" not in term
    assert got["maxItems"] == 300 and got["sort"] == "Latest" and got["tweetLanguage"] == "en"


def test_twitter_user_timeline_uses_from(cfg: Settings) -> None:
    got = run_input(twitter.user_query("@naval", hours_back=24 * 7), cfg)
    assert got["searchTerms"][0].startswith("from:naval since:2024-05-03")


def test_item_counts_respect_the_per_run_cap() -> None:
    cfg = Settings(_env_file=None, apify_token=None, max_items_per_run=120)  # type: ignore[call-arg]
    assert run_input(twitter.search_query("x", limit=5000), cfg)["maxItems"] == 120
    assert run_input(tiktok.search_query("x", count=500), cfg)["resultsPerPage"] == 120
    assert run_input(youtube.search_query("x", max_shorts=500), cfg)["maxResultsShorts"] == 120
    assert run_input(facebook.search_query("x", count=500), cfg)["count"] == 120


def test_searches_ask_for_a_pool_to_filter_and_rank_latest_n_asks_for_n(cfg: Settings) -> None:
    """'Top 5' is ranked from what the actor returns; a creator's or page's last 5 are 5."""
    assert run_input(tiktok.search_query("cats", count=5), cfg)["resultsPerPage"] == 50
    assert run_input(tiktok.hashtag_query("cats", count=5), cfg)["resultsPerPage"] == 50
    assert run_input(tiktok.user_query("nasa", count=5), cfg)["resultsPerPage"] == 5
    shorts = run_input(youtube.search_query("cats", max_shorts=5), cfg)
    assert (shorts["maxResultsShorts"], shorts["maxResults"]) == (50, 0)
    mixed = run_input(youtube.search_query("cats", max_shorts=3, max_videos=2), cfg)
    assert (mixed["maxResultsShorts"], mixed["maxResults"]) == (30, 20)  # the same 50 in all
    assert run_input(facebook.search_query("meal kit", count=5), cfg)["count"] == 50
    assert run_input(facebook.page_query("HelloFresh", count=5), cfg)["count"] == 5
    assert run_input(twitter.search_query("cats", limit=5), cfg)["maxItems"] == 50


def test_the_pool_stays_within_the_per_run_cap() -> None:
    cfg = Settings(_env_file=None, apify_token=None, max_items_per_run=20)  # type: ignore[call-arg]
    assert run_input(tiktok.search_query("cats", count=5), cfg)["resultsPerPage"] == 20
    assert run_input(youtube.search_query("cats", max_shorts=5), cfg)["maxResultsShorts"] == 20
    assert run_input(facebook.search_query("meal kit", count=5), cfg)["count"] == 20


def requested(got: dict) -> int:
    """How many items a run input asks for in all: YouTube's and TikTok's counts are per term."""
    terms = got.get("searchQueries") or got.get("hashtags") or got.get("profiles") or [""]
    if "resultsPerPage" in got:
        return got["resultsPerPage"] * len(terms)
    return (got["maxResults"] + got["maxResultsShorts"]) * len(terms)


def test_a_run_asks_for_at_most_the_cap_in_all_whatever_its_terms() -> None:
    """maxResults, maxResultsShorts and resultsPerPage count per search term (and Shorts and
    videos add up): capping each count let three terms ask for three times the cap."""
    cfg = Settings(_env_file=None, apify_token=None, max_items_per_run=120)  # type: ignore[call-arg]
    three = run_input(youtube.search_query("cats, dogs, birds", max_shorts=500), cfg)
    assert (three["maxResultsShorts"], three["maxResults"]) == (40, 0)
    both = run_input(youtube.search_query("cats", max_shorts=500, max_videos=500), cfg)
    assert (both["maxResultsShorts"], both["maxResults"]) == (60, 60)
    mixed = run_input(youtube.search_query("cats, dogs", max_shorts=30, max_videos=10), cfg)
    assert requested(mixed) <= 120 and mixed["maxResultsShorts"] > mixed["maxResults"] > 0
    tags = run_input(tiktok.hashtag_query("cats, dogs, birds", count=500), cfg)
    assert tags["resultsPerPage"] == 40
    pooled = run_input(tiktok.search_query("cats, dogs, birds", count=5), cfg)
    assert requested(pooled) <= 120 and pooled["resultsPerPage"] == 40
    for got in (three, both, mixed, tags, pooled):
        assert requested(got) <= 120


def test_tiktok_search_hashtag_and_profile(cfg: Settings) -> None:
    search = run_input(tiktok.search_query("study tips, focus", count=80), cfg)
    assert search["searchQueries"] == ["study tips", "focus"]
    assert search["resultsPerPage"] == 80
    assert search["shouldDownloadVideos"] is False
    tags = run_input(tiktok.hashtag_query("#productivity"), cfg)
    assert tags["hashtags"] == ["productivity"] and "searchQueries" not in tags
    profile = run_input(tiktok.user_query("@deskhacks"), cfg)
    assert profile["profiles"] == ["https://www.tiktok.com/@deskhacks"]


def test_tiktok_defaults_match_the_original_product() -> None:
    query = tiktok.hashtag_query("productivity")
    assert (query.limit, query.min_views, query.max_followers, query.hours_back) == (
        50,
        100_000,
        50_000,
        240,
    )


def test_youtube_shorts_first_with_date_bucket(cfg: Settings) -> None:
    got = run_input(youtube.search_query("home workout", days_back=5), cfg)
    assert got["searchQueries"] == ["home workout"]
    assert (got["maxResultsShorts"], got["maxResults"]) == (100, 0)
    assert got["dateFilter"] == "week"
    assert "dateFilter" not in run_input(youtube.search_query("x"), cfg)
    assert run_input(youtube.search_query("x", days_back=200), cfg)["dateFilter"] == "year"


def test_facebook_keyword_becomes_ad_library_search_url(cfg: Settings) -> None:
    got = run_input(facebook.search_query("meal kit", active_status="active", country="us"), cfg)
    [entry] = got["urls"]
    url = urlsplit(entry["url"])
    assert url.netloc == "www.facebook.com" and url.path == "/ads/library/"
    params = parse_qs(url.query)
    assert params["q"] == ["meal kit"] and params["active_status"] == ["active"]
    assert params["country"] == ["US"]
    assert got["count"] == 50 and got["period"] == "last30d"
    assert got["scrapePageAds.activeStatus"] == "active"
    assert got["scrapePageAds.countryCode"] == "US"


def test_facebook_pasted_url_and_pages(cfg: Settings) -> None:
    pasted = "https://www.facebook.com/ads/library/?id=1034567890123456"
    assert run_input(facebook.search_query(pasted), cfg)["urls"] == [{"url": pasted}]
    by_id = run_input(facebook.page_query("102938475610"), cfg)["urls"][0]["url"]
    assert "view_all_page_id=102938475610" in by_id
    by_name = run_input(facebook.page_query("mealbox"), cfg)["urls"][0]["url"]
    assert by_name == "https://www.facebook.com/mealbox"


def test_queries_a_platform_cannot_answer_are_refused(cfg: Settings) -> None:
    with pytest.raises(InvalidQuery, match="keyword"):
        run_input(twitter.search_query(" , "), cfg)
    with pytest.raises(InvalidQuery, match="hashtag"):
        run_input(PlatformQuery(platform=Platform.youtube, kind="hashtag", terms=["x"]), cfg)
