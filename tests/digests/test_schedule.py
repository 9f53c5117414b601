"""Cron ticks in a schedule's own time zone (across daylight-saving changes), channels, queries."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from viraltracker_bot.digests.schedule import (
    DigestQuery,
    local_label,
    next_run_after,
    normalise_cron,
    parse_channel,
    upcoming_runs,
)
from viraltracker_bot.platforms.models import Platform, PlatformQuery


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_weekday_nine_am_in_berlin_stays_nine_am_across_the_spring_change() -> None:
    runs = upcoming_runs("0 9 * * 1-5", "Europe/Berlin", utc(2026, 3, 26, 12), 3)
    assert runs == [utc(2026, 3, 27, 8), utc(2026, 3, 30, 7), utc(2026, 3, 31, 7)]
    assert [local_label(r, "Europe/Berlin") for r in runs] == [
        "Fri 27 Mar 2026 09:00 CET",
        "Mon 30 Mar 2026 09:00 CEST",
        "Tue 31 Mar 2026 09:00 CEST",
    ]


def test_weekday_nine_am_in_berlin_across_the_autumn_change() -> None:
    runs = upcoming_runs("0 9 * * 1-5", "Europe/Berlin", utc(2026, 10, 23, 12), 2)
    assert runs == [utc(2026, 10, 26, 8), utc(2026, 10, 27, 8)]  # back to CET (+01:00)


def test_a_time_skipped_by_spring_forward_runs_once_an_hour_later() -> None:
    # 29 March 2026: Berlin clocks jump from 02:00 to 03:00, so 02:30 never happens.
    runs = upcoming_runs("30 2 * * *", "Europe/Berlin", utc(2026, 3, 28, 12), 3)
    assert runs == [utc(2026, 3, 29, 1, 30), utc(2026, 3, 30, 0, 30), utc(2026, 3, 31, 0, 30)]
    assert local_label(runs[0], "Europe/Berlin") == "Sun 29 Mar 2026 03:30 CEST"


def test_a_time_repeated_by_fall_back_runs_once() -> None:
    # 25 October 2026: Berlin clocks go from 03:00 back to 02:00, so 02:30 happens twice.
    runs = upcoming_runs("30 2 * * *", "Europe/Berlin", utc(2026, 10, 24, 12), 2)
    assert runs == [utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]
    # Asked during the second 02:15, the next run is tomorrow: today's already happened.
    assert next_run_after("30 2 * * *", "Europe/Berlin", utc(2026, 10, 25, 1, 15)) == utc(
        2026, 10, 26, 1, 30
    )


@pytest.mark.parametrize("start", [utc(2026, 3, 28, 22), utc(2026, 10, 24, 22)])
def test_every_fifteen_minutes_keeps_its_rhythm_across_a_change(start: datetime) -> None:
    runs = upcoming_runs("*/15 * * * *", "Europe/Berlin", start, 24)
    assert [b - a for a, b in itertools.pairwise(runs)] == [timedelta(minutes=15)] * 23


def test_hourly_runs_in_both_passes_of_the_repeated_hour() -> None:
    runs = upcoming_runs("0 * * * *", "Europe/Berlin", utc(2026, 10, 24, 22, 30), 5)
    assert runs == [utc(2026, 10, 24, 23), *(utc(2026, 10, 25, h) for h in range(4))]


def test_new_york_and_utc_zones() -> None:
    assert next_run_after("0 9 * * *", "America/New_York", utc(2026, 3, 7, 15)) == utc(
        2026, 3, 8, 13
    )  # EDT (-04:00) began at 02:00 that morning
    assert next_run_after("0 9 * * *", "UTC", utc(2026, 3, 8, 9)) == utc(2026, 3, 9, 9)


def test_cron_is_five_fields_or_an_alias() -> None:
    assert normalise_cron("  0  9 * *   1-5 ") == "0 9 * * 1-5"
    assert normalise_cron("@hourly") == "0 * * * *"
    for bad in ("0 9 * *", "0 0 9 * * 1-5", "61 * * * *", "every day", ""):
        with pytest.raises(ValueError, match="cron"):
            normalise_cron(bad)
    with pytest.raises(ValueError, match="time zone"):
        next_run_after("0 9 * * *", "Mars/Olympus", utc(2026, 1, 1))


def test_channels_name_their_platform() -> None:
    assert parse_channel("slack:C0123").as_string() == "slack:C0123"
    assert parse_channel("Discord:123456").platform == "discord"
    for bad in ("C0123", "teams:abc", "slack:", "discord:general", "slack:C0 123"):
        with pytest.raises(ValueError):
            parse_channel(bad)


def test_a_hashtag_query_asks_each_platform_in_a_way_it_supports() -> None:
    query = DigestQuery(
        platforms=[Platform.tiktok, Platform.twitter], kind="hashtag", terms=["#Productivity"]
    )
    tiktok, twitter = query.platform_queries()
    assert (tiktok.kind, tiktok.terms) == ("hashtag", ["Productivity"])
    assert (twitter.kind, twitter.terms) == ("search", ["#Productivity"])
    assert tiktok.limit >= query.limit  # fetch more than shown: some were posted before
    assert query.describe() == "top 10 new TikToks and tweets about #Productivity"


def test_an_ad_query_carries_its_window_as_the_shortest_ad_library_period_covering_it() -> None:
    def ads(hours_back: int | None) -> PlatformQuery:
        [query] = DigestQuery(
            platforms=[Platform.facebook], terms=["meal kit"], hours_back=hours_back
        ).platform_queries()
        return query

    assert ads(24).options["period"] == "last24h"
    assert "(limit 50, last 24h)" in ads(24).describe()
    assert (ads(48).options["period"], ads(48).hours_back) == ("last7d", 168)  # what it searches
    assert (ads(None).options["period"], ads(None).hours_back) == ("", None)  # any time
