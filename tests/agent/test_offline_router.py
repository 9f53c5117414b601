"""The offline router: no API key, the same agents and tools end to end, and it says so."""

from __future__ import annotations

import csv
import re
from datetime import UTC, datetime

import pytest

from tests.agent.support import message
from tests.fakes.apify import ApifyFake
from viraltracker_bot.agent import registry
from viraltracker_bot.agent.intent import parse_intent
from viraltracker_bot.agent.models import build_model
from viraltracker_bot.agent.offline import OFFLINE_NOTE
from viraltracker_bot.config import Settings


@pytest.mark.parametrize(
    ("request_text", "expected"),
    [
        ("find viral bitcoin tweets", {"agents": ["twitter"], "terms": ["bitcoin"]}),
        (
            "compare bitcoin on twitter and tiktok",
            {"agents": ["twitter", "tiktok"], "terms": ["bitcoin"], "compare": True},
        ),
        ("export those as csv", {"export_format": "csv", "wants_export": True, "terms": []}),
        (
            "top 10 AI productivity tiktoks this week with over 100k views",
            {"limit": 10, "hours_back": 168, "min_views": 100_000, "terms": ["AI productivity"]},
        ),
        (
            "btc, bitcoin or crypto on youtube shorts in the last 48 hours",
            {"agents": ["youtube"], "terms": ["btc", "bitcoin", "crypto"], "hours_back": 48},
        ),
        ("scrape @elonmusk tweets", {"handles": ["elonmusk"], "terms": []}),
        (
            "#productivity tiktok under 50k followers",
            {"hashtags": ["productivity"], "max_followers": 50_000},
        ),
        ('facebook ads for "meal kit" active in the US', {"terms": ["meal kit"], "country": "US"}),
        ("why did #2 go viral", {"analyze": True, "index": 2, "hashtags": []}),
        ("help", {"help": True, "terms": []}),
        ("find viral bitcoin tweets", {"viral": True, "micro": False, "min_views": None}),
        ("what is trending about ai everywhere", {"viral": True, "terms": ["ai"]}),
        (
            "compare bitcoin on tiktok and youtube by micro-influencers",
            {"micro": True, "viral": False, "terms": ["bitcoin"]},
        ),
        (
            "bitcoin tiktoks with any views, any size",
            {"min_views": 0, "max_followers": 0, "terms": ["bitcoin"]},
        ),
    ],
)
def test_requests_are_read_into_intents(request_text: str, expected: dict) -> None:
    intent = parse_intent(request_text, registry.platform_words())
    for field, value in expected.items():
        assert getattr(intent, field) == value, field


@pytest.mark.parametrize(
    ("request_text", "hours_back"),
    [
        ("tweets about bitcoin in the last hour", 1),
        ("tweets about bitcoin from the past day", 24),
        ("tiktoks about bitcoin over the previous day", 24),
        ("bitcoin tweets in the last 3 hours", 3),
        ("tiktoks about bitcoin from the last 2 years", 2 * 8760),
        ("bitcoin shorts on youtube this year", 8760),
    ],
)
def test_a_window_without_a_number_is_one_unit_not_a_keyword(
    request_text: str, hours_back: int
) -> None:
    intent = parse_intent(request_text, registry.platform_words())

    assert intent.hours_back == hours_back
    assert intent.terms == ["bitcoin"]


@pytest.mark.parametrize(
    "request_text",
    [
        "tweets about bitcoin since yesterday",
        "tweets about bitcoin within the last 3 days",
        "tweets about bitcoin during the past week",
        "tiktoks about bitcoin posted this week",
        "any viral tweets about bitcoin lately",
        "tweets about bitcoin from 3 days ago",
    ],
)
def test_words_around_a_window_are_not_keywords(request_text: str) -> None:
    intent = parse_intent(request_text, registry.platform_words())

    assert intent.terms == ["bitcoin"]


@pytest.mark.parametrize(
    ("request_text", "min_views"),
    [
        ("youtube videos about cooking with more than 1 million views", 1_000_000),
        ("cooking tiktoks over 2.5 million views", 2_500_000),
        ("cooking tweets with 500 thousand+ views", 500_000),
    ],
)
def test_numbers_in_words_are_read(request_text: str, min_views: int) -> None:
    intent = parse_intent(request_text, registry.platform_words())

    assert intent.min_views == min_views
    assert intent.terms == ["cooking"]


