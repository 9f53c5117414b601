"""Schedules in the database: scoping, pausing, and leases that hand each due tick to one runner."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from viraltracker_bot.digests import repository as repo
from viraltracker_bot.digests.parsing import parse_query
from viraltracker_bot.storage.database import Database

NOW = datetime(2026, 3, 27, 7, 0, tzinfo=UTC)
QUERY = parse_query("top new TikToks about #productivity")


async def add(db: Database, channel: str, *, workspace: str | None = None, cron: str = "0 9 * * *"):
    return await repo.create_schedule(
        db,
        cron=cron,
        timezone="Europe/Berlin",
        channel=channel,
        query=QUERY,
        now=NOW,
        workspace=workspace,
    )


async def test_create_validates_and_computes_the_first_run(db: Database) -> None:
    row = await add(db, "slack:C0123", workspace="T1")
    assert row.next_run_at == datetime(2026, 3, 27, 8, 0, tzinfo=UTC)  # 09:00 CET
    assert row.description == "top 10 new TikToks about #productivity"
    with pytest.raises(ValueError, match="channel"):
        await add(db, "C0123")
    with pytest.raises(ValueError, match="cron"):
        await add(db, "slack:C0123", cron="sometimes")
    assert [r.id for r in await repo.list_schedules(db)] == [row.id]


async def test_chat_sees_and_removes_only_its_own_workspace(db: Database) -> None:
    mine = await add(db, "discord:111", workspace="guild-a")
    theirs = await add(db, "discord:222", workspace="guild-b")
    slack = await add(db, "slack:C0123", workspace="T1")

    listed = await repo.list_schedules(db, platform="discord", workspace="guild-a")
    assert [r.id for r in listed] == [mine.id]
    assert not await repo.remove_schedule(db, theirs.id, platform="discord", workspace="guild-a")
    assert not await repo.remove_schedule(db, slack.id, platform="discord")
    assert await repo.remove_schedule(db, mine.id, platform="discord", workspace="guild-a")
    assert {r.id for r in await repo.list_schedules(db)} == {theirs.id, slack.id}


async def test_a_paused_digest_is_not_due_and_resumes_without_backlog(db: Database) -> None:
    row = await add(db, "slack:C0123")
    await repo.set_enabled(db, row.id, False, now=NOW)
    later = datetime(2026, 3, 30, 6, 0, tzinfo=UTC)  # Monday 08:00 CEST
    assert await repo.claim_due(db, later, "runner-1", 60, {"slack"}) == []
    resumed = await repo.set_enabled(db, row.id, True, now=later)
    assert resumed is not None and resumed.next_run_at == datetime(2026, 3, 30, 7, tzinfo=UTC)


async def test_a_runner_claims_only_what_it_can_deliver(db: Database) -> None:
    slack = await add(db, "slack:C0123")
    await add(db, "discord:111")
    due = NOW + timedelta(hours=2)
    claimed = await repo.claim_due(db, due, "slack-runner", 60, {"slack"})
    assert [r.id for r in claimed] == [slack.id]
    assert await repo.claim_due(db, due, "nobody", 60, set()) == []


async def test_concurrent_claims_hand_each_schedule_to_exactly_one_runner(db: Database) -> None:
    ids = {(await add(db, f"slack:C{n:04d}")).id for n in range(12)}
    due = NOW + timedelta(hours=2)

    batches = await asyncio.gather(
        *(repo.claim_due(db, due, f"runner-{n}", 60, {"slack"}, limit=5) for n in range(4))
    )
    claimed = [row.id for batch in batches for row in batch]
    assert len(claimed) == len(set(claimed))
    # Whatever was not taken in that round is still there for the next one.
    rest = await repo.claim_due(db, due, "runner-late", 60, {"slack"}, limit=50)
    assert set(claimed) | {r.id for r in rest} == ids
    assert not set(claimed) & {r.id for r in rest}


async def test_a_lease_expires_so_a_crashed_runner_does_not_lose_the_digest(db: Database) -> None:
    row = await add(db, "slack:C0123")
    due = NOW + timedelta(hours=2)
    [claimed] = await repo.claim_due(db, due, "crashes", 60, {"slack"})
    assert await repo.claim_due(db, due + timedelta(seconds=59), "other", 60, {"slack"}) == []
    [taken] = await repo.claim_due(db, due + timedelta(seconds=61), "other", 60, {"slack"})
    assert taken.id == row.id
    # The crashed runner comes back: its lease is gone, so it can neither renew nor finish.
    assert not await repo.renew_lease(db, row.id, "crashes", due, 60)
    assert await repo.mark_done(db, claimed, "crashes", due, ["tiktok:1"]) is None
    assert await repo.mark_done(db, taken, "other", due, ["tiktok:1"]) is not None


async def test_seen_posts_stay_bounded_and_keep_the_newest(db: Database) -> None:
    row = await add(db, "slack:C0123")
    moment = NOW + timedelta(hours=2)
    for batch in range(3):
        [claimed] = await repo.claim_due(db, moment, "r", 60, {"slack"})
        keys = [f"tiktok:{batch}-{n}" for n in range(repo.MAX_SEEN // 2 + 1)]
        await repo.mark_done(db, claimed, "r", moment, keys)
        moment += timedelta(days=1)
    stored = await repo.get_schedule(db, row.id)
    assert stored is not None and len(stored.seen_post_ids) == repo.MAX_SEEN
    assert stored.seen_post_ids[-1] == f"tiktok:2-{repo.MAX_SEEN // 2}"
    assert "tiktok:0-0" not in stored.seen_post_ids
