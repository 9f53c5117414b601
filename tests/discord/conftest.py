"""Fixtures for the Discord tests: the protocol fake, settings pointing at it, a running bot."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import pytest
from pydantic import SecretStr

from adapters.base import ConversationHandler
from adapters.discord import DiscordBot, sync_commands
from tests.fakes.discord import DiscordFake
from viraltracker_bot.config import Settings
from viraltracker_bot.storage.database import Database

RunningBot = Callable[..., AbstractAsyncContextManager[DiscordBot]]


@pytest.fixture
async def fake() -> AsyncIterator[DiscordFake]:
    """Discord with one server ("Viral Lab") and its #general channel."""
    async with DiscordFake() as discord_fake:
        discord_fake.add_guild("Viral Lab", ("general", "random"))
        yield discord_fake


@pytest.fixture
def discord_settings(settings: Settings, fake: DiscordFake) -> Settings:
    return settings.model_copy(
        update={
            "discord_token": SecretStr(fake.token),
            "discord_api_url": fake.api_url,
            "discord_gateway_url": fake.gateway_url,
        }
    )


@pytest.fixture
def guild_id(fake: DiscordFake) -> int:
    return next(iter(fake.guilds))


@pytest.fixture
def channel_id(fake: DiscordFake, guild_id: int) -> int:
    return fake.text_channels(guild_id)[0]


@pytest.fixture
def running_bot(fake: DiscordFake, db: Database, discord_settings: Settings) -> RunningBot:
    """`async with running_bot(handler) as bot:` commands synced, gateway connected, cache ready."""

    @asynccontextmanager
    async def run(
        handler: ConversationHandler,
        *,
        settings: Settings | None = None,
        database: Database | None = None,
        **client_options: Any,
    ) -> AsyncIterator[DiscordBot]:
        config = settings or discord_settings
        await sync_commands(config, guild_id=None)
        bot = DiscordBot(
            handler, database or db, config, guild_ready_timeout=0.05, **client_options
        )
        task = asyncio.create_task(bot.start())
        try:
            await fake.wait_connected()
            await asyncio.wait_for(bot.wait_until_ready(), 30)
            yield bot
        finally:
            await bot.close()
            await asyncio.wait_for(task, 30)

    return run


def unclosed_sessions(caplog: pytest.LogCaptureFixture) -> list[str]:
    """What aiohttp reports, when collected, of sessions and connectors nobody closed."""
    with caplog.at_level(logging.ERROR):
        gc.collect()
    return [r.getMessage() for r in caplog.records if "Unclosed" in r.getMessage()]