@pytest.mark.parametrize(
    ("request_text", "terms"),
    [
        ("find viral tweets about the 2024 election", ["2024 election"]),
        ("iphone 15 reviews on youtube", ["iphone 15 reviews"]),
        ("top 10 tiktoks about covid 19 in the last 3 days", ["covid 19"]),
        ("tweets about bitcoin from 3 days ago", ["bitcoin"]),
    ],
)
def test_numbers_of_the_subject_are_kept(request_text: str, terms: list[str]) -> None:
    intent = parse_intent(request_text, registry.platform_words())

    assert intent.terms == terms


@pytest.mark.parametrize(
    "words", ["tiktoks about cats from {year}", "Since {year}: cats on tiktok"]
)
def test_a_year_after_from_is_a_window_not_a_keyword(words: str) -> None:
    this_year = datetime.now(UTC).year
    intent = parse_intent(words.format(year=this_year), registry.platform_words())

    assert intent.terms == ["cats"]
    assert intent.hours_back is not None and intent.hours_back <= 8784


async def test_a_number_in_the_subject_is_searched(offline, apify: ApifyFake) -> None:
    await offline.handle(message("find viral tweets about the 2024 election"))
    await offline.handle(message("iphone 15 reviews on youtube"))

    tweets, videos = apify.runs_started
    assert tweets.run_input["searchTerms"][0].startswith("2024 election ")
    assert videos.run_input["searchQueries"] == ["iphone 15 reviews"]


@pytest.mark.parametrize(
    ("request_text", "terms", "limit"),
    [
        ("find 2024 election tweets", ["2024 election"], None),
        ("iphone 15 videos on youtube", ["iphone 15"], None),
        ("find 20 tweets about cats", ["cats"], 20),
        ("show me 5 tiktoks about covid 19", ["covid 19"], 5),
    ],
)
def test_a_number_of_the_subject_is_no_count(
    request_text: str, terms: list[str], limit: int | None
) -> None:
    intent = parse_intent(request_text, registry.platform_words())

    assert (intent.terms, intent.limit) == (terms, limit)


async def test_a_year_after_find_is_searched_not_fetched_as_a_count(
    offline, apify: ApifyFake
) -> None:
    await offline.handle(message("find 2024 election tweets"))

    (tweets,) = apify.runs_started
    assert tweets.run_input["searchTerms"][0].startswith("2024 election ")
    assert tweets.run_input["maxItems"] < 1000


@pytest.mark.parametrize(
    ("request_text", "min_likes"),
    [
        ("tweets about bitcoin with over 10k likes", 10_000),
        ("bitcoin tweets with at least 5000 likes", 5_000),
        ("tweets about bitcoin with more than 1k likes", 1_000),
        ("bitcoin tweets 2k+ likes", 2_000),
    ],
)
def test_a_likes_minimum_is_read_not_searched(request_text: str, min_likes: int) -> None:
    intent = parse_intent(request_text, registry.platform_words())

    assert intent.min_likes == min_likes
    assert intent.terms == ["bitcoin"]


async def test_a_likes_minimum_is_sent_to_twitter(offline, apify: ApifyFake) -> None:
    reply = await offline.handle(message("find bitcoin tweets with over 10k likes"))

    assert not reply.error
    [run] = apify.runs_started
    assert run.run_input["searchTerms"][0].startswith("bitcoin since:")
    assert "min_faves:10000" in run.run_input["searchTerms"][0]
    assert "only tweets with 10,000+ likes" in reply.text


async def test_a_likes_minimum_a_platform_cannot_apply_is_said(offline, apify: ApifyFake) -> None:
    reply = await offline.handle(message("find tiktoks about cats with more than 1k likes"))

    assert not reply.error
    assert apify.runs_started[0].run_input["searchQueries"] == ["cats"]
    assert "TikTok search 'cats'" in reply.text
    assert "Not applied: over 1,000 likes" in reply.text


@pytest.mark.parametrize(
    ("request_text", "handle"),
    [
        ("show me the latest tweets from @nasa.", "nasa"),
        ("what has @mrbeast... posted on youtube", "mrbeast"),
        ("what is @khaby.lame posting on tiktok?", "khaby.lame"),
    ],
)
def test_a_handle_ends_before_the_sentence_does(request_text: str, handle: str) -> None:
    intent = parse_intent(request_text, registry.platform_words())

    assert intent.handles == [handle]


@pytest.mark.parametrize(
    "request_text",
    [
        "why did this one do so well: https://x.com/nasa/status/123.",
        "facebook ads from this search (https://x.com/nasa/status/123)",
        "explain https://x.com/nasa/status/123, please",
    ],
)
def test_a_link_ends_before_the_punctuation_after_it(request_text: str) -> None:
    intent = parse_intent(request_text, registry.platform_words())

    assert intent.urls == ["https://x.com/nasa/status/123"]


