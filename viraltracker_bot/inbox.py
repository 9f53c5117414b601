"""Working the durable inbox in one process: its own messages at once, abandoned ones on sweeps.

Adapters store each message (`storage.inbox.record`) before they acknowledge it, then `submit`
it here. The worker claims it when it is its conversation's turn, keeps the lease alive while
the adapter's `Processor` answers and delivers it, and retries messages that had to wait for an
earlier one of their conversation. A sweep (at start, then every `inbox_sweep_s`) takes over
messages whose process died: their lease ran out, or they belong to this replica's previous
life (same `replica_id`, so a restarted process picks up its own work without waiting).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import secrets
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from viraltracker_bot.config import Settings
from viraltracker_bot.storage import inbox
from viraltracker_bot.storage.database import Database
from viraltracker_bot.storage.group_commit import GroupCommit
from viraltracker_bot.storage.inbox import InboxItem

log = logging.getLogger(__name__)

CLAIM_RETRY_FIRST_S = 0.2
CLAIM_RETRY_MAX_S = 1.0


@dataclass
class Lease:
    """What a processor holds while it works on one message."""

    item: InboxItem
    owner: str
    lease_s: float

    @property
    def event_id(self) -> str:
        return self.item.event_id


Processor = Callable[[Lease], Awaitable[None]]
"""Answers and delivers one claimed message, advancing its stage; raising leaves it for a retry."""

GiveUp = Callable[[Lease], Awaitable[None]]
"""Tells the person a message could not be answered after too many attempts."""


def replica_name(settings: Settings) -> str | None:
    """This replica's stable name, or None when it has none (port 0: any free port, tests)."""
    if settings.replica_id:
        return settings.replica_id[:48]
    if settings.port:
        return f"{socket.gethostname()[:40]}:{settings.port}"
    return None


@dataclass
class _Source:
    process: Processor
    give_up: GiveUp | None


