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


GC_THRESHOLDS = (700, 10, 200)
"""Python's young generations as they are, full passes 20 times rarer. Pauses grow with the objects
a pass walks, and 200 conversations in flight keep ~100k objects alive across awaits: at the
default (700, 10, 10) a full pass over them came every few seconds and stalled everyone for up to
165 ms; with a 10,000 young generation (tried before) young passes took up to 60 ms and middle ones
100 ms. Here young and middle passes stay under 10 ms and no full pass came in a minute of 200
threads in flight (bench/slack_ack.py, 200 threads: p95 overhead 78-92 ms, against 91-163 ms for
(2,000, 10, 100) and (10,000, 20, 20), two runs each at most)."""


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