def test_no_key_means_the_offline_router(settings: Settings) -> None:
    assert build_model(settings).model_name == "offline-router"


@pytest.fixture
def offline(make_conversation):
    return make_conversation(None)  # the model the settings choose: the offline router


async def test_find_viral_bitcoin_tweets(offline, apify: ApifyFake) -> None:
    reply = await offline.handle(message("find viral bitcoin tweets"))

    assert not reply.error
    assert reply.text.startswith("Twitter/X search 'bitcoin'")
    assert "https://x.com/" in reply.text
    assert OFFLINE_NOTE in reply.text
    assert "bitcoin" in apify.runs_started[0].run_input["searchTerms"][0]


async def test_compare_bitcoin_on_twitter_and_tiktok(offline, apify: ApifyFake) -> None:
    reply = await offline.handle(message("compare bitcoin on twitter and tiktok"))

    assert not reply.error
    assert {r.actor_id for r in apify.runs_started} == {
        "apidojo/tweet-scraper",
        "clockworks/tiktok-scraper",
    }
    assert "*Twitter/X*" in reply.text and "*TikTok*" in reply.text
    assert "*Analysis*" in reply.text and "Comparison of" in reply.text
    assert reply.text.count(OFFLINE_NOTE) == 1
    assert [f.suffix for f in reply.files] == [".png"]
    # the same window and no viral filters on either platform, so TikTok is not cut to a few
    assert "Searched with the same filters on every platform: last 168h" in reply.text
    assert "TikTok search 'bitcoin' (limit 50, last 168h):" in reply.text
    assert "Twitter/X search 'bitcoin' (limit 50, last 168h):" in reply.text
    assert "Not like for like" not in reply.text


async def test_compare_viral_asks_for_the_viral_minimum_everywhere(offline) -> None:
    reply = await offline.handle(message("compare viral bitcoin posts on tiktok and youtube"))

    assert not reply.error
    assert "Searched with the same filters on every platform: last 168h" in reply.text
    assert "100,000+ views" in reply.text
    assert "TikTok search 'bitcoin' (limit 50, last 168h, 100,000+ views)" in reply.text
    assert "YouTube search 'bitcoin' (limit 50, last 168h, 100,000+ views)" in reply.text


async def test_export_those_as_csv_uses_the_previous_results(offline) -> None:
    first = await offline.handle(message("find viral bitcoin tweets"))
    reply = await offline.handle(message("export those as csv"))

    assert not first.error and not reply.error
    [path] = reply.files
    assert path.suffix == ".csv"
    rows = list(csv.DictReader(path.open(encoding="utf-8-sig", newline="")))
    assert rows and all("bitcoin" in (r.get("text") or "").lower() for r in rows)
    assert "Exported" in reply.text and OFFLINE_NOTE in reply.text


async def test_follow_up_compare_with_another_platform_reuses_the_subject(
    offline, apify: ApifyFake
) -> None:
    await offline.handle(message("find viral bitcoin tweets"))
    reply = await offline.handle(message("now compare with tiktok"))

    assert not reply.error
    tiktok_run = apify.runs_started[-1]
    assert tiktok_run.actor_id == "clockworks/tiktok-scraper"
    assert tiktok_run.run_input["searchQueries"] == ["bitcoin"]
    assert "- Twitter/X:" in reply.text and "- TikTok:" in reply.text
    # searched like the tweets it is compared with: their day, not TikTok's viral defaults
    assert "TikTok search 'bitcoin' (limit 50, last 24h" in reply.text
    assert "Not like for like" not in reply.text


async def test_export_those_after_a_comparison_exports_both_platforms_compared(offline) -> None:
    await offline.handle(message("find viral bitcoin tweets"))
    await offline.handle(message("now compare with tiktok"))
    reply = await offline.handle(message("export those as csv"))

    assert not reply.error
    [path] = reply.files
    with path.open(encoding="utf-8-sig", newline="") as fh:
        platforms = {row["platform"] for row in csv.DictReader(fh)}
    assert platforms == {"twitter", "tiktok"}


async def test_a_search_of_several_platforms_exports_when_asked(offline) -> None:
    reply = await offline.handle(message("find cat videos on tiktok and youtube, export as csv"))

    assert not reply.error
    [path] = reply.files
    with path.open(encoding="utf-8-sig", newline="") as fh:
        platforms = {row["platform"] for row in csv.DictReader(fh)}
    assert platforms == {"tiktok", "youtube"}


