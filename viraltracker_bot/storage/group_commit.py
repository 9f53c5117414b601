"""Group commit: writes that arrive together share one transaction.

A burst of chat events means many small inserts, each of which must be committed before its
event is acknowledged. Committed one by one they queue behind each other (SQLite has one writer;
every PostgreSQL commit is a round trip), and the queue is what a person's ack waits for. Here the
first write starts a flush; whatever arrives while it runs goes into the next one, so a burst of
fifty costs two or three transactions instead of fifty, and a lone write is not delayed at all.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

Flush = Callable[[Sequence[T]], Awaitable[Sequence[R]]]
"""Writes items in one transaction; returns one result per item, in their order."""


@dataclass
class GroupCommit(Generic[T, R]):
    """Batches concurrent `write` calls into `flush` calls of at most `max_batch` items.

    A failed batch is retried item by item, so one bad item fails only its own writer.
    """

    flush: Flush[T, R]
    max_batch: int = 256
    _queue: list[tuple[T, asyncio.Future[R]]] = field(default_factory=list)
    _flusher: asyncio.Task[None] | None = None

    async def write(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._drain(), name="group-commit")
        return await future

    async def _drain(self) -> None:
        while self._queue:
            batch = self._queue[: self.max_batch]
            del self._queue[: len(batch)]
            batch = [(item, future) for item, future in batch if not future.done()]
            if batch:
                await self._write_batch(batch)

    async def _write_batch(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            results = await self.flush([item for item, _ in batch])
        except Exception as exc:
            if len(batch) == 1:
                _settle(batch[0][1], exc)
                return
            log.warning("group commit: a batch of %d failed; writing one by one", len(batch))
            for one in batch:
                await self._write_batch([one])
            return
        for (_, future), result in zip(batch, results, strict=True):
            _settle(future, result)


def _settle(future: asyncio.Future[R], outcome: R | BaseException) -> None:
    if future.done():  # its writer was cancelled; the write itself still happened (or not)
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
