"""The digest runner: claims due schedules, composes each digest and delivers it to its channel."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel

from viraltracker_bot.config import Settings
from viraltracker_bot.conversation import Reply
from viraltracker_bot.digests import repository as repo
from viraltracker_bot.digests.compose import SearchService, compose_digest, failure_text
from viraltracker_bot.digests.schedule import as_utc, next_run_after, parse_channel
from viraltracker_bot.storage.database import Database
from viraltracker_bot.storage.tables import ScheduleRow

if TYPE_CHECKING:  # the contract only: the core never imports an adapter at run time
    from adapters.base import Deliverer

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
OutcomeStatus = Literal["posted", "failed", "lost", "dry_run"]


class DigestPolicy(BaseModel):
    """How the runner behaves; the defaults suit production, tests shrink them."""

    lease_s: float = 900.0  # longer than an actor run; renewed while a digest is composed
    retry_base_s: float = 60.0
    retry_max_s: float = 3600.0
    batch: int = 20  # schedules claimed per poll, so other runners get the rest
    concurrency: int = 4  # digests composed at once by one runner


class DigestOutcome(BaseModel):
    """What happened to one due schedule in one pass."""

    schedule_id: int
    channel: str
    status: OutcomeStatus
    new_posts: int = 0
    next_run_at: datetime | None = None
    error: str | None = None
    reply: Reply | None = None


def runner_id() -> str:
    """Who holds a lease: host, process and a nonce, so a restarted process is someone else."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}"


def user_message(exc: BaseException) -> str:
    """What the channel may read: platform errors explain themselves; others stay in the logs."""
    message = getattr(exc, "message", None)
    if isinstance(message, str) and message:
        return message
    return "an unexpected error (the details are in the bot's logs)."


class DigestRunner:
    """Runs due digests; many may run against one PostgreSQL database, each tick posts once."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        services: SearchService,
        deliverers: dict[str, Deliverer],
        *,
        clock: Clock | None = None,
        policy: DigestPolicy | None = None,
        owner: str | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.services = services
        self.deliverers = deliverers
        self.clock = clock or (lambda: datetime.now(UTC))
        self.policy = policy or DigestPolicy()
        self.owner = owner or runner_id()

    @property
    def platforms(self) -> set[str]:
        """The chat platforms this runner can post to: it claims only their schedules."""
        return set(self.deliverers)

    async def run_due(self, now: datetime | None = None) -> list[DigestOutcome]:
        """Claim what is due at `now`, post each digest, and report what happened to each."""
        now = as_utc(now or self.clock())
        claimed = await repo.claim_due(
            self.db, now, self.owner, self.policy.lease_s, self.platforms, limit=self.policy.batch
        )
        gate = asyncio.Semaphore(self.policy.concurrency)

        async def one(row: ScheduleRow) -> DigestOutcome:
            async with gate:
                return await self._run_one(row, now)

        return list(await asyncio.gather(*(one(row) for row in claimed)))

    async def preview_due(self, now: datetime | None = None) -> list[DigestOutcome]:
        """--dry-run: compose what is due without claiming, posting or changing any schedule."""
        now = as_utc(now or self.clock())
        outcomes = []
        with tempfile.TemporaryDirectory(prefix="digest-preview-") as tmp:
            for row in await repo.due_schedules(self.db, now, self.platforms):
                next_run = next_run_after(row.cron, row.timezone, now)
                try:
                    digest = await compose_digest(
                        row, self.services, next_run=next_run, export_dir=Path(tmp)
                    )
                except Exception as exc:
                    outcomes.append(self._outcome(row, "failed", error=user_message(exc)))
                    continue
                outcomes.append(
                    self._outcome(
                        row, "dry_run", new=digest.new_posts, next_run=next_run, reply=digest.reply
                    )
                )
        return outcomes

    async def run_forever(self, poll_s: float = 30.0, stop: asyncio.Event | None = None) -> None:
        """Poll until stopped; a failing pass (database away) is logged and the loop goes on."""
        stop = stop or asyncio.Event()
        log.info("digest runner %s: delivering to %s", self.owner, sorted(self.platforms))
        while not stop.is_set():
            try:
                for outcome in await self.run_due():
                    log.info(
                        "digest %s -> %s: %s", outcome.schedule_id, outcome.channel, outcome.status
                    )
            except Exception:
                log.exception("digest pass failed; trying again in %ss", poll_s)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=poll_s)

    async def _run_one(self, row: ScheduleRow, now: datetime) -> DigestOutcome:
        heartbeat = asyncio.create_task(self._keep_lease(row.id))
        try:
            return await self._compose_and_deliver(row, now)
        except Exception as exc:
            log.warning("digest %s failed: %r", row.id, exc)
            return await self._failed(row, exc)
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat

    async def _compose_and_deliver(self, row: ScheduleRow, now: datetime) -> DigestOutcome:
        target = parse_channel(row.channel)
        deliverer = self.deliverers[target.platform]
        next_run = next_run_after(row.cron, row.timezone, max(now, as_utc(self.clock())))
        digest = await compose_digest(
            row, self.services, next_run=next_run, export_dir=self.settings.export_dir
        )
        # Last check before anything becomes visible: is the schedule still ours?
        if not await repo.renew_lease(
            self.db, row.id, self.owner, as_utc(self.clock()), self.policy.lease_s
        ):
            return self._outcome(row, "lost")
        await deliverer.deliver(target.channel, digest.reply)
        finished = max(now, as_utc(self.clock()))
        next_run_at = await repo.mark_done(self.db, row, self.owner, finished, digest.posted_keys)
        return self._outcome(
            row, "posted", new=digest.new_posts, next_run=next_run_at, reply=digest.reply
        )

    async def _failed(self, row: ScheduleRow, exc: Exception) -> DigestOutcome:
        message = user_message(exc)
        state = await repo.mark_failed(
            self.db,
            row,
            self.owner,
            as_utc(self.clock()),
            f"{type(exc).__name__}: {exc}",
            retry_base_s=self.policy.retry_base_s,
            retry_max_s=self.policy.retry_max_s,
        )
        if state is not None and state.report:
            await self._report(
                row, Reply(text=failure_text(row, message, state.retry_at), error=True)
            )
        retry_at = state.retry_at if state else None
        return self._outcome(row, "failed", error=message, next_run=retry_at)

    async def _report(self, row: ScheduleRow, reply: Reply) -> None:
        """Tell the channel once; if even that fails (channel gone), the logs have it."""
        try:
            target = parse_channel(row.channel)
            await self.deliverers[target.platform].deliver(target.channel, reply)
        except Exception:
            log.exception("could not report the failure of digest %s", row.id)

    async def _keep_lease(self, schedule_id: int) -> None:
        """Renew the lease while a slow digest (a long actor run) is being composed."""
        while True:
            await asyncio.sleep(self.policy.lease_s / 3)
            try:
                await repo.renew_lease(
                    self.db, schedule_id, self.owner, as_utc(self.clock()), self.policy.lease_s
                )
            except Exception:
                log.exception("could not renew the lease of digest %s", schedule_id)

    @staticmethod
    def _outcome(
        row: ScheduleRow,
        status: OutcomeStatus,
        *,
        new: int = 0,
        next_run: datetime | None = None,
        error: str | None = None,
        reply: Reply | None = None,
    ) -> DigestOutcome:
        return DigestOutcome(
            schedule_id=row.id,
            channel=row.channel,
            status=status,
            new_posts=new,
            next_run_at=next_run,
            error=error,
            reply=reply,
        )