async def test_a_search_of_several_platforms_is_analysed_when_asked(offline) -> None:
    reply = await offline.handle(
        message("find cat videos on tiktok and youtube and analyze the outliers")
    )

    assert not reply.error
    analysis = reply.text.split("*Analysis*\n", 1)[1]
    assert analysis.startswith("Outliers by views")
    assert "TikTok" in analysis.splitlines()[0] and "YouTube" in analysis.splitlines()[0]


async def test_a_comparison_exports_when_asked(offline) -> None:
    reply = await offline.handle(message("compare bitcoin on twitter and tiktok, export as json"))

    assert not reply.error
    assert "Comparison of" in reply.text
    assert sorted(f.suffix for f in reply.files) == [".json", ".png"]


async def test_only_the_ones_from_this_week_searches_the_same_subject_again(
    offline, apify: ApifyFake
) -> None:
    await offline.handle(message("find bitcoin tweets"))
    reply = await offline.handle(message("only the ones from this week"))

    assert not reply.error
    assert "Twitter/X search 'bitcoin' (limit 50, last 168h)" in reply.text
    assert "bitcoin" in apify.runs_started[-1].run_input["searchTerms"][0]


async def test_narrowing_keeps_the_bounds_of_the_search_it_narrows(
    offline, apify: ApifyFake
) -> None:
    await offline.handle(message("find viral tiktoks about cats over 500k views"))
    reply = await offline.handle(message("now only the last 3 days"))

    assert not reply.error
    assert apify.runs_started[-1].run_input["searchQueries"] == ["cats"]
    assert "TikTok search 'cats' (limit 50, last 72h, 500,000+ views" in reply.text


async def test_narrowing_changes_only_the_bound_it_names(offline, apify: ApifyFake) -> None:
    await offline.handle(message("tweets about bitcoin in the last 3 days with over 10k likes"))
    reply = await offline.handle(message("only the ones with over 1m views"))

    assert not reply.error
    search = apify.runs_started[-1].run_input["searchTerms"][0]
    assert search.startswith("bitcoin since:") and "min_faves:10000" in search
    assert "Twitter/X search 'bitcoin' (limit 50, last 72h, 1,000,000+ views)" in reply.text


async def test_narrowing_a_search_of_any_size_does_not_bring_back_the_defaults(offline) -> None:
    await offline.handle(message("bitcoin tiktoks with any views, any size"))
    reply = await offline.handle(message("only the ones from the last 2 days"))

    assert not reply.error
    assert "TikTok search 'bitcoin' (limit 50, last 48h):" in reply.text


async def test_narrowing_those_searches_the_same_subject_again(offline, apify: ApifyFake) -> None:
    await offline.handle(message("find viral tiktoks about cats over 500k views"))
    reply = await offline.handle(message("only those from the last 3 days"))

    assert not reply.error
    assert apify.runs_started[-1].run_input["searchQueries"] == ["cats"]
    assert "TikTok search 'cats' (limit 50, last 72h, 500,000+ views" in reply.text


async def test_a_count_alone_is_no_new_search_and_those_stay_exportable(
    offline, apify: ApifyFake
) -> None:
    """ "top 3 by likes" once searched TikTok again for three videos, of which none passed the
    filters, and "export those as csv" then said there was nothing to export."""
    await offline.handle(message("find viral tiktok videos about cats"))
    searches = len(apify.runs_started)
    await offline.handle(message("top 3 by likes"))
    reply = await offline.handle(message("export those as csv"))

    assert len(apify.runs_started) == searches
    assert not reply.error
    assert [f.suffix for f in reply.files] == [".csv"]


def numbered_lines(reply: str) -> list[str]:
    """The numbered post lines of a reply, as the user saw them."""
    return [line for line in reply.splitlines() if re.match(r"\d+\. ", line)]


def likes_of(line: str) -> float:
    """The likes a post line shows ('62.5K likes' -> 62500)."""
    value, suffix = re.search(r"([\d.]+)([KMB]?) likes", line).groups()
    return float(value) * {"": 1, "K": 1e3, "M": 1e6, "B": 1e9}[suffix]


async def test_a_count_alone_reranks_the_results_shown_without_a_new_search(
    offline, apify: ApifyFake
) -> None:
    await offline.handle(message("find viral tiktok videos about cats"))
    searches = len(apify.runs_started)
    ranked = await offline.handle(message("top 3 by likes"))
    why = await offline.handle(message("why did #2 do so well?"))
    again = await offline.handle(message("just the top 2"))

    assert len(apify.runs_started) == searches
    assert not ranked.error and "top 3 by likes" in ranked.text
    lines = numbered_lines(ranked.text)
    assert len(lines) == 3 and " cats" in ranked.text.lower()
    assert [likes_of(line) for line in lines] == sorted(map(likes_of, lines), reverse=True)
    assert "no new search" in ranked.text
    assert why.text.startswith(f"Video {lines[1]}")  # "#2" is the second post just listed
    assert numbered_lines(again.text) == lines[:2]  # still by likes


