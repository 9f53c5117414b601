"""The durable inbox's rules on the database: stored once, one worker, in order, taken over."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from viraltracker_bot.config import Settings
from viraltracker_bot.inbox import InboxWorker, Lease
from viraltracker_bot.storage import inbox
from viraltracker_bot.storage.database import Database
from viraltracker_bot.storage.tables import ProcessedEventRow

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


async def _store(db: Database, event_id: str, key: str, at: datetime, owner: str = "a/1") -> bool:
    return await inbox.record(
        db, event_id, "slack", key, {"text": event_id}, owner=owner, lease_s=60, at=at
    )


async def test_a_message_is_stored_once_and_claimed_by_one_worker(db: Database) -> None:
    assert await _store(db, "C1:1", "k1", T0)
    assert not await _store(db, "C1:1", "k1", T0, owner="b/1")  # a retry of the same event
    claims = await asyncio.gather(
        inbox.claim(db, "C1:1", "a/1", 60), inbox.claim(db, "C1:1", "b/1", 60)
    )
    [item] = [c for c in claims if c is not None]
    assert item.lease_owner == "a/1"  # the process that stored it holds it first
    assert item.status == "working" and item.attempts == 1
    assert item.payload["text"] == "C1:1"


async def test_a_batch_stores_each_new_message_once_as_it_was_written(db: Database) -> None:
    """What a burst of events shares: one transaction, copies and retries told apart."""
    assert await _store(db, "C1:1", "k1", T0)  # stored by an earlier burst

    def message(event_id: str, seconds: int) -> inbox.NewMessage:
        return inbox.NewMessage(
            event_id=event_id,
            source="slack",
            conversation_key="k2",
            payload={"text": f"about {event_id}", "n": seconds},
            owner="a/1",
            lease_s=60,
            at=T0 + timedelta(seconds=seconds),
        )

    batch = [message("C2:1", 1), message("C1:1", 2), message("C2:2", 3), message("C2:1", 4)]
    assert await inbox.record_many(db, batch) == [True, False, True, False]
    first = await inbox.claim(db, "C2:1", "a/1", 60)
    assert first is not None
    assert first.payload == {"text": "about C2:1", "n": 1}  # the first copy's
    assert first.created_at == T0 + timedelta(seconds=1)
    assert first.conversation_key == "k2" and first.source == "slack"
    assert await inbox.claim(db, "C2:2", "a/1", 60) is None  # after C2:1, as it was written

    burst = [message(f"C3:{i}", i) for i in range(300)]  # more than one INSERT's worth
    assert await inbox.record_many(db, [message("C2:2", 0), *burst]) == [False] + [True] * 300
    assert await inbox.undone_count(db) == 303


async def test_messages_of_one_conversation_go_one_at_a_time_in_order(db: Database) -> None:
    await _store(db, "C1:2", "k1", T0 + timedelta(seconds=2))
    await _store(db, "C1:1", "k1", T0 + timedelta(seconds=1))  # written first, arrived second
    await _store(db, "C2:1", "k2", T0 + timedelta(seconds=3))
    assert await inbox.claim(db, "C1:2", "a/1", 60) is None  # C1:1 goes first
    assert await inbox.claim(db, "C2:1", "a/1", 60) is not None  # other threads run meanwhile
    assert await inbox.claim(db, "C1:1", "a/1", 60) is not None
    assert await inbox.claim(db, "C1:2", "a/1", 60) is None  # C1:1 is still being worked on
    assert await inbox.advance_now(db, "C1:1", "a/1", to="done", expect=("working",), lease_s=60)
    assert await inbox.claim(db, "C1:2", "a/1", 60) is not None


async def test_a_lapsed_lease_is_taken_over_and_the_old_owner_is_fenced_off(
    db: Database,
) -> None:
    await _store(db, "C1:1", "k1", T0)
    assert await inbox.claim(db, "C1:1", "a/1", 0.05) is not None
    assert await inbox.claim(db, "C1:1", "b/1", 60) is None  # still held
    await asyncio.sleep(0.1)
    assert await inbox.abandoned(db, "b/1", ("slack",)) == ["C1:1"]
    taken = await inbox.claim(db, "C1:1", "b/1", 60)
    assert taken is not None and taken.attempts == 2
    # The first owner wakes up: it can neither mark it answered nor keep its lease.
    assert not await inbox.advance_now(
        db, "C1:1", "a/1", to="answered", expect=("working",), lease_s=60
    )
    assert await inbox.renew(db, "a/1", ["C1:1"], 60) == set()
    assert await inbox.renew(db, "b/1", ["C1:1"], 60) == {"C1:1"}


async def test_a_restarted_replica_takes_its_own_work_back_at_once(db: Database) -> None:
    await _store(db, "C1:1", "k1", T0, owner="web-1/aaaa")
    assert await inbox.claim(db, "C1:1", "web-2/bbbb", 60, replica_prefix="web-2/") is None
    assert await inbox.abandoned(db, "web-1/cccc", ("slack",), replica_prefix="web-1/") == ["C1:1"]
    item = await inbox.claim(db, "C1:1", "web-1/cccc", 60, replica_prefix="web-1/")
    assert item is not None and item.lease_owner == "web-1/cccc"


async def test_released_work_counts_a_new_attempt_and_done_work_is_never_claimed(
    db: Database,
) -> None:
    await _store(db, "C1:1", "k1", T0)
    await inbox.claim(db, "C1:1", "a/1", 60)
    await inbox.release(db, "a/1", ["C1:1"])
    assert await inbox.abandoned(db, "a/1", ("slack",)) == ["C1:1"]
    again = await inbox.claim(db, "C1:1", "a/1", 60)
    assert again is not None and again.attempts == 2
    assert await inbox.advance_now(
        db, "C1:1", "a/1", to="answered", expect=("working",), lease_s=60, payload={"r": 1}
    )
    assert await inbox.advance_now(db, "C1:1", "a/1", to="done", expect=("answered",), lease_s=60)
    assert await inbox.claim(db, "C1:1", "a/1", 60) is None
    assert await inbox.abandoned(db, "b/1", ("slack",)) == []
    assert await inbox.undone_count(db) == 0
    assert await inbox.stage_of(db, "C1:1") == ("done", "a/1")


async def test_a_sweep_finds_its_own_forgotten_message_once_its_lease_ran_out(
    db: Database,
) -> None:
    """Stored, then the process lost track of it (its first ack was refused halfway)."""
    assert await inbox.record(db, "C1:1", "slack", "k1", {}, owner="a/1", lease_s=0.05)
    assert await inbox.abandoned(db, "a/1", ("slack",)) == []  # its reservation still holds
    await asyncio.sleep(0.1)
    assert await inbox.abandoned(db, "a/1", ("slack",)) == ["C1:1"]
    assert await inbox.claim(db, "C1:1", "a/1", 60) is not None
    assert await inbox.abandoned(db, "a/1", ("slack",)) == []  # held again, live


async def test_two_hundred_waiting_answers_are_worked_at_once(
    db: Database, settings: Settings
) -> None:
    """Answers mostly wait on models and actors: 200 threads must not queue behind 64 slots."""
    threads = 200
    worker = InboxWorker(db, settings)
    started = 0
    everyone_in = asyncio.Event()

    async def answer(_lease: object) -> None:
        nonlocal started
        started += 1
        if started == threads:
            everyone_in.set()
        await everyone_in.wait()  # each answer waits on its "model" until all have begun

    worker.handle("slack", answer)
    ids = [f"C{i}:{i}.0" for i in range(threads)]
    await asyncio.gather(*(worker.record(i, "slack", f"k{i}", {}) for i in ids))
    for event_id in ids:
        worker.submit(event_id)
    try:
        await asyncio.wait_for(everyone_in.wait(), timeout=60)
    finally:
        await worker.stop(drain_s=5)
    assert started == threads


async def test_a_turn_that_just_marked_its_message_done_is_not_taken_for_a_lost_lease(
    db: Database, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """A renewal between a turn's last write (done) and its end finds nothing to renew: the
    turn must still end normally, not be cancelled as if another process had taken it over."""
    worker = InboxWorker(db, settings.model_copy(update={"inbox_lease_s": 0.6}))
    other_renewed = asyncio.Event()
    release_other = asyncio.Event()
    ended: dict[str, str] = {}
    first_ended = asyncio.Event()

    async def lease_until(event_id: str) -> datetime:
        async with db.engine.connect() as connection:
            found = await connection.execute(
                select(ProcessedEventRow.lease_until).where(ProcessedEventRow.event_id == event_id)
            )
            return found.scalar_one()

    async def answer(lease: Lease) -> None:
        try:
            if lease.event_id == "C2:1":  # another turn, held open: the heartbeat renews it
                await release_other.wait()
                return
            assert await inbox.advance_now(
                db, lease.event_id, lease.owner, to="done", expect=("working",), lease_s=0
            )
            before = await lease_until("C2:1")
            for _ in range(600):  # until a heartbeat has renewed the other lease since
                if await lease_until("C2:1") > before:
                    other_renewed.set()
                    break
                await asyncio.sleep(0.05)
            ended[lease.event_id] = "finished"
        except asyncio.CancelledError:
            ended[lease.event_id] = "cancelled"
            raise
        finally:
            if lease.event_id == "C1:1":
                first_ended.set()

    worker.handle("slack", answer)
    for event_id, key in (("C1:1", "k1"), ("C2:1", "k2")):
        assert await worker.record(event_id, "slack", key, {})
    worker.start()  # the heartbeat
    worker.submit("C2:1")
    worker.submit("C1:1")
    try:
        await asyncio.wait_for(first_ended.wait(), timeout=60)
    finally:
        release_other.set()
        await worker.stop(drain_s=5)
    assert other_renewed.is_set()  # a renewal did come between the done mark and the end
    assert ended["C1:1"] == "finished"
    assert "lost the lease" not in caplog.text
