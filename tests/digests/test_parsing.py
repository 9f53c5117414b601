"""What people type about digests, turned into cron, time zone and a saved query."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from viraltracker_bot.digests.parsing import (
    number,
    parse_cron_phrase,
    parse_query,
    parse_request,
    parse_timezone,
)
from viraltracker_bot.digests.tools import digest_command
from viraltracker_bot.platforms.models import Platform


@pytest.mark.parametrize(
    ("text", "cron"),
    [
        ("every weekday at 9am", "0 9 * * 1-5"),
        ("every day at 18:30", "30 18 * * *"),
        ("every monday at 10", "0 10 * * 1"),
        ("hourly", "0 * * * *"),
        ("every hour", "0 * * * *"),
        ("every 2 hours", "0 */2 * * *"),
        ("every 30 minutes", "*/30 * * * *"),
        ("daily at noon", "0 12 * * *"),
        ("every monday and thursday at 9:15pm", "15 21 * * 1,4"),
        ("on weekends at 7 am", "0 7 * * 0,6"),
        ("every morning", "0 9 * * *"),
        ("every friday", "0 9 * * 5"),
        ("weekly", "0 9 * * 1"),
        ("monthly at 8am", "0 8 1 * *"),
        ("at 12am every day", "0 0 * * *"),
        ('use cron "15 7 * * 1-5" please', "15 7 * * 1-5"),
    ],
)
def test_schedule_phrases(text: str, cron: str) -> None:
    phrase = parse_cron_phrase(text)
    assert phrase is not None and phrase.cron == cron


@pytest.mark.parametrize(
    ("text", "cron"),
    [
        ("mondays and thursdays at 9am post the top TikToks about #ai", "0 9 * * 1,4"),
        ("sundays at 10", "0 10 * * 0"),
        ("tuesdays, thursdays and saturdays at 8", "0 8 * * 2,4,6"),
        ("every day at 9 post tweets about mondays", "0 9 * * *"),
        ("at 9 post TikToks about #mondays", "0 9 * * *"),
        ("post the top TikToks about #mondays", None),  # a one-off question, not a digest
        ("what did people tweet about fridays?", None),
    ],
)
def test_days_named_in_the_plural_without_every(text: str, cron: str | None) -> None:
    phrase = parse_cron_phrase(text)
    assert (phrase.cron if phrase else None) == cron


@pytest.mark.parametrize(
    ("text", "cron"),
    [
        ("every evening at 7", "0 19 * * *"),
        ("every afternoon at 3:30", "30 15 * * *"),
        ("every weekday evening at 6 post tweets about AI", "0 18 * * 1-5"),
        ("every day at 9 in the evening", "0 21 * * *"),
        ("every night at 10", "0 22 * * *"),
        ("every night at 1", "0 1 * * *"),  # past midnight, not 13:00
        ("every evening at 7am", "0 7 * * *"),  # said outright wins
        ("every morning at 7", "0 7 * * *"),
        ("every day at 9 post TikToks about late night snacks", "0 9 * * *"),  # the topic
    ],
)
def test_a_bare_hour_in_the_evening_is_after_noon(text: str, cron: str) -> None:
    phrase = parse_cron_phrase(text)
    assert phrase is not None and phrase.cron == cron


@pytest.mark.parametrize(
    "text", ["every other day at 9", "every 2 days at 9am", "every other monday", "biweekly"]
)
def test_a_gap_cron_cannot_keep_is_no_daily_or_weekly_schedule(text: str) -> None:
    assert parse_cron_phrase(text) is None


@pytest.mark.parametrize(
    ("text", "cron"),
    [
        ("every day at 12 midnight", "0 0 * * *"),
        ("every day at 12 at night", "0 0 * * *"),
        ("every day at 12 noon", "0 12 * * *"),
        ("every day at 12", "0 12 * * *"),
    ],
)
def test_twelve_midnight_is_the_start_of_the_day(text: str, cron: str) -> None:
    phrase = parse_cron_phrase(text)
    assert phrase is not None and phrase.cron == cron


@pytest.mark.parametrize(
    ("text", "cron"),
    [
        ("every sunday night post the top tweets about AI", "0 21 * * 0"),
        ("every friday afternoon", "0 15 * * 5"),
        ("on monday mornings", "0 9 * * 1"),
        ("every weekday evening", "0 18 * * 1-5"),
        ("every tuesday evening at 7:30", "30 19 * * 2"),
    ],
)
def test_a_part_of_the_day_after_a_day_name_sets_the_time(text: str, cron: str) -> None:
    phrase = parse_cron_phrase(text)
    assert phrase is not None and phrase.cron == cron


@pytest.mark.parametrize(
    ("text", "cron"),
    [
        ("every day at 9am except weekends post the top TikToks about #ai", "0 9 * * 1,2,3,4,5"),
        ("every weekday except friday at 9", "0 9 * * 1,2,3,4"),
        ("every day except sundays at 8", "0 8 * * 1,2,3,4,5,6"),
        ("at 9 except saturdays and sundays", "0 9 * * 1,2,3,4,5"),
    ],
)
def test_days_after_except_are_left_out_not_taken(text: str, cron: str) -> None:
    phrase = parse_cron_phrase(text)
    assert phrase is not None and phrase.cron == cron


@pytest.mark.parametrize(
    ("text", "cron"),
    [
        ("every month on the 15th at 9", "0 9 15 * *"),
        ("on the 2nd of every month at 8am", "0 8 2 * *"),
        ("monthly on day 3", "0 9 3 * *"),
        ("monthly at 8am", "0 8 1 * *"),
    ],
)
def test_a_monthly_digest_keeps_the_day_of_the_month_named(text: str, cron: str) -> None:
    phrase = parse_cron_phrase(text)
    assert phrase is not None and phrase.cron == cron


@pytest.mark.parametrize(
    ("text", "cron"),
    [
        ("every weekday at 9am and 5pm post the top TikToks about #ai", "0 9,17 * * 1-5"),
        ("every day at 8, 12 and 18 post tweets about AI", "0 8,12,18 * * *"),
        ("every evening at 7 and 9", "0 19,21 * * *"),
        ("every day at 9, 5 TikToks about #ai", "0 9 * * *"),  # 5 is how many, not when
        ("every weekday at 9:30 and 17:00", None),  # no one cron: it would also fire at 9:00
    ],
)
def test_every_time_named_is_kept(text: str, cron: str | None) -> None:
    phrase = parse_cron_phrase(text)
    assert (phrase.cron if phrase else None) == cron


@pytest.mark.parametrize("text", ["post the top TikToks", "top 10 tweets", "", "list digests"])
def test_no_schedule_named(text: str) -> None:
    assert parse_cron_phrase(text) is None


def test_the_issue_example_in_full() -> None:
    request = parse_request(
        "every weekday at 9am post the top new TikToks about #productivity here"
    )
    assert request.cron is not None and request.cron.cron == "0 9 * * 1-5"
    assert request.query is not None
    assert request.query.platforms == [Platform.tiktok]
    assert (request.query.kind, request.query.terms) == ("hashtag", ["productivity"])
    assert request.timezone is None and request.channel is None and request.problem is None


def test_keywords_filters_channel_and_zone() -> None:
    request = parse_request(
        "at 6pm every day post the top 5 tweets about AI agents, LLMs with 50k+ views "
        "from authors under 10k followers in <#C0456|general> Europe/Berlin"
    )
    query = request.query
    assert query is not None
    assert (query.kind, query.terms, query.limit) == ("search", ["AI agents", "LLMs"], 5)
    assert (query.min_views, query.max_followers) == (50_000, 10_000)
    assert request.channel == "C0456" and request.timezone == "Europe/Berlin"


def test_accounts_viral_micro_creators_and_several_platforms() -> None:
    query = parse_query("viral TikToks and YouTube shorts from @mrbeast by micro creators")
    assert query.platforms == [Platform.tiktok, Platform.youtube]
    assert (query.kind, query.terms) == ("user", ["mrbeast"])
    assert (query.min_views, query.max_followers) == (100_000, 50_000)
    assert parse_query("TikTok videos about cooking").platforms == [Platform.tiktok]
    assert parse_query("videos about cooking").platforms == [Platform.youtube]


def test_unclear_requests_say_what_is_missing() -> None:
    with pytest.raises(ValueError, match="Which platform"):
        parse_query("the best posts about #productivity")
    with pytest.raises(ValueError, match="About what"):
        parse_query("top TikToks")
    assert parse_request("every day at 9 post the best stuff").problem is not None


def test_time_zones_and_numbers() -> None:
    assert parse_timezone("at 9am Berlin time") == "Europe/Berlin"
    assert parse_timezone("every day at 9 New York time") == "America/New_York"
    assert parse_timezone("in america/los_angeles") == "America/Los_Angeles"
    assert parse_timezone("at 9 UTC") == "UTC"
    assert parse_timezone("every day at 9") is None


@pytest.mark.parametrize(
    ("text", "zone"),
    [
        ("every weekday at 9am EST post tweets about AI", "America/New_York"),
        ("every day at 9:30 PT", "America/Los_Angeles"),
        ("every day at noon CET", "Europe/Paris"),
        ("every day at 9am UTC+2", "Etc/GMT-2"),  # two hours ahead of UTC: 07:00 UTC
        ("every day at 9 GMT-5", "Etc/GMT+5"),
        ("every day at 9 Etc/GMT+5", "Etc/GMT+5"),  # IANA's own name, its sign as written
        ("every day at 9 post tweets about CT scans", None),  # a topic, not a zone
    ],
)
def test_a_zone_given_as_an_abbreviation_or_offset_is_kept(text: str, zone: str | None) -> None:
    assert parse_timezone(text) == zone
    assert [number(t) for t in ("50k", "1.5m", "100,000", "2 million", "7")] == [
        50_000,
        1_500_000,
        100_000,
        2_000_000,
        7,
    ]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_text_is_read_without_crashing(text: str) -> None:
    request = parse_request(text)
    assert request.query is not None or request.problem
    if request.cron is not None:
        assert len(request.cron.cron.split()) == 5
    digest_command(text)
