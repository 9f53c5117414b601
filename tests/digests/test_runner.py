"""The digest runner end to end: Apify fake in, Slack fake out, a clock moved by hand."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from adapters.slack.app import slack_client
from adapters.slack.delivery import SlackDeliverer
from tests.digests.conftest import (
    Clock,
    TikTokFeed,
    channel_files,
    channel_posts,
    with_settings,
)
from tests.fakes.apify import ApifyFake
from tests.fakes.slack import SlackFake
from viraltracker_bot.config import Settings
from viraltracker_bot.digests import repository as repo
from viraltracker_bot.digests.background import digests_in_background
from viraltracker_bot.digests.parsing import parse_query
from viraltracker_bot.digests.runner import DigestRunner
from viraltracker_bot.digests.schedule import DigestQuery
from viraltracker_bot.platforms.models import Platform
from viraltracker_bot.platforms.service import PlatformServices
from viraltracker_bot.storage.database import Database

QUERY = "top 3 new TikToks about #productivity"


async def add_digest(
    db: Database, clock: Clock, *, channel: str = "slack:C0DIGEST", cron: str = "0 9 * * 1-5"
) -> int:
    row = await repo.create_schedule(
        db,
        cron=cron,
        timezone="Europe/Berlin",
        channel=channel,
        query=parse_query(QUERY),
        now=clock(),
        created_by="U123",
    )
    return row.id


def csv_urls(slack: SlackFake, channel: str) -> list[list[str]]:
    """The post URLs in each CSV the channel received, in order."""
    tables = []
    for message in slack.messages.get(channel, []):
        for file in message.files:
            if file.filename.endswith(".csv") and file.content is not None:
                rows = list(csv.DictReader(io.StringIO(file.content.decode("utf-8-sig"))))
                tables.append([row["url"] for row in rows])
    return tables


async def test_each_digest_shows_only_what_is_new_ranked_with_csv_and_chart(
    db: Database,
    clock: Clock,
    feed: TikTokFeed,
    slack: SlackFake,
    make_runner: Callable[..., DigestRunner],
) -> None:
    schedule_id = await add_digest(db, clock)
    runner = make_runner()
    feed.add("a", 50_000)
    feed.add("b", 900_000)
    feed.add("c", 200_000)

    assert await runner.run_due(clock()) == []  # Friday 08:00 Berlin: not yet 09:00

    clock.set(datetime(2026, 3, 27, 8, 0, 30, tzinfo=UTC))  # 09:00:30 CET
    [first] = await runner.run_due(clock())
    assert first.status == "posted" and first.new_posts == 3
    [text] = [m.text for m in channel_posts(slack, "C0DIGEST")]
    assert f"Digest #{schedule_id}" in text and "First digest" in text
    assert text.index("creator_b") < text.index("creator_c") < text.index("creator_a")
    assert "Mon 30 Mar 2026 09:00 CEST" in text  # the weekend skipped, summer time begun
    files = channel_files(slack, "C0DIGEST")
    assert any(f.endswith(".csv") for f in files) and any(f.endswith(".png") for f in files)

    # Monday: two new videos, one bigger than anything before; the old three are still there.
    clock.set(datetime(2026, 3, 30, 7, 0, 5, tzinfo=UTC))
    feed.add("d", 80_000)
    feed.add("e", 5_000_000)
    [second] = await runner.run_due(clock())
    assert second.status == "posted" and second.new_posts == 2
    texts = [m.text for m in channel_posts(slack, "C0DIGEST")]
    assert len(texts) == 2
    assert "creator_e" in texts[1] and "creator_d" in texts[1]
    assert not any(f"creator_{old}" in texts[1] for old in "abc")
    assert "since the last digest (Fri 27 Mar 2026 09:00 CET)" in texts[1]
    assert csv_urls(slack, "C0DIGEST")[-1] == [
        "https://www.tiktok.com/@creator_e/video/e",
        "https://www.tiktok.com/@creator_d/video/d",
    ]

    # Tuesday: nothing new at all; the digest says so rather than repeating old posts.
    clock.set(datetime(2026, 3, 31, 7, 0, 5, tzinfo=UTC))
    [third] = await runner.run_due(clock())
    assert third.status == "posted" and third.new_posts == 0
    last = channel_posts(slack, "C0DIGEST")[-1].text
    assert "Nothing new since the last digest" in last
    assert not any(f"creator_{old}" in last for old in "abcde")


async def test_an_ad_digest_of_the_last_day_asks_the_ad_library_for_the_last_day(
    db: Database,
    clock: Clock,
    apify: ApifyFake,
    live_settings: Settings,
    slack: SlackFake,
    make_runner: Callable[..., DigestRunner],
) -> None:
    for kind in ("search", "user"):
        await repo.create_schedule(
            db,
            cron="0 9 * * 1-5",
            timezone="Europe/Berlin",
            channel=f"slack:C0ADS{kind.upper()}",
            query=DigestQuery(
                platforms=[Platform.facebook], kind=kind, terms=["HelloFresh"], hours_back=24
            ),
            now=clock(),
        )
    clock.set(datetime(2026, 3, 27, 8, 0, 30, tzinfo=UTC))

    outcomes = await make_runner().run_due(clock())

    assert [o.status for o in outcomes] == ["posted", "posted"]
    ad_runs = [r for r in apify.runs_started if r.actor_id == live_settings.facebook_ads_actor]
    assert sorted(r.run_input["period"] for r in ad_runs) == ["last24h", "last24h"]
    assert channel_posts(slack, "C0ADSSEARCH") and channel_posts(slack, "C0ADSUSER")


async def test_after_downtime_one_catch_up_digest_not_one_per_missed_tick(
    db: Database,
    clock: Clock,
    feed: TikTokFeed,
    slack: SlackFake,
    make_runner: Callable[..., DigestRunner],
) -> None:
    await add_digest(db, clock, cron="0 9 * * *")
    feed.add("a", 100_000)
    runner = make_runner()

    # The bot was down from Friday morning to Tuesday 11:30 Berlin: five ticks missed.
    clock.set(datetime(2026, 3, 31, 9, 30, tzinfo=UTC))
    outcomes = await runner.run_due(clock())
    assert [o.status for o in outcomes] == ["posted"]
    assert outcomes[0].next_run_at == datetime(2026, 4, 1, 7, 0, tzinfo=UTC)  # Wed 09:00 CEST
    assert await runner.run_due(clock()) == []
    assert await runner.run_due(clock.advance(hours=12)) == []
    assert len(channel_posts(slack, "C0DIGEST")) == 1


async def test_a_failing_digest_retries_with_backoff_reports_once_and_blocks_no_other(
    db: Database,
    clock: Clock,
    feed: TikTokFeed,
    apify: ApifyFake,
    slack: SlackFake,
    make_runner: Callable[..., DigestRunner],
) -> None:
    broken = await add_digest(db, clock, channel="slack:C0BROKEN")
    healthy = await add_digest(db, clock, channel="slack:C0HEALTHY")
    feed.add("a", 100_000)
    runner = make_runner(retry_base_s=60, retry_max_s=3600, concurrency=1)

    apify.end_runs_with("FAILED")  # the next actor run fails: the first schedule's
    clock.set(datetime(2026, 3, 27, 8, 0, 1, tzinfo=UTC))
    first = {o.schedule_id: o for o in await runner.run_due(clock())}
    assert first[broken].status == "failed"
    assert first[broken].next_run_at == clock() + timedelta(seconds=60)
    assert first[healthy].status == "posted"
    assert len(channel_posts(slack, "C0HEALTHY")) == 1
    [report] = channel_posts(slack, "C0BROKEN")
    assert "could not run" in report.text and "retry" in report.text

    assert await runner.run_due(clock.advance(seconds=59)) == []  # backing off
    apify.end_runs_with("FAILED", times=2)
    [second] = await runner.run_due(clock.advance(seconds=1))
    assert second.status == "failed"
    assert second.next_run_at == clock() + timedelta(seconds=120)  # doubled
    [third] = await runner.run_due(clock.advance(seconds=120))
    assert third.status == "failed" and third.next_run_at == clock() + timedelta(seconds=240)
    assert len(channel_posts(slack, "C0BROKEN")) == 1  # reported once, not per retry

    [fourth] = await runner.run_due(clock.advance(seconds=240))
    assert fourth.status == "posted" and fourth.new_posts == 1
    posts = channel_posts(slack, "C0BROKEN")
    assert len(posts) == 2 and "creator_a" in posts[1].text
    row = await repo.get_schedule(db, broken)
    assert row is not None and row.failures == 0 and row.last_error is None
    assert row.next_run_at == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)


async def test_dry_run_composes_the_digest_but_posts_and_changes_nothing(
    db: Database,
    clock: Clock,
    feed: TikTokFeed,
    slack: SlackFake,
    make_runner: Callable[..., DigestRunner],
) -> None:
    schedule_id = await add_digest(db, clock)
    feed.add("a", 100_000)
    before = await repo.get_schedule(db, schedule_id)
    clock.set(datetime(2026, 3, 27, 8, 5, tzinfo=UTC))

    [preview] = await make_runner().preview_due(clock())

    assert preview.status == "dry_run" and preview.reply is not None
    assert "creator_a" in preview.reply.text
    assert slack.messages == {}
    after = await repo.get_schedule(db, schedule_id)
    assert after is not None and before is not None
    assert (after.next_run_at, after.last_run_at, after.seen_post_ids, after.lease_owner) == (
        before.next_run_at,
        None,
        [],
        None,
    )


async def test_a_bot_process_runs_due_digests_in_the_background_until_it_stops(
    db: Database,
    live_settings: Settings,
    services: PlatformServices,
    feed: TikTokFeed,
    slack: SlackFake,
) -> None:
    feed.add("a", 100_000)
    await repo.create_schedule(
        db,
        cron="* * * * *",
        timezone="UTC",
        channel="slack:C0BG",
        query=parse_query(QUERY),
        now=datetime.now(UTC) - timedelta(days=1),  # overdue by a day: due at once
    )
    settings = with_settings(live_settings, digest_poll_s=0.05)
    deliverers = {"slack": SlackDeliverer(slack_client(settings))}

    async with digests_in_background(settings, db, services, deliverers) as runner:
        assert runner is not None
        await slack.wait_for(lambda: len(channel_posts(slack, "C0BG")) == 1)
    assert "creator_a" in channel_posts(slack, "C0BG")[0].text

    off = with_settings(live_settings, digest_poll_s=0)
    async with digests_in_background(off, db, services, deliverers) as runner:
        assert runner is None


async def test_a_digest_whose_files_cannot_be_attached_is_posted_once_not_per_retry(
    db: Database,
    clock: Clock,
    feed: TikTokFeed,
    slack: SlackFake,
    make_runner: Callable[..., DigestRunner],
) -> None:
    await add_digest(db, clock, cron="0 9 * * *")
    feed.add("a", 100_000)
    runner = make_runner(retry_base_s=60, retry_max_s=3600)
    # e.g. the app lacks files:write, or may post to the channel but not share files in it
    slack.fail("files.completeUploadExternal", "missing_scope", times=10)

    clock.set(datetime(2026, 3, 27, 8, 0, 30, tzinfo=UTC))
    [first] = await runner.run_due(clock())
    assert first.status == "posted"
    assert first.next_run_at == datetime(2026, 3, 28, 8, 0, tzinfo=UTC)  # tomorrow 09:00
    assert await runner.run_due(clock.advance(hours=1)) == []
    digests = [m.text for m in channel_posts(slack, "C0DIGEST") if "Digest #" in m.text]
    assert len(digests) == 1 and "creator_a" in digests[0]
    [note] = [m.text for m in channel_posts(slack, "C0DIGEST") if "Digest #" not in m.text]
    assert "could not attach" in note and "missing_scope" in note


async def test_a_digest_ranks_everything_its_search_fetched_not_only_the_most_viewed(
    db: Database,
    clock: Clock,
    feed: TikTokFeed,
    slack: SlackFake,
    make_runner: Callable[..., DigestRunner],
) -> None:
    """'Top 3 ... by engagement rate' scrapes max(30, 3 x 5) = 30, and a hashtag search fetches
    a pool of 50: cutting those 50 to the 30 most viewed before the digest ranked them dropped
    the most engaging (less viewed) videos it had paid for."""
    await repo.create_schedule(
        db,
        cron="0 9 * * 1-5",
        timezone="Europe/Berlin",
        channel="slack:C0DIGEST",
        query=parse_query("top 3 new TikToks about #productivity by engagement rate"),
        now=clock(),
        created_by="U123",
    )
    for i in range(30):
        feed.add(f"big{i}", 1_000_000 + i)  # many views, a tenth of them like
    for i in range(10):
        feed.add(f"loved{i}", 100_000 + i)
        feed.videos[-1]["diggCount"] = 60_000 + i  # fewer views, most of them like
    clock.set(datetime(2026, 3, 27, 8, 0, 30, tzinfo=UTC))

    [digest] = await make_runner().run_due(clock())

    assert digest.status == "posted" and digest.new_posts == 3
    [text] = [m.text for m in channel_posts(slack, "C0DIGEST")]
    assert "creator_loved9" in text and "creator_loved8" in text and "creator_loved7" in text
    assert "creator_big" not in text
