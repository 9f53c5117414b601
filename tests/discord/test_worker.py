"""`viraltracker-bot discord` as a worker: the bot, Discord digests, a clean stop."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from adapters.discord import run_discord, sync_commands
from tests.fakes.discord import DiscordFake
from viraltracker_bot.config import Settings
from viraltracker_bot.digests import repository as repo
from viraltracker_bot.digests.parsing import parse_query
from viraltracker_bot.storage.database import Database


async def test_the_worker_answers_commands_posts_due_digests_and_stops_cleanly(
    fake: DiscordFake, discord_settings: Settings, db: Database, guild_id: int
) -> None:
    general, digests = fake.text_channels(guild_id)
    settings = discord_settings.model_copy(update={"digest_poll_s": 0.05})
    await sync_commands(settings)
    await repo.create_schedule(
        db,
        cron="0 9 * * *",
        timezone="UTC",
        channel=f"discord:{digests}",
        query=parse_query("top 3 viral tiktoks about cooking"),
        now=datetime.now(UTC) - timedelta(days=2),  # its first run is already due
    )
    stop = asyncio.Event()
    worker = asyncio.create_task(run_discord(settings, stop))
    try:
        await fake.wait_connected()
        digest = await fake.wait_for(lambda: fake.visible(digests))
        await fake.slash("viral", "ask", {"query": "viral bitcoin tweets"}, channel_id=general)
        thread = await fake.wait_for(lambda: fake.threads_of(general))
        thread_id = int(thread[0]["id"])
        answer = await fake.wait_for(
            lambda: [m for m in fake.bot_messages(thread_id)[1:] if "bitcoin" in m["content"]]
        )
    finally:
        stop.set()
        await asyncio.wait_for(worker, 60)

    assert "cooking" in "\n".join(m["content"] for m in digest).lower()
    assert answer and not fake.visible(general)[1:]  # the channel only points to the thread
    assert all(s.ws.closed for s in fake.sessions)
