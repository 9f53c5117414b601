"""Group commit: a burst of inbox writes shares transactions; each writer learns its own fate."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from sqlalchemy import event

from viraltracker_bot.config import Settings
from viraltracker_bot.inbox import InboxWorker
from viraltracker_bot.storage import inbox
from viraltracker_bot.storage.database import Database
from viraltracker_bot.storage.group_commit import GroupCommit


def _commits(db: Database) -> list[int]:
    counted: list[int] = []
    event.listen(db.engine.sync_engine, "commit", lambda _conn: counted.append(1))
    return counted


async def test_a_burst_of_messages_is_stored_in_a_few_transactions(
    db: Database, settings: Settings
) -> None:
    worker = InboxWorker(db, settings)
    commits = _commits(db)

    stored = await asyncio.gather(
        *(worker.record(f"C1:{i}.0", "slack", f"k{i}", {"n": i}) for i in range(50))
    )

    assert all(stored)
    assert len(commits) <= 5
    assert await inbox.undone_count(db) == 50


async def test_copies_of_one_event_in_one_burst_are_new_once(
    db: Database, settings: Settings
) -> None:
    worker = InboxWorker(db, settings)

    stored = await asyncio.gather(
        *(worker.record("C1:1.0" if i % 2 else f"C1:{i}.0", "slack", "k", {}) for i in range(20))
    )

    assert sum(stored[1::2]) == 1  # the ten copies: one of them is the message
    assert all(stored[0::2])
    assert not await worker.record("C1:1.0", "slack", "k", {})  # and later retries are not


async def test_one_failing_item_fails_only_its_writer() -> None:
    batches: list[list[int]] = []

    async def flush(items: Sequence[int]) -> list[int]:
        batches.append(list(items))
        if 13 in items:
            raise ValueError("unlucky")
        return [i * 2 for i in items]

    group: GroupCommit[int, int] = GroupCommit(flush)
    results = await asyncio.gather(*(group.write(i) for i in range(20)), return_exceptions=True)

    assert isinstance(results[13], ValueError)
    assert [r for i, r in enumerate(results) if i != 13] == [i * 2 for i in range(20) if i != 13]
    assert len(batches[0]) < 20 or len(batches) > 1


async def test_a_lone_write_is_flushed_at_once() -> None:
    async def flush(items: Sequence[str]) -> list[str]:
        return [s.upper() for s in items]

    group: GroupCommit[str, str] = GroupCommit(flush)
    assert await asyncio.wait_for(group.write("x"), timeout=30) == "X"


@pytest.mark.parametrize("size", [1, 3])
async def test_batches_are_capped(size: int) -> None:
    seen: list[int] = []

    async def flush(items: Sequence[int]) -> list[int]:
        seen.append(len(items))
        await asyncio.sleep(0)
        return list(items)

    group: GroupCommit[int, int] = GroupCommit(flush, max_batch=size)
    assert await asyncio.gather(*(group.write(i) for i in range(10))) == list(range(10))
    assert max(seen) <= size


async def test_writers_go_on_in_the_pass_their_flush_ran() -> None:
    """An ack waits for its message's commit: a flush that need not wait lets every writer of
    its batch go on in that same pass of the event loop, not one pass later."""
    loop = asyncio.get_running_loop()
    passes = 0
    counting = True

    def count_a_pass() -> None:
        nonlocal passes
        passes += 1
        if counting:
            loop.call_soon(count_a_pass)  # runs once in every pass from now on

    flushed_in: list[int] = []

    async def flush(items: Sequence[int]) -> list[int]:
        flushed_in.append(passes)
        return [i * 2 for i in items]

    group: GroupCommit[int, int] = GroupCommit(flush)
    returned_in: list[int] = []

    async def writer(i: int) -> int:
        result = await group.write(i)
        returned_in.append(passes)
        return result

    loop.call_soon(count_a_pass)
    writers = [asyncio.ensure_future(writer(i)) for i in range(20)]
    try:
        assert await asyncio.gather(*writers) == [i * 2 for i in range(20)]
    finally:
        counting = False

    assert len(flushed_in) == 1  # one batch
    assert set(returned_in) == {flushed_in[0]}


async def test_a_writer_cancelled_before_its_flush_is_not_written() -> None:
    """A request given up on (its client went away) before its batch began stores nothing."""
    flushed: list[str] = []

    async def flush(items: Sequence[str]) -> list[str]:
        flushed.extend(items)
        return list(items)

    group: GroupCommit[str, str] = GroupCommit(flush)
    kept = asyncio.ensure_future(group.write("kept"))
    dropped = asyncio.ensure_future(group.write("dropped"))
    await asyncio.sleep(0)  # both are waiting now
    dropped.cancel()

    assert await kept == "kept"
    with pytest.raises(asyncio.CancelledError):
        await dropped
    assert flushed == ["kept"]
