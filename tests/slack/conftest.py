"""Fixtures for the Slack tests: the Slack fake, and the bot serving events against it."""

from __future__ import annotations

import asyncio
import csv
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp

from adapters.base import ConversationHandler
from adapters.slack.app import build_slack_app
from adapters.slack.server import EVENTS_PATH, HttpServer, web_app
from adapters.slack.turns import SlackTurns
from tests.fakes.slack import SlackFake
from viraltracker_bot.config import Settings
from viraltracker_bot.conversation import IncomingMessage, Progress, Reply
from viraltracker_bot.storage.database import Database


@pytest.fixture
async def slack() -> AsyncIterator[SlackFake]:
    async with SlackFake() as fake:
        yield fake


def slack_settings(settings: Settings, fake: SlackFake, **overrides: object) -> Settings:
    """The test's settings with the fake's tokens and URL, as a user would set them."""
    fields = {
        **settings.model_dump(),
        "slack_bot_token": fake.bot_token,
        "slack_signing_secret": fake.signing_secret,
        "slack_app_token": fake.app_token,
        "slack_api_url": fake.api_url,
        "slack_rate_limit_retries": 5,
        **overrides,
    }
    return Settings(_env_file=None, **fields)  # type: ignore[call-arg]


@dataclass
class RunningBot:
    """The bot serving Slack events, and what a test needs to reach it."""

    app: AsyncApp
    turns: SlackTurns
    server: HttpServer
    events_url: str


@asynccontextmanager
async def running_bot(
    settings: Settings,
    handler: ConversationHandler,
    db: Database,
    fake: SlackFake,
    *,
    socket: bool = False,
) -> AsyncIterator[RunningBot]:
    """The bot in HTTP mode (and Socket Mode when asked), wired to the fake."""
    http = aiohttp.ClientSession()
    turns = SlackTurns(handler, db)
    app = build_slack_app(settings, handler, db, http=http, turns=turns)
    server = await HttpServer(web_app(app, turns=turns), host="127.0.0.1", port=0).start()
    events_url = server.url + EVENTS_PATH
    fake.deliver_to(events_url)
    socket_handler: AsyncSocketModeHandler | None = None
    try:
        if socket:
            assert settings.slack_app_token is not None
            socket_handler = AsyncSocketModeHandler(
                app, settings.slack_app_token.get_secret_value()
            )
            await socket_handler.connect_async()
            await fake.wait_for_socket()
        yield RunningBot(app=app, turns=turns, server=server, events_url=events_url)
    finally:
        if socket_handler is not None:
            await socket_handler.close_async()
        await server.stop()
        await turns.close(30)
        await http.close()


@dataclass
class ScriptedConversation:
    """A stand-in for the core with the same door (`handle`), for adapter-only tests.

    "find <words>" remembers three results for the thread; "export those as csv" writes
    them to a CSV file; "fail" answers with an error Reply; "crash" raises.
    """

    export_dir: Path
    delay_s: float = 0.0
    seen: list[IncomingMessage] = field(default_factory=list)
    results: dict[str, list[str]] = field(default_factory=dict)
    release: asyncio.Event | None = None

    async def handle(self, message: IncomingMessage, progress: Progress) -> Reply:
        self.seen.append(message)
        key = message.key.as_string()
        await progress("Searching TikTok…")
        if self.release is not None:
            await self.release.wait()
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        text = message.text.lower()
        if text.startswith("find"):
            words = message.text[4:].strip()
            self.results[key] = [f"{words} post {i}" for i in (1, 2, 3)]
            lines = "\n".join(
                f"- **{r}** [link](https://example.com/{i})"
                for i, r in enumerate(self.results[key], 1)
            )
            return Reply(text=f"## Top TikTok posts\n{lines}")
        if "export" in text:
            rows = self.results.get(key)
            if not rows:
                return Reply(text="Nothing to export yet.", error=True)
            path = self.export_dir / f"export-{len(self.seen)}.csv"
            await asyncio.to_thread(_write_csv, path, rows)
            return Reply(text=f"Exported {len(rows)} posts.", files=[path])
        if text == "fail":
            return Reply(text="Apify is not answering right now.", error=True)
        if text == "crash":
            raise RuntimeError("boom")
        return Reply(text=f"You said: {message.text}")


def _write_csv(path: Path, rows: list[str]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["post"])
        writer.writerows([r] for r in rows)


@pytest.fixture
def scripted(settings: Settings) -> ScriptedConversation:
    return ScriptedConversation(export_dir=settings.export_dir)
