"""Actor rows become posts and ads correctly, however messy the rows are."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.platforms import payloads
from viraltracker_bot.platforms import facebook, tiktok, twitter, youtube
from viraltracker_bot.platforms.models import Ad, Platform, Post
from viraltracker_bot.platforms.normalise import (
    normalise_items,
    to_datetime,
    to_duration_s,
    to_int,
)

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (1234, 1234),
        (1234.0, 1234),
        ("1,234", 1234),
        ("1.2K", 1200),
        ("3M views", 3_000_000),
        ("2.5B", 2_500_000_000),
        ("No views", 0),
        ("12 views", 12),
        (None, None),
        ("", None),
        ("n/a", None),
        (-5, None),
        (True, None),
        (float("nan"), None),
    ],
)
def test_counts_read_from_any_format(raw: object, expected: int | None) -> None:
    assert to_int(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Fri Nov 24 17:49:36 +0000 2023", datetime(2023, 11, 24, 17, 49, 36, tzinfo=UTC)),
        ("2023-11-14T22:13:20.000Z", datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
        (1700000000, datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
        (1700000000000, datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
        ("1700000000", datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
        ("2024-01-05", datetime(2024, 1, 5, tzinfo=UTC)),
        ("Jan 5, 2024", datetime(2024, 1, 5, tzinfo=UTC)),
        ("2 months ago", NOW - timedelta(days=60)),
        ("Streamed 3 days ago", NOW - timedelta(days=3)),
        ("1 year ago", NOW - timedelta(days=365)),
        ("an hour ago", NOW - timedelta(hours=1)),
        ("yesterday", NOW - timedelta(days=1)),
        ("someday", None),
        (None, None),
        (0, None),
    ],
)
def test_dates_read_from_every_format_actors_use(raw: object, expected: datetime | None) -> None:
    assert to_datetime(raw, NOW) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("0:15", 15.0), ("1:02:03", 3723.0), (23, 23.0), ("PT1M3S", 63.0), ("long", None)],
)
def test_durations(raw: object, expected: float | None) -> None:
    assert to_duration_s(raw) == expected


def test_tweet_becomes_post() -> None:
    result = normalise_items([payloads.tweet()], twitter.SHAPE, NOW)
    [post] = result.posts
    assert isinstance(post, Post)
    assert post.platform is Platform.twitter
    assert post.platform_id == "1728108619189874825"
    assert post.author == "satoshifan" and post.author_name == "Satoshi Fan"
    assert post.author_followers == 23_100
    assert post.author_verified is True  # blue badge counts
    assert post.text.endswith("Thread 🧵")  # fullText, not the truncated text
    assert (post.views, post.likes, post.comments, post.shares) == (184_220, 2411, 87, 312)
    assert post.posted_at == datetime(2023, 11, 24, 17, 49, 36, tzinfo=UTC)
    assert post.hashtags == ["btc"]
    assert post.url == "https://x.com/satoshifan/status/1728108619189874825"


def test_tiktok_video_becomes_post() -> None:
    [post] = normalise_items([payloads.tiktok_video()], tiktok.SHAPE, NOW).posts
    assert post.platform is Platform.tiktok
    assert post.author == "deskhacks" and post.author_followers == 41_300
    assert (post.views, post.likes, post.comments, post.shares) == (1_250_000, 98_400, 1_210, 5_600)
    assert post.posted_at == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert post.duration_s == 23
    assert post.hashtags == ["productivity", "fyp"]


def test_youtube_short_becomes_post_with_handle_and_short_flag() -> None:
    [post] = normalise_items([payloads.youtube_video()], youtube.SHAPE, NOW).posts
    assert post.platform is Platform.youtube
    assert post.is_short is True and post.duration_s == 45
    assert post.author == "fitathome" and post.author_name == "Fit At Home"
    assert post.author_followers == 38_000
    assert post.text.startswith("10 minute home workout")
    assert {"shorts", "homeworkout"} <= set(post.hashtags)


def test_youtube_relative_date_and_long_video() -> None:
    row = payloads.youtube_video(
        url="https://www.youtube.com/watch?v=abcdefghijk", date="2 months ago", duration="12:03"
    )
    [post] = normalise_items([row], youtube.SHAPE, NOW).posts
    assert post.is_short is False
    assert post.posted_at == NOW - timedelta(days=60)
    assert post.duration_s == 723


def test_facebook_ad_becomes_ad() -> None:
    [ad] = normalise_items([payloads.facebook_ad()], facebook.SHAPE, NOW).ads
    assert isinstance(ad, Ad)
    assert ad.ad_id == "1034567890123456" and ad.page_name == "Mealbox"
    assert ad.is_active is True
    assert ad.start_date == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert ad.publisher_platforms == ["FACEBOOK", "INSTAGRAM"]
    assert (ad.impressions_lower, ad.impressions_upper) == (10_000, 50_000)
    assert ad.creative_text == "Dinner in 15 minutes. First box 60% off."
    assert (ad.title, ad.cta_text, ad.display_format) == (
        "Mealbox: dinner, sorted",
        "Order Now",
        "VIDEO",
    )
    assert ad.spend_lower is None


def test_facebook_template_body_falls_back_to_first_card() -> None:
    snapshot = payloads.facebook_ad()["snapshot"] | {
        "body": {"text": "{{product.brand}}"},
        "cards": [{"body": "Fresh meals, delivered", "title": "Card title"}],
    }
    row = payloads.facebook_ad(
        snapshot=snapshot, spend={"lower_bound": "100", "upper_bound": "499"}
    )
    [ad] = normalise_items([row], facebook.SHAPE, NOW).ads
    assert ad.creative_text == "Fresh meals, delivered"
    assert (ad.spend_lower, ad.spend_upper) == (100, 499)


def test_missing_and_null_fields_are_unknown_not_errors() -> None:
    row = payloads.tweet(viewCount=None, likeCount="1.2K", author=None, createdAt="garbage")
    del row["replyCount"]
    [post] = normalise_items([row], twitter.SHAPE, NOW).posts
    assert post.views is None and post.likes == 1200 and post.comments is None
    assert post.author is None and post.author_followers is None
    assert post.posted_at is None


def test_malformed_rows_are_skipped_and_counted() -> None:
    rows = [
        payloads.tiktok_video(),
        "oops",
        None,
        42,
        {"text": "no id"},
        payloads.tiktok_video(id=None),
        payloads.tiktok_video(id="7301234567890999999"),
    ]
    result = normalise_items(rows, tiktok.SHAPE, NOW)
    assert len(result.posts) == 2
    assert result.skipped == 5


def test_no_result_placeholders_are_not_posts_nor_errors() -> None:
    rows = [payloads.tweet(), {"noResults": True}, {"type": "mock_tweet", "id": -1}]
    result = normalise_items(rows, twitter.SHAPE, NOW)
    assert len(result.posts) == 1
    assert result.skipped == 0 and result.placeholders == 2


def test_a_post_found_twice_in_one_run_is_kept_once() -> None:
    rows = [payloads.tweet(), payloads.tweet(likeCount=9), payloads.tweet(id="2")]
    result = normalise_items(rows, twitter.SHAPE, NOW)
    assert [p.platform_id for p in result.posts] == ["1728108619189874825", "2"]
    assert result.duplicates == 1 and result.skipped == 0
