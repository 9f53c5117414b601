"""Live-mode searches end to end: the real apify-client against the Apify fake, into the db."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from tests.fakes.apify import ApifyFake
from tests.platforms import payloads
from tests.platforms.conftest import Clock, table_counts
from viraltracker_bot.config import Settings
from viraltracker_bot.platforms import facebook, tiktok, twitter, youtube
from viraltracker_bot.platforms.apify import RunBudget
from viraltracker_bot.platforms.errors import (
    ActorBudgetExceeded,
    ActorRunFailed,
    ApifyUnavailable,
    PlatformError,
)
from viraltracker_bot.platforms.models import Platform, PlatformQuery
from viraltracker_bot.platforms.service import PlatformServices
from viraltracker_bot.storage.database import Database
from viraltracker_bot.storage.tables import PostRow, QueryRow

SEARCHES = [
    (twitter.search_query("btc,bitcoin", hours_back=24), "apidojo/tweet-scraper", "searchTerms"),
    (tiktok.hashtag_query("productivity"), "clockworks/tiktok-scraper", "hashtags"),
    (youtube.search_query("home workout"), "streamers/youtube-scraper", "searchQueries"),
    (facebook.search_query("meal kit"), "curious_coder/facebook-ads-library-scraper", "urls"),
]


@pytest.mark.parametrize(("query", "actor", "input_field"), SEARCHES, ids=lambda v: str(v)[:20])
async def test_each_platform_search_runs_the_actor_and_stores_results(
    services: PlatformServices,
    apify: ApifyFake,
    db: Database,
    query: PlatformQuery,
    actor: str,
    input_field: str,
) -> None:
    result = await services.run(query)

    [run] = apify.runs_started
    assert run.actor_id == actor and input_field in run.run_input
    assert result.sandbox is False and result.from_cache is False
    assert result.scraped == len(run.items) > 0 and result.skipped == 0
    counts = await table_counts(db)
    assert counts["queries"] == 1
    if query.platform is Platform.facebook:
        assert result.ads and counts["ads"] == result.scraped == counts["post_queries"]
    else:
        assert counts["posts"] == result.scraped == counts["post_queries"]
        assert all(p.platform is query.platform for p in result.posts)
        views = [p.views or 0 for p in result.posts]
        assert views == sorted(views, reverse=True)
        # Some tweets come without a view count (old ones, some regions): ranked last, kept
        # while no view floor is asked for. Which ones depends on the day the fake is run.
        floor = query.min_views or 0
        assert all((p.views or 0) >= floor for p in result.posts)


async def test_viral_filters_apply_after_the_scrape(services: PlatformServices) -> None:
    result = await services.run(tiktok.search_query("ai tools"))
    assert result.scraped == 50
    assert 0 < len(result.posts) < result.scraped
    for post in result.posts:
        assert post.views is not None and post.views >= 100_000
        assert post.author_followers is None or post.author_followers <= 50_000


async def test_progress_is_reported_before_a_run(services: PlatformServices) -> None:
    said: list[str] = []

    async def progress(text: str) -> None:
        said.append(text)

    await services.run(tiktok.search_query("ai tools"), progress=progress)
    assert said == ["Searching TikTok..."]


async def test_rate_limit_is_retried_then_succeeds(
    services: PlatformServices, apify: ApifyFake
) -> None:
    apify.fail_next(429, times=2)
    result = await services.run(twitter.search_query("bitcoin"))
    assert result.scraped == 50
    assert [r.status for r in apify.requests[:3]] == [429, 429, 201]
    assert apify.run_count == 1


async def test_persistent_server_error_is_a_clear_unavailable(
    services: PlatformServices, apify: ApifyFake, db: Database
) -> None:
    apify.fail_always(500)
    with pytest.raises(ApifyUnavailable) as caught:
        await services.run(twitter.search_query("bitcoin"))
    assert "unavailable" in caught.value.message and "500" in caught.value.message
    assert len(apify.requests) == 4  # one try and the 3 configured retries, then it stops
    assert await table_counts(db) == {"posts": 0, "ads": 0, "queries": 0, "post_queries": 0}


@pytest.mark.parametrize(("status", "wording"), [("FAILED", "failed"), ("TIMED-OUT", "timed out")])
async def test_failed_run_writes_nothing_and_keeps_earlier_data(
    services: PlatformServices, apify: ApifyFake, db: Database, status: str, wording: str
) -> None:
    await services.run(tiktok.search_query("cats"))
    before = await table_counts(db)

    apify.end_runs_with(status)
    with pytest.raises(ActorRunFailed) as caught:
        await services.run(tiktok.search_query("dogs"))

    failed = caught.value
    assert failed.status == status and failed.run_id == apify.runs_started[-1].id
    assert wording in failed.message and "Nothing was saved" in failed.message
    assert await table_counts(db) == before
    cached = await services.run(tiktok.search_query("cats"))
    assert cached.from_cache and cached.posts


async def test_run_exceeding_its_timeout_is_reported_timed_out(
    live_settings: Settings, db: Database, apify: ApifyFake
) -> None:
    apify.latency_s = 30  # the fake's platform kills it at the run timeout we pass (1 s)
    settings = live_settings.model_copy(update={"apify_run_timeout_s": 1.0})
    service = PlatformServices(settings, db)
    try:
        with pytest.raises(ActorRunFailed) as caught:
            await service.run(youtube.search_query("slow"))
    finally:
        await service.close()
    assert caught.value.status == "TIMED-OUT"
    assert apify.runs_started[0].params["timeout"] == "1"


async def test_malformed_items_are_skipped_and_counted(
    services: PlatformServices, apify: ApifyFake, db: Database
) -> None:
    apify.malformed_per_run = 5
    result = await services.run(twitter.search_query("bitcoin"))
    assert result.skipped == 5 and result.scraped == 55
    assert (await table_counts(db))["posts"] == 50


async def test_identical_search_is_answered_from_cache_until_ttl(
    services: PlatformServices, apify: ApifyFake, clock: Clock, live_settings: Settings
) -> None:
    budget = RunBudget(5)
    first = await services.run(tiktok.hashtag_query("productivity"), budget=budget)
    second = await services.run(tiktok.hashtag_query("productivity"), budget=budget)

    assert apify.run_count == 1 and budget.used == 1
    assert second.from_cache and not first.from_cache
    assert [p.platform_id for p in second.posts] == [p.platform_id for p in first.posts]
    assert second.scraped == first.scraped

    clock.advance(live_settings.apify_cache_ttl_s + 1)
    third = await services.run(tiktok.hashtag_query("productivity"), budget=budget)
    assert apify.run_count == 2 and not third.from_cache and budget.used == 2


async def test_cache_reapplies_different_filters_to_the_same_scrape(
    services: PlatformServices, apify: ApifyFake
) -> None:
    strict = await services.run(tiktok.search_query("ai tools"))
    loose = await services.run(tiktok.search_query("ai tools", min_views=None, max_followers=None))
    assert apify.run_count == 1 and loose.from_cache
    assert len(loose.posts) > len(strict.posts)


async def test_a_top_five_reads_the_cached_run_of_the_same_fifty_item_search(
    services: PlatformServices, apify: ApifyFake
) -> None:
    budget = RunBudget(5)
    unfiltered = {"min_views": None, "max_followers": None}
    fifty = await services.run(tiktok.search_query("ai tools", **unfiltered), budget=budget)
    five = await services.run(tiktok.search_query("ai tools", 5, **unfiltered), budget=budget)

    assert apify.run_count == 1 and budget.used == 1 and five.from_cache
    assert len(fifty.posts) > 5
    assert [p.platform_id for p in five.posts] == [p.platform_id for p in fifty.posts[:5]]
    assert five.scraped == fifty.scraped == 50


async def test_concurrent_identical_searches_share_one_run(
    services: PlatformServices, apify: ApifyFake
) -> None:
    apify.latency_s = 0.3
    results = await asyncio.gather(*(services.run(twitter.search_query("eth")) for _ in range(3)))
    assert apify.run_count == 1
    assert sum(r.from_cache for r in results) == 2


async def test_rescrape_updates_metrics_without_duplicates(
    services: PlatformServices, apify: ApifyFake, db: Database, clock: Clock
) -> None:
    actor = "clockworks/tiktok-scraper"
    apify.set_items(
        actor, [payloads.tiktok_video(), payloads.tiktok_video(id="7301", playCount=500)]
    )
    query = tiktok.user_query("deskhacks")
    await services.run(query)

    grown = payloads.tiktok_video(playCount=2_000_000, diggCount=150_000)
    apify.set_items(actor, [grown, payloads.tiktok_video(id="7302")])
    clock.advance(3600)
    result = await services.run(query)

    assert apify.run_count == 2 and not result.from_cache
    async with db.transaction() as session:
        rows = (
            (await session.execute(select(PostRow).order_by(PostRow.platform_id))).scalars().all()
        )
        queries = (await session.execute(select(QueryRow))).scalars().all()
    assert sorted(r.platform_id for r in rows) == ["7301", "7301234567890123456", "7302"]
    viral = next(r for r in rows if r.platform_id == "7301234567890123456")
    assert (viral.views, viral.likes) == (2_000_000, 150_000)
    assert len(queries) == 2


async def test_budget_is_spent_per_run_and_refused_when_exhausted(
    services: PlatformServices, apify: ApifyFake
) -> None:
    budget = RunBudget(1)
    await services.run(twitter.search_query("solana"), budget=budget)
    with pytest.raises(ActorBudgetExceeded) as caught:
        await services.run(twitter.search_query("cardano"), budget=budget)
    assert "1 scraper runs" in caught.value.message
    assert apify.run_count == 1
    cached = await services.run(twitter.search_query("solana"), budget=budget)
    assert cached.from_cache


async def test_wrong_token_is_reported_not_retried(
    live_settings: Settings, db: Database, apify: ApifyFake
) -> None:
    settings = live_settings.model_copy(
        update={"apify_token": type(live_settings.apify_token)("bad")}
    )
    service = PlatformServices(settings, db)
    try:
        with pytest.raises(PlatformError, match="APIFY_TOKEN"):
            await service.run(twitter.search_query("bitcoin"))
    finally:
        await service.close()
    assert len(apify.requests) == 1 and apify.run_count == 0


async def test_items_are_capped_per_run_across_dataset_pages(
    live_settings: Settings, db: Database, apify: ApifyFake
) -> None:
    rows = [payloads.tweet(id=str(10**18 + n)) for n in range(2_600)]
    apify.set_items("apidojo/tweet-scraper", rows)
    settings = live_settings.model_copy(update={"max_items_per_run": 2_500})
    service = PlatformServices(settings, db)
    try:
        result = await service.run(twitter.search_query("bitcoin", limit=5_000, hours_back=None))
    finally:
        await service.close()
    assert result.scraped == 2_500
    pages = [r for r in apify.requests if r.path.endswith("/items")]
    assert len(pages) == 3
    assert apify.runs_started[0].params["maxItems"] == "2500"


async def test_a_search_stored_in_the_background_is_complete_once_its_writes_settle(
    services: PlatformServices, apify: ApifyFake, db: Database
) -> None:
    writes: list[asyncio.Task[None]] = []
    result = await services.run(tiktok.search_query("ai tools"), writes=writes)

    assert result.posts and not result.from_cache and len(writes) == 1
    await asyncio.wait(writes)
    counts = await table_counts(db)
    assert counts["queries"] == 1 and counts["posts"] == result.scraped > 0


async def test_the_same_search_while_the_first_is_being_stored_reads_it_from_the_cache(
    services: PlatformServices, apify: ApifyFake, db: Database
) -> None:
    writes: list[asyncio.Task[None]] = []
    query = tiktok.search_query("ai tools")
    first, second = await asyncio.gather(
        services.run(query, writes=writes), services.run(query, writes=writes)
    )

    assert apify.run_count == 1  # the second waited for the first's store, not a new run
    assert {first.from_cache, second.from_cache} == {False, True}
    assert [p.platform_id for p in first.posts] == [p.platform_id for p in second.posts]


async def test_closing_the_services_finishes_the_stores_in_flight(
    services: PlatformServices, db: Database
) -> None:
    writes: list[asyncio.Task[None]] = []
    result = await services.run(tiktok.search_query("ai tools"), writes=writes)
    await services.close()

    assert all(task.done() for task in writes)
    assert (await table_counts(db))["posts"] == result.scraped


@pytest.mark.parametrize("platform", [Platform.tiktok, Platform.twitter])
async def test_a_creators_latest_are_the_newest_however_the_query_was_built(
    services: PlatformServices, apify: ApifyFake, clock: Clock, platform: Platform
) -> None:
    """The CLI (`search tiktok --user`) and digests build a user query without a sort: the
    actor's extra rows (TikTok lists pinned videos, often old hits, on top of the count asked
    for) must not push the creator's newest posts out of "the last 3"."""
    now = int(clock.now.timestamp())
    if platform is Platform.tiktok:
        rows = [
            payloads.tiktok_video(
                id=f"70{i}", playCount=views, createTime=now - age, createTimeISO=None
            )
            for i, (views, age) in enumerate([(9_000_000, 86_400 * 300)] + [(100, 60)] * 3)
        ]
        actor = "clockworks/tiktok-scraper"
    else:
        rows = [
            payloads.tweet(id=f"70{i}", viewCount=views, createdAt=_tweet_date(now - age))
            for i, (views, age) in enumerate([(9_000_000, 86_400 * 300)] + [(100, 60)] * 3)
        ]
        actor = "apidojo/tweet-scraper"
    apify.set_items(actor, rows)
    query = PlatformQuery(platform=platform, kind="user", terms=["nasa"], limit=3)

    result = await services.run(query)

    assert sorted(p.platform_id for p in result.posts) == ["701", "702", "703"]


def _tweet_date(unix: int) -> str:
    """A tweet's `createdAt` as the actor writes it: 'Fri Nov 24 17:49:36 +0000 2023'."""
    return datetime.fromtimestamp(unix, UTC).strftime("%a %b %d %H:%M:%S +0000 %Y")
