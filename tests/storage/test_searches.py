"""A search is stored whole (posts, ads, the run, the links) or not at all, on both databases."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from tests.platforms import payloads
from viraltracker_bot.platforms import tiktok
from viraltracker_bot.platforms.models import Ad, Post
from viraltracker_bot.platforms.normalise import normalise_items
from viraltracker_bot.storage import queries as query_store
from viraltracker_bot.storage import sqlite_driver
from viraltracker_bot.storage.database import Database
from viraltracker_bot.storage.posts import load_ads, load_posts
from viraltracker_bot.storage.searches import store_search
from viraltracker_bot.storage.tables import AdRow, PostQueryRow, PostRow, QueryRow


def a_run(key: str = "k1", **changes: Any) -> query_store.RecordedRun:
    run = query_store.RecordedRun(
        cache_key=key,
        platform="twitter",
        kind="search",
        query={"platform": "twitter", "terms": ["bitcoin"]},
        actor="apidojo/tweet-scraper",
        run_input={"searchTerms": ["bitcoin"], "maxItems": 50},
        run_id="run-1",
        sandbox=False,
        item_count=7,
        skipped=1,
        created_at=datetime.now(UTC),
    )
    return replace(run, **changes)


async def counts(db: Database) -> dict[str, int]:
    async with db.sessions() as session:
        return {
            table.__tablename__: (
                await session.execute(select(func.count()).select_from(table))
            ).scalar_one()
            for table in (PostRow, AdRow, QueryRow, PostQueryRow)
        }


async def read_back(db: Database, key: str) -> tuple[QueryRow, list[Post], list[Ad]]:
    async with db.transaction() as session:
        row = await query_store.find_fresh(
            session, key, max_age_s=3600, sandbox=False, now=datetime.now(UTC)
        )
        assert row is not None
        post_ids, ad_ids = await query_store.linked_ids(session, row.id)
        return row, await load_posts(session, post_ids), await load_ads(session, ad_ids)


async def test_a_stored_search_reads_back_as_it_was_found(
    db: Database, make_post: Callable[..., Post], make_ad: Callable[..., Ad]
) -> None:
    posts = [make_post(raw={"id": i, "text": f"tweet {i}"}) for i in range(5)]
    ads = [make_ad() for _ in range(2)]
    run = a_run()

    query_id = await store_search(db, run, [*posts, posts[0]], ads)  # a repeat is linked once

    row, loaded_posts, loaded_ads = await read_back(db, run.cache_key)
    assert row.id == query_id
    assert (row.item_count, row.skipped, row.run_id, row.query) == (7, 1, "run-1", run.query)
    assert [p.platform_id for p in loaded_posts] == [p.platform_id for p in posts]
    assert loaded_posts[3].raw == {"id": 3, "text": "tweet 3"}
    assert [a.ad_id for a in loaded_ads] == [a.ad_id for a in ads]
    assert await counts(db) == {"posts": 5, "ads": 2, "queries": 1, "post_queries": 7}


async def test_the_same_posts_found_again_are_refreshed_not_duplicated(
    db: Database, make_post: Callable[..., Post]
) -> None:
    posts = [make_post(views=100) for _ in range(3)]
    await store_search(db, a_run("first"), posts, [])
    seen_again = [posts[1].model_copy(update={"views": 9000}), make_post()]

    await store_search(db, a_run("second"), seen_again, [])

    _, first, _ = await read_back(db, "first")
    _, second, _ = await read_back(db, "second")
    assert [p.platform_id for p in second] == [posts[1].platform_id, seen_again[1].platform_id]
    assert [p.views for p in first] == [100, 9000, 100]  # one row per post, refreshed
    assert await counts(db) == {"posts": 4, "ads": 0, "queries": 2, "post_queries": 5}


async def test_a_store_failing_part_way_leaves_nothing_and_the_next_one_is_stored(
    db: Database, make_post: Callable[..., Post], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Were SQLite's write turn kept by the failed store, the next would fail as locked.
    monkeypatch.setattr(sqlite_driver, "WRITER_WAIT_S", 5.0)
    broken = a_run("broken", item_count=None)  # NOT NULL: refused after the posts are written

    with pytest.raises(IntegrityError):
        await store_search(db, broken, [make_post() for _ in range(3)], [])

    assert await counts(db) == {"posts": 0, "ads": 0, "queries": 0, "post_queries": 0}
    await store_search(db, a_run("next"), [make_post()], [])
    assert await counts(db) == {"posts": 1, "ads": 0, "queries": 1, "post_queries": 1}


async def test_a_caption_cut_in_the_middle_of_an_emoji_still_stores(db: Database) -> None:
    """A scraper that cuts a caption short can leave half an emoji (`\\ud83d` in its JSON):
    the search is stored, with U+FFFD in the half's place, in its text and in its raw row."""
    row = payloads.tiktok_video(text="morning routine \ud83d", authorMeta={"name": "cut\udc00"})
    [post] = normalise_items([row], tiktok.SHAPE, datetime.now(UTC)).posts
    await store_search(db, a_run(platform="tiktok"), [post], [])
    _, [loaded], _ = await read_back(db, "k1")
    assert loaded.text == "morning routine \ufffd"
    assert loaded.author == "cut\ufffd"
    assert loaded.raw["text"] == "morning routine \ufffd"
