"""Digests on Discord: delivered over REST into a channel, with the CSV and chart attached."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.discord import DiscordBot, DiscordDeliverer, sync_commands
from tests.digests.conftest import Clock, TikTokFeed, with_settings
from tests.fakes.discord import DiscordFake
from viraltracker_bot.config import Settings
from viraltracker_bot.conversation import Conversation
from viraltracker_bot.digests import repository as repo
from viraltracker_bot.digests.parsing import parse_query
from viraltracker_bot.digests.runner import DigestRunner
from viraltracker_bot.platforms.service import PlatformServices
from viraltracker_bot.storage.database import Database


@pytest.fixture
async def discord() -> AsyncIterator[DiscordFake]:
    async with DiscordFake() as fake:
        fake.add_guild("Viral Lab", ("general", "digests"))
        yield fake


@pytest.fixture
def discord_settings(live_settings: Settings, discord: DiscordFake) -> Settings:
    return with_settings(
        live_settings,
        discord_token=discord.token,
        discord_api_url=discord.api_url,
        discord_gateway_url=discord.gateway_url,
    )


def digests_channel(discord: DiscordFake) -> int:
    return discord.text_channels(next(iter(discord.guilds)))[1]


async def test_a_digest_is_posted_to_a_discord_channel_with_its_files(
    db: Database,
    clock: Clock,
    feed: TikTokFeed,
    services: PlatformServices,
    discord: DiscordFake,
    discord_settings: Settings,
) -> None:
    channel = digests_channel(discord)
    await repo.create_schedule(
        db,
        cron="0 9 * * *",
        timezone="Europe/Berlin",
        channel=f"discord:{channel}",
        query=parse_query("top 3 new TikToks about #productivity"),
        now=clock(),
    )
    feed.add("a", 300_000)
    feed.add("b", 700_000)
    clock.set(datetime(2026, 3, 27, 8, 1, tzinfo=UTC))

    async with DiscordDeliverer.connect(discord_settings) as deliverer:
        runner = DigestRunner(discord_settings, db, services, {"discord": deliverer}, clock=clock)
        [outcome] = await runner.run_due(clock())

    assert outcome.status == "posted" and outcome.new_posts == 2
    messages = discord.visible(channel)
    text = "\n".join(m["content"] for m in messages)
    assert "Digest #1: top 3 new TikToks about #productivity" in text
    assert text.index("creator_b") < text.index("creator_a")
    names = [a["filename"] for m in messages for a in m["attachments"]]
    assert any(n.endswith(".csv") for n in names) and any(n.endswith(".png") for n in names)


async def test_viral_digest_add_list_and_remove(
    db: Database,
    services: PlatformServices,
    discord: DiscordFake,
    discord_settings: Settings,
) -> None:
    channel = digests_channel(discord)
    guild = next(iter(discord.guilds))
    await sync_commands(discord_settings, guild_id=None)
    conversation = Conversation(discord_settings, db, services)
    bot = DiscordBot(conversation, db, discord_settings, guild_ready_timeout=0.05)
    running = asyncio.create_task(bot.start())

    async def command(subcommand: str, options: dict[str, Any] | None = None) -> str:
        interaction = await discord.slash("viral", subcommand, options, channel_id=channel)
        answered = await discord.wait_for(
            lambda: (discord.original_response(interaction) or {}).get("content")
        )
        return str(answered)

    try:
        await discord.wait_connected()
        await asyncio.wait_for(bot.wait_until_ready(), 30)
        added = await command(
            "digest add",
            {
                "schedule": "every weekday at 9am",
                "post": "the top 5 new TikToks about #productivity",
                "timezone": "Europe/Berlin",
            },
        )
        assert added.startswith("Scheduled digest #1: every weekday at 09:00 (Europe/Berlin)")
        assert "top 5 new TikToks about #productivity here" in added
        [row] = await repo.list_schedules(db)
        assert (row.channel, row.workspace) == (f"discord:{channel}", str(guild))
        assert row.created_by is not None and row.created_by.startswith("discord:")

        listed = await command("digest list")
        assert f"#1 every weekday at 09:00 (Europe/Berlin) in <#{channel}>" in listed

        removed = await command("digest remove", {"id": 1})
        assert "Removed digest #1" in removed
        assert await repo.list_schedules(db) == []
    finally:
        await bot.close()
        await asyncio.wait_for(running, 30)
