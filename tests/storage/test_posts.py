"""Posts and ads are stored once, refreshed on every sighting, and load back as they went in."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from viraltracker_bot.platforms.models import Platform
from viraltracker_bot.storage.bulk import CHUNK_ROWS
from viraltracker_bot.storage.database import Database
from viraltracker_bot.storage.posts import (
    author_median_views,
    load_ads,
    load_posts,
    upsert_ads,
    upsert_posts,
)
from viraltracker_bot.storage.tables import AdRow, PostRow


async def count(db: Database, table: type) -> int:
    async with db.transaction() as session:
        return (await session.execute(select(func.count()).select_from(table))).scalar_one()


async def test_upsert_inserts_and_loads_back_in_order(db: Database, make_post) -> None:
    posts = [make_post(hashtags=["ai", "tools"], raw={"id": i}) for i in range(5)]
    async with db.transaction() as session:
        ids = await upsert_posts(session, posts)
    assert len(set(ids)) == 5
    async with db.transaction() as session:
        loaded = await load_posts(session, list(reversed(ids)))
    assert [p.platform_id for p in loaded] == [p.platform_id for p in reversed(posts)]
    first = loaded[-1]
    assert first.hashtags == ["ai", "tools"]
    assert first.raw == {"id": 0}
    assert first.posted_at is not None and first.posted_at.tzinfo is not None
    assert abs(first.posted_at - posts[0].posted_at) < timedelta(seconds=1)


async def test_raw_items_store_as_json_any_database_reads(db: Database, make_post) -> None:
    """NaN and infinity, which JSON has no words for, come back as null: written as `NaN`
    they made PostgreSQL refuse the whole search, also beside half an emoji. Text comes back
    as it went in, but for that half (U+FFFD), which has no UTF-8 form."""
    raw = {
        "id": 1,
        "score": float("nan"),
        "reach": float("inf"),
        "caption": "café 🙂",
        "cut": "half \ud83d",
    }
    async with db.transaction() as session:
        [post_id] = await upsert_posts(session, [make_post(raw=raw)])
    async with db.transaction() as session:
        [loaded] = await load_posts(session, [post_id])
    assert loaded.raw == {
        "id": 1,
        "score": None,
        "reach": None,
        "caption": "café 🙂",
        "cut": "half \ufffd",
    }


async def test_upsert_twice_updates_metrics_without_duplicates(db: Database, make_post) -> None:
    post = make_post(views=100, likes=10, author_followers=500)
    async with db.transaction() as session:
        [first_id] = await upsert_posts(session, [post])
    async with db.transaction() as session:
        before = await session.get(PostRow, first_id)
        first_seen, last_seen = before.first_seen_at, before.last_seen_at

    await asyncio.sleep(0.01)  # a clock tick so last_seen_at can move; not a synchronisation
    later = post.model_copy(update={"views": 5000, "likes": 400, "author_followers": 900})
    async with db.transaction() as session:
        [second_id] = await upsert_posts(session, [later])

    assert second_id == first_id
    assert await count(db, PostRow) == 1
    async with db.transaction() as session:
        row = await session.get(PostRow, first_id)
    assert (row.views, row.likes, row.author_followers) == (5000, 400, 900)
    assert row.first_seen_at == first_seen
    assert row.last_seen_at > last_seen


async def test_missing_metric_in_a_later_scrape_keeps_the_known_value(
    db: Database, make_post
) -> None:
    post = make_post(views=1234, shares=7)
    async with db.transaction() as session:
        await upsert_posts(session, [post])
        [row_id] = await upsert_posts(session, [post.model_copy(update={"views": None})])
        [loaded] = await load_posts(session, [row_id])
    assert loaded.views == 1234 and loaded.shares == 7


async def test_duplicates_within_a_batch_last_wins(db: Database, make_post) -> None:
    a = make_post(platform_id="same", views=1)
    b = make_post(platform_id="other")
    a2 = a.model_copy(update={"views": 99})
    async with db.transaction() as session:
        ids = await upsert_posts(session, [a, b, a2])
        loaded = await load_posts(session, ids)
    assert ids[0] == ids[2] != ids[1]
    assert [p.views for p in loaded] == [99, b.views, 99]
    assert await count(db, PostRow) == 2


async def test_same_id_on_two_platforms_is_two_posts(db: Database, make_post) -> None:
    async with db.transaction() as session:
        ids = await upsert_posts(
            session,
            [
                make_post(platform=Platform.twitter, platform_id="42"),
                make_post(platform=Platform.tiktok, platform_id="42"),
            ],
        )
    assert ids[0] != ids[1]


async def test_big_batch_is_chunked_and_complete(db: Database, make_post) -> None:
    posts = [make_post() for _ in range(CHUNK_ROWS + 123)]
    async with db.transaction() as session:
        ids = await upsert_posts(session, posts)
    assert len(set(ids)) == len(posts)
    async with db.transaction() as session:
        again = await upsert_posts(session, posts)
    assert again == ids
    assert await count(db, PostRow) == len(posts)


async def test_empty_batch(db: Database) -> None:
    async with db.transaction() as session:
        assert await upsert_posts(session, []) == []
        assert await upsert_ads(session, []) == []
        assert await load_posts(session, []) == []


async def test_ads_upsert_and_load(db: Database, make_ad) -> None:
    ad = make_ad(spend_lower=100, spend_upper=200)
    async with db.transaction() as session:
        [ad_id] = await upsert_ads(session, [ad])
    ended = ad.model_copy(update={"is_active": False, "end_date": datetime.now(UTC)})
    async with db.transaction() as session:
        again, _ = await upsert_ads(session, [ended, make_ad()])
        [loaded] = await load_ads(session, [ad_id])
    assert again == ad_id
    assert loaded.is_active is False and loaded.end_date is not None
    assert (loaded.spend_lower, loaded.spend_upper) == (100, 200)
    assert loaded.publisher_platforms == ["facebook", "instagram"]
    assert await count(db, AdRow) == 2


async def test_author_median_views(db: Database, make_post) -> None:
    posts = [make_post(author="alice", views=v) for v in (100, 300, 1000, 200)]
    posts.append(make_post(author="alice", views=None))
    posts.append(make_post(author="bob", views=10**6))
    posts.append(make_post(author="alice", platform=Platform.tiktok, views=10**6))
    async with db.transaction() as session:
        await upsert_posts(session, posts)
        assert await author_median_views(session, Platform.twitter, "alice") == 250.0
        assert await author_median_views(session, "twitter", "nobody") is None


async def test_nul_characters_in_scraped_text_are_dropped(db: Database, make_post, make_ad) -> None:
    """PostgreSQL refuses NUL in text (and in JSON, its json operators refuse its escape);
    both databases store the text and the scraped item without it."""
    post = make_post(platform_id="x\x00y", text="hi\x00 there", author="a\x00b", raw={"t": "\x00"})
    ad = make_ad(ad_id="ad\x00", creative_text="buy\x00 now")
    async with db.transaction() as session:
        [post_id] = await upsert_posts(session, [post])
        [again] = await upsert_posts(session, [post])
        [ad_id] = await upsert_ads(session, [ad])
        [loaded] = await load_posts(session, [post_id])
        [loaded_ad] = await load_ads(session, [ad_id])
    assert again == post_id
    assert (loaded.platform_id, loaded.text, loaded.author) == ("xy", "hi there", "ab")
    assert loaded.raw == {"t": ""}
    assert (loaded_ad.ad_id, loaded_ad.creative_text) == ("ad", "buy now")
