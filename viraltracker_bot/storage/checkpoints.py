"""SQLite's WAL checkpoints, run beside the writers instead of inside one of their commits.

By default SQLite checkpoints in the commit that takes the WAL past 1,000 pages (4 MB): that
commit copies the WAL into the database file and syncs it, 20-45 ms (up to 140) while it holds
the write turn every other writer of the process queues on (`sqlite_driver`). With a few hundred
answers in flight, each storing fifty posts with their raw items, that was one such commit every
third of a second (bench/slack_ack.py). So a long-running process turns automatic checkpoints
off (`PRAGMA wal_autocheckpoint=0`, see `Database`) and checkpoints here every second in PASSIVE
mode, which waits for no reader or writer and takes no write turn. When the last connection
closes SQLite checkpoints what is left and removes the WAL, as it always does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

CHECKPOINT_EVERY_S = 1.0


async def checkpoint(engine: AsyncEngine) -> tuple[int, int, int]:
    """One PASSIVE checkpoint: (busy, WAL frames, frames checkpointed)."""
    async with engine.connect() as connection:
        result = await connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
        busy, frames, copied = result.one()
    return int(busy), int(frames), int(copied)


async def checkpoint_forever(engine: AsyncEngine) -> None:
    while True:
        await asyncio.sleep(CHECKPOINT_EVERY_S)
        try:
            await checkpoint(engine)
        except Exception:  # a failed checkpoint leaves the WAL longer; the next one catches up
            log.warning("sqlite: WAL checkpoint failed", exc_info=True)


async def stop(task: asyncio.Task[None] | None) -> None:
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
