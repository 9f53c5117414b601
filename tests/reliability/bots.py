"""Bot processes for the reliability tests: `python -m viraltracker_bot slack`, as deployed.

Each process gets its settings from the environment, like a real deployment: the Slack and Apify
fakes (running in the test process) as its APIs, a shared database, short inbox leases so a
takeover happens within the test. Its log goes to a file the tests read back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from tests.fakes.apify import ApifyFake
from tests.fakes.slack import FakeMessage, SlackFake

ROOT = Path(__file__).resolve().parents[2]
START_WITHIN_S = 120.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bot_env(
    slack: SlackFake, apify: ApifyFake, database_url: str, work: Path, **extra: str
) -> dict[str, str]:
    """What an operator would export for the bot, pointed at the fakes."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRALTRACKER_", "SLACK_"))}
    env.pop("ANTHROPIC_API_KEY", None)
    env.pop("APIFY_TOKEN", None)
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "SLACK_BOT_TOKEN": slack.bot_token,
            "SLACK_SIGNING_SECRET": slack.signing_secret,
            "SLACK_API_URL": slack.api_url,
            "APIFY_TOKEN": apify.token,
            "APIFY_API_BASE_URL": apify.url,
            "VIRALTRACKER_APIFY_RETRY_DELAY_S": "0.05",
            "VIRALTRACKER_DATABASE_URL": database_url,
            "VIRALTRACKER_EXPORT_DIR": str(work / "exports"),
            "VIRALTRACKER_DIGEST_POLL_S": "0",
            "VIRALTRACKER_INBOX_LEASE_S": "3",
            "VIRALTRACKER_INBOX_SWEEP_S": "0.5",
        }
    )
    env.update(extra)
    return env


@dataclass
class BotProcess:
    """One running bot; `url` is its events endpoint, `exited` its exit code once it ended."""

    pid: int
    port: int
    log: Path
    exited: asyncio.Future[int]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/slack/events"

    @property
    def alive(self) -> bool:
        return not self.exited.done()

    def kill(self) -> None:
        """SIGKILL: no cleanup, no drain, exactly what a crash or an OOM kill does."""
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)

    async def wait_dead(self) -> None:
        await asyncio.wait_for(asyncio.shield(self.exited), 30)

    async def stop(self) -> int:
        """SIGTERM: the graceful stop of a deploy."""
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
        try:
            return await asyncio.wait_for(asyncio.shield(self.exited), 60)
        except TimeoutError:
            self.kill()
            return await self.exited


async def start_bot(env: dict[str, str], work: Path, name: str) -> BotProcess:
    """Start a bot process and wait until it answers /healthz."""
    port = free_port()
    log = work / f"{name}.log"
    with log.open("ab") as stderr:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "viraltracker_bot",
            "slack",
            cwd=work,
            env={**env, "PORT": str(port)},
            stdout=asyncio.subprocess.DEVNULL,
            stderr=stderr,
        )
    bot = BotProcess(process.pid, port, log, asyncio.ensure_future(process.wait()))
    await _wait_healthy(bot, name)
    return bot


async def _wait_healthy(bot: BotProcess, name: str) -> None:
    """Poll /healthz often (a start-up is a fraction of a second) within a generous deadline."""
    deadline = time.monotonic() + START_WITHIN_S
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            if not bot.alive:
                log = bot.log.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{name} exited: {log}")
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"http://127.0.0.1:{bot.port}/healthz") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.01)
    bot.kill()
    raise RuntimeError(f"{name} did not start within {START_WITHIN_S} s")


