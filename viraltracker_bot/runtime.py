"""The core of one process, built once: settings, database, platform services, conversations."""

from __future__ import annotations

from dataclasses import dataclass

from viraltracker_bot.config import Settings
from viraltracker_bot.conversation import Conversation
from viraltracker_bot.platforms.service import PlatformServices
from viraltracker_bot.storage.database import Database, open_database


@dataclass
class Runtime:
    """What every entry point (terminal, Slack, Discord, digests) builds the core through."""

    settings: Settings
    db: Database
    services: PlatformServices
    conversation: Conversation

    @classmethod
    async def start(cls, settings: Settings) -> Runtime:
        """Open and migrate the database, then wire the services and the conversation door."""
        db = await open_database(settings.database_url)
        services = PlatformServices(settings, db)
        return cls(settings, db, services, Conversation(settings, db, services))

    async def close(self) -> None:
        try:
            await self.services.close()
        finally:
            await self.db.dispose()

    async def __aenter__(self) -> Runtime:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()