async def test_a_count_alone_after_a_comparison_reranks_every_platform(
    offline, apify: ApifyFake
) -> None:
    await offline.handle(message("compare bitcoin on twitter and tiktok"))
    searches = len(apify.runs_started)
    reply = await offline.handle(message("top 2 by engagement"))

    assert len(apify.runs_started) == searches
    assert reply.text.index("Twitter/X search 'bitcoin'") < reply.text.index("TikTok search")
    assert reply.text.count("top 2 by engagement") == 2
    assert len(numbered_lines(reply.text)) == 4


async def test_ads_of_a_window_longer_than_every_period_are_of_any_time(offline) -> None:
    reply = await offline.handle(message("facebook ads about nike from the last 6 months"))

    assert not reply.error
    assert "Facebook Ad Library search 'nike' (limit 50):" in reply.text


async def test_a_comparison_with_no_subject_and_nothing_found_asks_for_one(
    offline, apify: ApifyFake
) -> None:
    reply = await offline.handle(message("compare Twitter vs TikTok engagement"))

    assert not reply.error
    assert reply.text.startswith("Tell me what to look for")
    assert "*TikTok*" not in reply.text
    assert apify.runs_started == []


async def test_narrowing_a_search_of_several_platforms_searches_them_all_again(offline) -> None:
    await offline.handle(message("compare bitcoin on twitter and tiktok"))
    reply = await offline.handle(message("only the ones from the last 3 days"))

    assert not reply.error
    assert "Twitter/X search 'bitcoin' (limit 50, last 72h" in reply.text
    assert "TikTok search 'bitcoin' (limit 50, last 72h" in reply.text


async def test_analysis_follow_up_and_help(offline) -> None:
    await offline.handle(message("find viral bitcoin tweets"))
    analysis = await offline.handle(message("what patterns do the outliers share?"))
    helped = await offline.handle(message("hi"))

    assert "Outliers by views" in analysis.text
    assert [f.suffix for f in analysis.files] == [".png"]
    assert "Ask me things like" in helped.text and OFFLINE_NOTE in helped.text


async def test_a_tool_that_refuses_is_worded_not_shown_as_json(offline) -> None:
    reply = await offline.handle(message("what patterns do the outliers share?"))

    assert "I couldn't do that: No posts from any platform are cached" in reply.text
    assert '{"error"' not in reply.text


async def test_a_window_longer_than_a_tool_allows_is_shortened_to_its_longest(offline) -> None:
    reply = await offline.handle(message("tweets about bitcoin in the last 6 months"))

    assert not reply.error
    assert "Twitter/X search 'bitcoin' (limit 50, last 2160h)" in reply.text


async def test_years_are_a_window_not_a_count(offline) -> None:
    reply = await offline.handle(message("tiktoks about cats from the last 2 years"))

    assert "TikTok search 'cats' (limit 50, last 8760h" in reply.text


async def test_one_platform_request_with_analysis_and_export(offline) -> None:
    reply = await offline.handle(
        message("find #productivity tiktoks, analyze them and export as markdown")
    )

    assert not reply.error
    assert "Patterns in" in reply.text
    assert [f.suffix for f in reply.files] == [".md"]


def listed(reply: str, section: str, number: int) -> str:
    """Item `number` of a section of a multi-platform reply, as the user saw it."""
    body = reply.split(f"*{section}*\n", 1)[1].split("\n\n", 1)[0]
    return next(line for line in body.splitlines() if line.startswith(f"{number}. "))


async def test_a_number_after_a_multi_platform_reply_means_what_the_user_saw(offline) -> None:
    compared = await offline.handle(message("compare twitter vs tiktok for bitcoin"))
    tweet, video = listed(compared.text, "Twitter/X", 2), listed(compared.text, "TikTok", 2)

    # each platform's list starts at 1, so "#2" is two posts: the bot shows both and asks
    asked = await offline.handle(message("why did #2 do so well?"))
    assert not asked.error
    assert "which #2" in asked.text and tweet in asked.text and video in asked.text

    # naming the platform, in a sentence or alone, explains that platform's #2
    why_video = await offline.handle(message("why did tiktok #2 do so well?"))
    why_tweet = await offline.handle(message("twitter #2"))
    assert why_video.text.startswith(f"Video {video}\n- Hook:")
    assert why_tweet.text.startswith(f"Tweet {tweet}\n- Hook:")