@dataclass
class BotForks:
    """Slack bots forked from one process that imported the bot once (`tests.reliability.prefork`).

    For tests that restart the bot many times: a fresh `python -m viraltracker_bot slack` spends
    2-3 s of CPU importing before it serves, a fork a fraction of a second. Each bot is still a
    process of its own (its pid is SIGKILLed), started only when `start` is called.
    """

    env: dict[str, str]
    work: Path
    command: str = "slack"
    bots: list[BotProcess] = field(default_factory=list)
    _server: asyncio.subprocess.Process | None = None
    _reader: asyncio.Task[None] | None = None
    _started: asyncio.Queue[int | None] = field(default_factory=asyncio.Queue)
    _exits: dict[int, asyncio.Future[int]] = field(default_factory=dict)

    async def __aenter__(self) -> BotForks:
        with (self.work / "prefork.log").open("ab") as stderr:
            self._server = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tests.reliability.prefork",
                self.command,
                cwd=self.work,
                env=self.env,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=stderr,
            )
        self._reader = asyncio.create_task(self._read())
        return self

    def _exit_of(self, pid: int) -> asyncio.Future[int]:
        return self._exits.setdefault(pid, asyncio.get_running_loop().create_future())

    async def _read(self) -> None:
        assert self._server is not None and self._server.stdout is not None
        async for line in self._server.stdout:
            kind, pid, *rest = line.decode().split()
            if kind == "started":
                self._exit_of(int(pid))
                self._started.put_nowait(int(pid))
            elif kind == "exited" and not self._exit_of(int(pid)).done():
                self._exit_of(int(pid)).set_result(int(rest[0]))
        gone = RuntimeError(f"the fork server ended: {self._server_log()}")
        for exited in self._exits.values():
            if not exited.done():
                exited.set_exception(gone)
        self._started.put_nowait(None)

    def _server_log(self) -> str:
        return (self.work / "prefork.log").read_text(errors="replace")[-3000:]

    async def start(self, name: str) -> BotProcess:
        """A new bot, serving and healthy; the caller makes sure no other one is alive."""
        assert self._server is not None and self._server.stdin is not None
        port = free_port()
        log = self.work / f"{name}.log"
        request = {"env": {"PORT": str(port)}, "log": str(log)}
        self._server.stdin.write(json.dumps(request).encode() + b"\n")
        await self._server.stdin.drain()
        pid = await asyncio.wait_for(self._started.get(), START_WITHIN_S)
        if pid is None:
            raise RuntimeError(f"the fork server ended: {self._server_log()}")
        bot = BotProcess(pid, port, log, self._exits[pid])
        self.bots.append(bot)
        await _wait_healthy(bot, name)
        return bot

    async def __aexit__(self, *_exc: object) -> None:
        """Kill the bots still running (a failed test), then end the server."""
        for bot in self.bots:
            bot.kill()
        if self._server is None:
            return
        assert self._server.stdin is not None
        self._server.stdin.close()
        try:
            await asyncio.wait_for(self._server.wait(), 30)
        except TimeoutError:
            self._server.kill()
            await self._server.wait()
        if self._reader is not None:
            await self._reader


@dataclass
class Question:
    """A person's message, the event Slack sends for it, and whether the bot acknowledged it."""

    message: FakeMessage
    body: dict[str, Any]
    acked: bool = False
    deliveries: int = 0
    sent_at: float | None = None
    """When it was first delivered (time.monotonic)."""
    acked_at: float | None = None
    """When the bot's acknowledgement came back: the bot had stored it by then."""

    @property
    def event_id(self) -> str:
        return f"{self.message.channel}:{self.message.ts}"

    @property
    def thread(self) -> str:
        return self.message.thread_ts or self.message.ts


@dataclass
class Sender:
    """Plays Slack's side of the Events API: a POST per delivery, retries of the unacknowledged."""

    slack: SlackFake
    http: aiohttp.ClientSession
    questions: list[Question] = field(default_factory=list)

    def mention(self, channel: str, text: str, *, user: str) -> Question:
        message = self.slack.user_says(channel, f"<@{self.slack.bot_user_id}> {text}", user=user)
        question = Question(message=message, body=self.slack.mention(message))
        self.questions.append(question)
        return question

    def follow_up(self, parent: Question, text: str, *, user: str) -> Question:
        message = self.slack.user_says(
            parent.message.channel, text, user=user, thread_ts=parent.thread
        )
        question = Question(message=message, body=self.slack.message_event(message))
        self.questions.append(question)
        return question

    async def deliver(self, question: Question, url: str) -> bool:
        """One delivery (a retry when it is not the first); True when acknowledged with a 200."""
        raw = json.dumps(question.body)
        headers = self.slack.signed_headers(raw)
        if question.deliveries:
            headers |= {
                "X-Slack-Retry-Num": str(question.deliveries),
                "X-Slack-Retry-Reason": "http_error",
            }
        question.deliveries += 1
        if question.sent_at is None:
            question.sent_at = time.monotonic()
        try:
            async with self.http.post(url, data=raw.encode(), headers=headers) as response:
                await response.read()
                if response.status == 200:
                    question.acked = True
                    if question.acked_at is None:
                        question.acked_at = time.monotonic()
                    return True
        except (TimeoutError, aiohttp.ClientError):
            pass
        return False

    def unacknowledged(self) -> list[Question]:
        return [q for q in self.questions if not q.acked]


def answers_of(slack: SlackFake, question: Question) -> list[FakeMessage]:
    """The bot's finished text messages that say they answer this question (message metadata)."""
    return [
        m
        for m in slack.bot_replies(question.message.channel, question.thread)
        if m.text and not m.files and not m.streaming and answered_event(m) == question.event_id
    ]


def answered_event(message: FakeMessage) -> str | None:
    metadata = message.metadata or {}
    payload = metadata.get("event_payload") if isinstance(metadata, dict) else None
    return payload.get("event_id") if isinstance(payload, dict) else None
