"""Top posts: every filter narrows what a user sees, every sort ranks as its name says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from viraltracker_bot.platforms.models import Platform, Post
from viraltracker_bot.storage.database import Database
from viraltracker_bot.storage.posts import upsert_posts
from viraltracker_bot.storage.stats import TopPostsFilter, top_posts


async def store(db: Database, posts: list[Post]) -> None:
    async with db.transaction() as session:
        await upsert_posts(session, posts)


async def top(db: Database, **filters) -> list[str]:
    async with db.transaction() as session:
        posts = await top_posts(session, TopPostsFilter(**filters))
    return [p.platform_id for p in posts]


async def test_sorts(db: Database, make_post) -> None:
    await store(
        db,
        [
            # views, likes, comments, shares -> score, rate
            make_post(platform_id="a", views=1000, likes=10, comments=0, shares=0),  # 10, .010
            make_post(platform_id="b", views=500, likes=50, comments=100, shares=0),  # 100, .300
            make_post(platform_id="c", views=100, likes=60, comments=0, shares=0),  # 60, .600
            make_post(platform_id="d", views=None, likes=70, comments=0, shares=50),  # 110, -
        ],
    )
    assert await top(db, sort="views") == ["a", "b", "c", "d"]
    assert await top(db, sort="likes") == ["d", "c", "b", "a"]
    assert await top(db, sort="engagement") == ["d", "b", "c", "a"]
    assert await top(db, sort="engagement_rate") == ["c", "b", "a"]
    assert await top(db, sort="views", limit=2) == ["a", "b"]


async def test_keywords_are_ored_case_insensitive_in_text_or_hashtags(
    db: Database, make_post
) -> None:
    await store(
        db,
        [
            make_post(platform_id="text", text="New AI Tools for founders", views=4),
            make_post(platform_id="tag", text="look at this", hashtags=["Productivity"], views=3),
            make_post(platform_id="other", text="cooking pasta", hashtags=["food"], views=2),
            make_post(platform_id="wild", text="100% ai_free", views=1),
        ],
    )
    assert await top(db, keywords=["ai tools"]) == ["text"]
    assert await top(db, keywords=["ai tools", "#productivity"]) == ["text", "tag"]
    assert await top(db, keywords=["PRODUCTIVITY"]) == ["tag"]
    assert await top(db, keywords=["0%"]) == ["wild"]  # a literal percent, not a wildcard
    assert await top(db, keywords=["i_f"]) == ["wild"]
    assert await top(db, keywords=["nothing here"]) == []


async def test_platform_window_views_followers(db: Database, make_post) -> None:
    now = datetime.now(UTC)
    await store(
        db,
        [
            make_post(platform_id="new", posted_at=now - timedelta(days=1), views=10_000),
            make_post(platform_id="old", posted_at=now - timedelta(days=30), views=90_000),
            make_post(platform_id="undated", posted_at=None, views=80_000),
            make_post(platform_id="small", views=200_000, author_followers=1_000),
            make_post(platform_id="big", views=300_000, author_followers=2_000_000),
            make_post(platform_id="unknown", views=400_000, author_followers=None),
            make_post(platform=Platform.tiktok, platform_id="tt", views=500_000),
        ],
    )
    week = now - timedelta(days=7)
    assert await top(db, platform=Platform.tiktok) == ["tt"]
    assert "old" not in await top(db, since=week)
    assert "undated" not in await top(db, since=week)
    assert await top(db, platform=Platform.twitter, min_views=250_000) == ["unknown", "big"]
    small = await top(db, platform=Platform.twitter, max_followers=50_000)
    assert small == ["small", "old", "undated", "new"]  # make_post: 10,000 followers
    # `since` given with an offset means the same instant as in UTC.
    eastern = (now - timedelta(days=2)).astimezone(datetime.now().astimezone().tzinfo)
    assert "new" in await top(db, since=eastern)


async def test_text_only_means_tweets_without_media(db: Database, make_post) -> None:
    await store(
        db,
        [
            make_post(platform_id="plain", raw={"id": "1", "text": "hi"}, views=1),
            make_post(platform_id="empty", raw={"media": []}, views=2),
            make_post(platform_id="null", raw={"media": None}, views=3),
            make_post(platform_id="photo", raw={"media": ["https://pbs.twimg.com/x.jpg"]}, views=4),
            make_post(platform=Platform.tiktok, platform_id="tt", views=5),
        ],
    )
    assert await top(db, text_only=True) == ["null", "empty", "plain"]


async def test_text_only_with_half_an_emoji_in_a_stored_tweet(db: Database, make_post) -> None:
    """PostgreSQL's json operators refuse the escape of a lone surrogate: one such tweet
    stored made every "text only" search fail, for everyone."""
    raw = {"text": "cut short \ud83d", "media": []}
    await store(db, [make_post(platform_id="cut", raw=raw, views=1)])
    assert await top(db, text_only=True) == ["cut"]


async def test_text_only_with_a_nul_in_a_stored_tweet(db: Database, make_post) -> None:
    """PostgreSQL's json operators refuse NUL's escape too, with the same effect."""
    raw = {"text": "scraped \x00 text", "media": [], "quoted": {"text": "\x00"}}
    await store(db, [make_post(platform_id="nul", raw=raw, views=1)])
    assert await top(db, text_only=True) == ["nul"]


async def test_outlier_sort_is_per_platform(db: Database, make_post) -> None:
    tweets = [make_post(platform_id=f"t{i}", views=100 + i) for i in range(10)]
    tweets.append(make_post(platform_id="viral-tweet", views=5_000))
    tiktoks = [
        make_post(platform=Platform.tiktok, platform_id=f"k{i}", views=1_000_000 + i * 1000)
        for i in range(10)
    ]
    await store(db, tweets + tiktoks)
    ranked = await top(db, sort="outlier", limit=3)
    assert ranked[0] == "viral-tweet"  # fewer views than any TikTok, but far above its peers
    assert await top(db, sort="outlier", platform=Platform.twitter, limit=1) == ["viral-tweet"]


async def test_returned_posts_are_complete(db: Database, make_post) -> None:
    post = make_post(hashtags=["ai"], author_verified=True, is_short=None, duration_s=None)
    await store(db, [post])
    async with db.transaction() as session:
        [loaded] = await top_posts(session, TopPostsFilter())
    assert loaded.model_dump(exclude={"posted_at"}) == post.model_dump(exclude={"posted_at"})
    assert loaded.posted_at == pytest.approx(post.posted_at, abs=timedelta(seconds=1))


async def test_keyword_with_a_nul_character(db: Database, make_post) -> None:
    await store(db, [make_post(platform_id="p", text="ai tools")])
    assert await top(db, keywords=["a\x00i"]) == ["p"]
