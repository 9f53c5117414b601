"""Sample posts, ads and queries for the export tests."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from viraltracker_bot.platforms.models import Ad, Platform, PlatformQuery, Post


@pytest.fixture
def posts() -> list[Post]:
    return [
        Post(
            platform=Platform.tiktok,
            platform_id="1",
            url="https://www.tiktok.com/@focus_daily/video/1",
            author="focus_daily",
            author_followers=12_400,
            text="POV: the 5am routine that actually works 😴➡️☀️ #productivity",
            views=2_400_000,
            likes=180_000,
            comments=2_100,
            shares=9_000,
            posted_at=datetime(2025, 3, 1, 12, 30, tzinfo=UTC),
        ),
        Post(
            platform=Platform.twitter,
            platform_id="2",
            url="https://x.com/growthhacker/status/2",
            author="growthhacker",
            author_followers=48_000,
            text='=HYPERLINK("http://evil","click") | a pipe\nand a newline',
            views=350_000,
            likes=12_000,
            comments=400,
            shares=1_500,
            posted_at=datetime(2025, 3, 2, 8, 0, tzinfo=UTC),
        ),
        Post(
            platform=Platform.youtube,
            platform_id="3",
            url="https://www.youtube.com/shorts/3",
            author="-minus",
            text="@everyone look $100 vs $5 " + "long " * 60,
            views=None,
        ),
    ]


@pytest.fixture
def ads() -> list[Ad]:
    return [
        Ad(
            ad_id="111",
            page_id="9",
            page_name="Acme | Planners",
            is_active=True,
            start_date=datetime(2025, 1, 1, tzinfo=UTC),
            publisher_platforms=["facebook", "instagram"],
            currency="USD",
            spend_lower=100,
            spend_upper=499,
            impressions_lower=10_000,
            impressions_upper=50_000,
            creative_text="+Plan your week in 5 minutes",
            title="The planner",
            url="https://www.facebook.com/ads/library/?id=111",
        ),
        Ad(
            ad_id="222",
            page_name="Other",
            is_active=False,
            start_date=datetime(2025, 1, 1, tzinfo=UTC),
            end_date=datetime(2025, 1, 31, tzinfo=UTC),
            creative_text="Old ad",
        ),
    ]


@pytest.fixture
def query() -> PlatformQuery:
    return PlatformQuery(
        platform=Platform.tiktok, kind="hashtag", terms=["productivity"], min_views=100_000
    )
