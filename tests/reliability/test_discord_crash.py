"""Discord: a bot process killed in the middle of a turn; its restart answers in the thread, once.

`python -m viraltracker_bot discord` runs against the Discord and Apify fakes of this process.
It is killed with SIGKILL while a scraper run of the turn is under way (the gateway does not
replay events to a new process, so only the durable inbox remembers the question), then started
again: it takes the turn over and answers in the thread with the bot token. The answer's
messages carry nonces derived from the turn, so the status message the dead process had posted
becomes the answer instead of a second one appearing. The answers are counted once the inbox
holds nothing unfinished and the process stopped gracefully: nothing is left to post another.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from adapters.discord import sync_commands
from tests.fakes.apify import ApifyFake
from tests.fakes.discord import FLAG_LOADING, DiscordFake
from tests.reliability.bots import ROOT
from viraltracker_bot.config import Settings
from viraltracker_bot.storage.database import Database
from viraltracker_bot.storage.inbox import UNDONE
from viraltracker_bot.storage.tables import ProcessedEventRow

Message = dict[str, Any]


@dataclass
class DiscordWorld:
    fake: DiscordFake
    apify: ApifyFake
    env: dict[str, str]
    work: Path
    channel_id: int


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[DiscordWorld]:
    async with DiscordFake() as fake, ApifyFake(latency_s=2.0) as apify:
        guild = fake.add_guild("Viral Lab", ("general",))
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            discord_token=SecretStr(fake.token),
            discord_api_url=fake.api_url,
            discord_gateway_url=fake.gateway_url,
        )
        await sync_commands(settings)
        env = {k: v for k, v in os.environ.items() if not k.startswith("VIRALTRACKER_")}
        env.pop("ANTHROPIC_API_KEY", None)
        env |= {
            "PYTHONPATH": str(ROOT),
            "DISCORD_TOKEN": fake.token,
            "DISCORD_API_URL": fake.api_url,
            "DISCORD_GATEWAY_URL": fake.gateway_url,
            "APIFY_TOKEN": apify.token,
            "APIFY_API_BASE_URL": apify.url,
            "VIRALTRACKER_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'discord.db'}",
            "VIRALTRACKER_EXPORT_DIR": str(tmp_path / "exports"),
            "VIRALTRACKER_DIGEST_POLL_S": "0",
            "VIRALTRACKER_REPLICA_ID": "discord-bot",
            "VIRALTRACKER_INBOX_LEASE_S": "3",
            "VIRALTRACKER_INBOX_SWEEP_S": "0.5",
        }
        yield DiscordWorld(fake, apify, env, tmp_path, fake.text_channels(guild)[0])


async def _inbox_settled(world: DiscordWorld) -> None:
    """Wait until every stored turn is done: no process has anything left to answer."""
    db = Database(world.env["VIRALTRACKER_DATABASE_URL"])
    undone = select(func.count()).where(ProcessedEventRow.status.in_(UNDONE))
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            async with db.sessions() as session:
                if not (await session.execute(undone)).scalar_one():
                    return
            await asyncio.sleep(0.05)
        raise AssertionError("turns still unfinished after 60 s")
    finally:
        await db.dispose()


@contextlib.asynccontextmanager
async def discord_bot(world: DiscordWorld, name: str) -> AsyncIterator[asyncio.subprocess.Process]:
    sessions_before = len(world.fake.sessions)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "viraltracker_bot",
        "discord",
        cwd=world.work,
        env=world.env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=(world.work / f"{name}.log").open("ab"),
    )
    try:
        await world.fake.wait_for(
            lambda: any(s.ready.is_set() for s in world.fake.sessions[sessions_before:]), 120
        )
        yield process
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 60)
            except TimeoutError:
                process.kill()
                await process.wait()


async def _kill_when_scraping(world: DiscordWorld, process: asyncio.subprocess.Process) -> None:
    """SIGKILL once the turn's scraper run is under way (the answer is not there yet)."""
    runs = world.apify.run_count
    deadline = time.monotonic() + 60
    while world.apify.run_count == runs and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.02)
    assert world.apify.run_count > runs, "the turn never started its scraper run"
    os.kill(process.pid, signal.SIGKILL)
    await process.wait()


def _finished(message: Message) -> bool:
    return not message.get("flags", 0) & FLAG_LOADING and not message["content"].startswith("⏳")


def _answers(world: DiscordWorld, thread_id: int, *, after_header: bool = True) -> list[Message]:
    messages = world.fake.bot_messages(thread_id)
    return [m for m in (messages[1:] if after_header else messages) if _finished(m)]


async def test_a_follow_up_whose_process_died_is_answered_once_after_the_restart(
    world: DiscordWorld,
) -> None:
    fake = world.fake
    async with discord_bot(world, "first") as first:
        await fake.slash("viral", "ask", {"query": "viral tiktok videos about cats"})
        thread_id = int(
            await fake.wait_for(
                lambda: (fake.threads_of(world.channel_id) or [{}])[0].get("id"), 60
            )
        )
        await fake.wait_for(lambda: _answers(world, thread_id), 60)
        asked = await fake.user_message(
            thread_id, "find viral tiktok videos about lego", mention_bot=True
        )
        await _kill_when_scraping(world, first)
    assert not _replies_to(world, thread_id, asked)

    async with discord_bot(world, "second"):
        await fake.wait_for(lambda: _replies_to(world, thread_id, asked), 60)
        await _inbox_settled(world)
    [answer] = _replies_to(world, thread_id, asked)
    assert "lego" in answer["content"].lower()
    statuses = [m for m in fake.bot_messages(thread_id) if m["content"].startswith("⏳")]
    assert not statuses, "a status line was left behind"


async def test_an_ask_whose_process_died_is_answered_once_in_its_thread(
    world: DiscordWorld,
) -> None:
    fake = world.fake
    async with discord_bot(world, "first") as first:
        await fake.slash("viral", "ask", {"query": "viral tiktok videos about chess"})
        thread_id = int(
            await fake.wait_for(
                lambda: (fake.threads_of(world.channel_id) or [{}])[0].get("id"), 60
            )
        )
        await _kill_when_scraping(world, first)
    assert not _answers(world, thread_id)

    async with discord_bot(world, "second"):
        await fake.wait_for(lambda: _answers(world, thread_id), 60)
        await _inbox_settled(world)
    [answer] = _answers(world, thread_id)
    assert "chess" in answer["content"].lower()
    assert len(fake.threads_of(world.channel_id)) == 1


def _replies_to(world: DiscordWorld, thread_id: int, asked: Message) -> list[Message]:
    return [
        m
        for m in world.fake.bot_messages(thread_id)
        if (m.get("message_reference") or {}).get("message_id") == asked["id"] and _finished(m)
    ]
