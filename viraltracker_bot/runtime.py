"""The core of one process, built once: settings, database, platform services, conversations."""

from __future__ import annotations

import asyncio
import gc
from dataclasses import dataclass

from viraltracker_bot.config import Settings
from viraltracker_bot.conversation import Conversation
from viraltracker_bot.exports.retention import start_retention, stop_retention
from viraltracker_bot.platforms.service import PlatformServices
from viraltracker_bot.storage.database import Database, open_database


@dataclass
class Runtime:
    """What every entry point (terminal, Slack, Discord, digests) builds the core through."""

    settings: Settings
    db: Database
    services: PlatformServices
    conversation: Conversation
    retention: asyncio.Task[None] | None = None
    """Deletes old files from the export directory (VIRALTRACKER_EXPORT_RETENTION_DAYS)."""

    @classmethod
    async def start(cls, settings: Settings) -> Runtime:
        """Open and migrate the database, then wire the services and the conversation door;
        old export files are swept now and every hour while the process runs."""
        db = await open_database(settings.database_url)
        services = PlatformServices(settings, db)
        runtime = cls(settings, db, services, Conversation(settings, db, services))
        runtime.retention = start_retention(settings.export_dir, settings.export_retention_days)
        freeze_start_up_heap()
        return runtime

    async def close(self) -> None:
        try:
            await stop_retention(self.retention)
            await self.services.close()
        finally:
            await self.db.dispose()

    async def __aenter__(self) -> Runtime:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()


GC_THRESHOLDS = (10_000, 20, 20)
"""Young objects collected every 10,000 allocations instead of 700. With 200 conversations in
flight, ~100k objects stay alive across awaits and get promoted; at the default thresholds a full
pass over them came every few seconds and stalled everyone for up to 185 ms (bench/slack_ack.py,
200 threads: p95 overhead 2.4 s). Here the run had no full pass and p95 fell to ~150 ms."""


def freeze_start_up_heap() -> None:
    """Leave what start-up built (modules, agents, schemas: most of the heap, 100k+ objects)
    out of the garbage collector's full passes, once per process. Otherwise every few messages
    a full pass walks all of it and stalls the event loop, and every conversation on it, for
    0.1-0.3 s (measured in the 4-platform fan-out of bench/routing.py). Then collect less often
    (GC_THRESHOLDS)."""
    if gc.get_freeze_count():
        return
    import viraltracker_bot.agent.orchestrator  # noqa: F401  (the agents load on first use)

    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