@dataclass
class InboxWorker:
    """The inbox of one process for some sources (`slack`, `discord`)."""

    db: Database
    settings: Settings
    max_concurrent: int | None = None
    """At most this many messages worked at once (default: the max_concurrent_answers setting)."""
    replica: str | None = None
    gate: Callable[[], Awaitable[None]] | None = None
    """Awaited before each claim: lets an adapter hold work back while it acknowledges events."""
    owner: str = ""
    _sources: dict[str, _Source] = field(default_factory=dict)
    _running: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    _waiting: set[str] = field(default_factory=set)
    _waiting_on: dict[str, str] = field(default_factory=dict)  # event id -> its conversation
    _ended: set[str | None] = field(default_factory=set)  # conversations whose turn just ended
    _held: set[str] = field(default_factory=set)
    _loops: list[asyncio.Task[None]] = field(default_factory=list)
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _slots: asyncio.Semaphore | None = None
    _store: GroupCommit[inbox.NewMessage, bool] | None = None
    closing: bool = False

    def __post_init__(self) -> None:
        if self.replica is None:
            self.replica = replica_name(self.settings)
        boot = secrets.token_hex(4)
        self.owner = f"{self.replica}/{boot}" if self.replica else f"~{boot}"
        if self.max_concurrent is None:
            self.max_concurrent = self.settings.max_concurrent_answers
        self._slots = asyncio.Semaphore(self.max_concurrent)
        self._store = GroupCommit(functools.partial(inbox.record_many, self.db))

    @property
    def lease_s(self) -> float:
        return self.settings.inbox_lease_s

    @property
    def replica_prefix(self) -> str | None:
        """Leases of this replica's earlier lives start with this; they are dead by definition."""
        return f"{self.replica}/" if self.replica else None

    def handle(self, source: str, process: Processor, give_up: GiveUp | None = None) -> None:
        """Let `process` answer this source's messages (call before `start`)."""
        self._sources[source] = _Source(process, give_up)

    # --- taking messages ------------------------------------------------------------------------

    async def record(
        self,
        event_id: str,
        source: str,
        conversation_key: str | None,
        payload: dict[str, Any],
        *,
        at: datetime | None = None,
    ) -> bool:
        """Store a message before it is acknowledged; False when it was stored already.

        Messages arriving together are stored in one transaction (a burst of events would
        otherwise wait for each other's commits before being acknowledged).
        """
        assert self._store is not None
        message = inbox.NewMessage(
            event_id=event_id,
            source=source,
            conversation_key=conversation_key,
            payload=payload,
            owner=self.owner,
            lease_s=self.lease_s,
            at=at,
        )
        return await self._store.write(message)

    def submit(self, event_id: str) -> None:
        """Work on a stored message now (if it is its conversation's turn; else when it is)."""
        if self.closing or event_id in self._running:
            return
        self._unwait(event_id)
        task = asyncio.create_task(self._run(event_id), name=f"inbox:{event_id}")
        self._running[event_id] = task
        task.add_done_callback(lambda _t: self._finished(event_id))

    @contextlib.asynccontextmanager
    async def working_on(
        self, event_id: str, *, wait_s: float | None = None
    ) -> AsyncIterator[Lease | None]:
        """Claim a stored message for work done right here, by the caller (a live command).

        Waits (up to `wait_s`, default one lease) while an earlier message of its conversation
        is answered; yields None when another process has it (that one answers). While the
        block runs the lease is renewed like any other; leaving it by an error or a
        cancellation hands the message back at once, for the next sweep to retry.
        """
        self._held.add(event_id)  # the reservation is kept alive while it waits its turn
        try:
            item = await self._claim_in_turn(event_id, self.lease_s if wait_s is None else wait_s)
        finally:
            self._held.discard(event_id)
        if item is None:
            yield None
            return
        self.start()
        self._held.add(event_id)
        try:
            yield Lease(item=item, owner=self.owner, lease_s=self.lease_s)
        except BaseException:  # a failed or cancelled turn: any process's next sweep retries it
            await self._release([event_id])
            raise
        finally:
            self._held.discard(event_id)

    async def _claim_in_turn(self, event_id: str, wait_s: float) -> InboxItem | None:
        """Claim it once the earlier turns of its conversation are done, or give up at `wait_s`.

        The checks start every 0.2 s and slow to one a second: a live command may wait
        minutes behind a long scrape, and each check is a write transaction.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        pause_s = CLAIM_RETRY_FIRST_S
        while True:
            item = await inbox.claim(
                self.db, event_id, self.owner, self.lease_s, replica_prefix=self.replica_prefix
            )
            if item is not None:
                return item
            stage = await inbox.stage_of(self.db, event_id)
            still_mine = stage is not None and stage[0] in inbox.UNDONE and stage[1] == self.owner
            if not still_mine or loop.time() > deadline:
                return None
            await asyncio.sleep(pause_s)
            pause_s = min(CLAIM_RETRY_MAX_S, pause_s * 1.5)

    def _finished(self, event_id: str) -> None:
        self._running.pop(event_id, None)
        if self._waiting:
            self._wake.set()

    @property
    def in_flight(self) -> int:
        return len(self._running)

    async def _run(self, event_id: str) -> None:
        assert self._slots is not None
        if self.gate is not None:
            await self.gate()
        async with self._slots:
            try:
                claimed = await inbox.claim(
                    self.db, event_id, self.owner, self.lease_s, replica_prefix=self.replica_prefix
                )
            except Exception:
                log.warning("inbox: could not claim %s; retrying", event_id, exc_info=True)
                self._wait(event_id, None)
                return
            if claimed is None:
                await self._not_claimed(event_id)
                return
            await self._work(claimed)

    async def _not_claimed(self, event_id: str) -> None:
        """Still ours and unfinished: an earlier message of its conversation goes first."""
        stage = await inbox.stage_and_key(self.db, event_id)
        if stage is not None and stage[0] in inbox.UNDONE and stage[1] == self.owner:
            self._wait(event_id, stage[2])

    def _wait(self, event_id: str, conversation_key: str | None) -> None:
        """Retry it when a turn of its conversation ends (any turn, when that is unknown)."""
        self._waiting.add(event_id)
        if conversation_key is not None:
            self._waiting_on[event_id] = conversation_key

    def _unwait(self, event_id: str) -> None:
        self._waiting.discard(event_id)
        self._waiting_on.pop(event_id, None)

    async def _work(self, item: InboxItem) -> None:
        source = self._sources.get(item.source)
        if source is None:
            log.error("inbox: no processor for %s (%s)", item.source, item.event_id)
            return
        lease = Lease(item=item, owner=self.owner, lease_s=self.lease_s)
        self._held.add(item.event_id)
        try:
            if item.attempts > self.settings.inbox_max_attempts and source.give_up is not None:
                log.error(
                    "inbox: giving up on %s after %d attempts", item.event_id, item.attempts - 1
                )
                await source.give_up(lease)
            else:
                await source.process(lease)
        except asyncio.CancelledError:  # a stop, or a lost lease: hand it over at once
            await self._release([item.event_id])
            raise
        except Exception:
            log.exception("inbox: processing %s failed; it will be retried", item.event_id)
            await self._release([item.event_id])
        finally:
            self._held.discard(item.event_id)
            if self._waiting:  # only worth remembering while something waits
                self._ended.add(item.conversation_key)

    # --- keeping leases, retrying, sweeping -------------------------------------------------

    @property
    def started(self) -> bool:
        return bool(self._loops)

    @property
    def running(self) -> list[asyncio.Task[None]]:
        """The messages being worked on here (health checks, graceful stops)."""
        return list(self._running.values())

    def start(self) -> InboxWorker:
        """Sweep at once (what earlier lives of this replica left), then keep leases and sweep.

        Call it inside the running event loop; starting twice is harmless.
        """
        if self._loops or self.closing:
            return self
        self._loops = [
            asyncio.create_task(self._heartbeat(), name="inbox:heartbeat"),
            asyncio.create_task(self._sweeper(), name="inbox:sweep"),
            asyncio.create_task(self._retrier(), name="inbox:retry"),
        ]
        return self

    async def sweep(self) -> int:
        """Submit the messages nobody live is holding; returns how many were taken on."""
        if self.closing or not self._sources:
            return 0
        ids = await inbox.abandoned(
            self.db,
            self.owner,
            tuple(self._sources),
            replica_prefix=self.replica_prefix,
            limit=max(1, self.max_concurrent or 1),
        )
        busy = self._running.keys() | self._held | self._waiting
        fresh = [i for i in ids if i not in busy]
        for event_id in fresh:
            self.submit(event_id)
        if fresh:
            log.info("inbox: took over %d unfinished message(s)", len(fresh))
        return len(fresh)

    async def _sweeper(self) -> None:
        while not self.closing:
            try:
                await self.sweep()
            except Exception:
                log.warning("inbox: sweep failed", exc_info=True)
            await asyncio.sleep(self.settings.inbox_sweep_s)

    async def _retrier(self) -> None:
        """Messages that waited for an earlier one: retried when a turn of their conversation
        ends here, and all of them every second (the earlier one may be another process's).

        Only the conversation's own: with hundreds of threads in flight, retrying every waiting
        message at every turn's end cost a claim transaction each, most of them in vain.
        """
        tick = min(1.0, self.settings.inbox_sweep_s)
        while not self.closing:
            woken = True
            try:
                await asyncio.wait_for(self._wake.wait(), tick)
            except TimeoutError:
                woken = False
            ended: set[str | None] | None = self._ended if woken else None  # None: everything
            self._ended = set()
            self._wake.clear()
            for event_id in list(self._waiting):
                key = self._waiting_on.get(event_id)
                if ended is None or key is None or key in ended:
                    self.submit(event_id)

    async def _heartbeat(self) -> None:
        """Renew every lease this process holds (and its reservations); stop work on lost ones."""
        interval = self.lease_s / 3
        while not self.closing:
            await asyncio.sleep(interval)
            ids = sorted(self._held | self._waiting)
            try:
                kept = await inbox.renew(self.db, self.owner, ids, self.lease_s)
            except Exception:
                log.warning("inbox: could not renew %d lease(s)", len(ids), exc_info=True)
                continue
            for lost in set(ids) - kept:
                self._unwait(lost)
                task = self._running.get(lost)
                if lost in self._held and task is not None and await self._taken_over(lost):
                    log.warning("inbox: lost the lease on %s; another process has it", lost)
                    task.cancel()

    async def _taken_over(self, event_id: str) -> bool:
        """Whether a lease that was not renewed went to another process.

        A turn marks its message done as its last write and leaves a moment later; a renewal
        in between finds nothing to renew, and cancelling the turn then cut off its last steps
        and logged a takeover that never happened.
        """
        stage = await inbox.stage_of(self.db, event_id)
        return stage is None or (stage[0] in inbox.UNDONE and stage[1] != self.owner)

    async def stop(self, drain_s: float = 30.0) -> None:
        """Take nothing new, let work in flight finish (leases kept alive), hand back the rest."""
        self.closing = True
        heartbeat, others = self._loops[:1], self._loops[1:]
        for loop in others:
            loop.cancel()
        await asyncio.gather(*others, return_exceptions=True)
        pending = list(self._running.values())
        if pending:
            await asyncio.wait(pending, timeout=drain_s)
        left = [t for t in self._running.values() if not t.done()]
        for task in left:
            task.cancel()
        if left:
            await asyncio.gather(*left, return_exceptions=True)
        for loop in heartbeat:
            loop.cancel()
        await asyncio.gather(*heartbeat, return_exceptions=True)
        self._loops = []
        await self._release(sorted(self._waiting))

    async def _release(self, event_ids: list[str]) -> None:
        try:
            await inbox.release(self.db, self.owner, event_ids)
        except Exception:
            log.warning("inbox: could not release %d lease(s)", len(event_ids), exc_info=True)
