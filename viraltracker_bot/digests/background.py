"""The digest runner as a background task of a bot process (Slack or Discord), unless turned off.

A bot process can deliver to its own platform, so it runs the digests of that platform's
channels; several bot replicas on one PostgreSQL still post each digest once (leases).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from viraltracker_bot.config import Settings
from viraltracker_bot.digests.compose import SearchService
from viraltracker_bot.digests.runner import DigestRunner
from viraltracker_bot.storage.database import Database

if TYPE_CHECKING:
    from adapters.base import Deliverer

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def digests_in_background(
    settings: Settings,
    db: Database,
    services: SearchService,
    deliverers: dict[str, Deliverer],
) -> AsyncIterator[DigestRunner | None]:
    """Run due digests every `digest_poll_s` seconds while the block runs; stop cleanly after.

    async with digests_in_background(settings, db, services, {"slack": deliverer}):
        await serve_slack()
    """
    if settings.digest_poll_s <= 0 or not deliverers:
        log.info("digest runner off in this process (VIRALTRACKER_DIGEST_POLL_S=0)")
        yield None
        return
    runner = DigestRunner(settings, db, services, deliverers)
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run_forever(settings.digest_poll_s, stop))
    try:
        yield runner
    finally:
        stop.set()
        try:
            await asyncio.wait_for(task, timeout=30)
        except TimeoutError:  # a digest still composing: its lease expires, another runs it
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
