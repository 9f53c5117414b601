"""No token, key or signing secret ever reaches a log line, at DEBUG, in good runs and bad ones.

Two ways in: the bot in this process with every logger captured at DEBUG (replies, exports,
Socket Mode, Apify outages, Slack refusals and rate limits, a model that crashes, forged and
malformed requests), and the bot as its own process at VIRALTRACKER_LOG_LEVEL=DEBUG, whose
whole stderr is read back.
"""

from __future__ import annotations

import asyncio
import json
import logging
import traceback
from pathlib import Path

import aiohttp
import pytest
from pydantic import SecretStr
from pydantic_ai.models.function import AgentInfo, FunctionModel

from tests.fakes.apify import ApifyFake
from tests.fakes.slack import SlackFake
from tests.reliability.bots import Sender, answers_of, bot_env, start_bot
from tests.slack.conftest import running_bot, slack_settings
from viraltracker_bot.config import Settings
from viraltracker_bot.conversation import Conversation
from viraltracker_bot.runtime import Runtime

ANTHROPIC_KEY = "sk-ant-api03-never-log-this-key"


def _secrets(slack: SlackFake, apify: ApifyFake) -> list[str]:
    return [slack.bot_token, slack.app_token, slack.signing_secret, apify.token, ANTHROPIC_KEY]


def _everything(records: list[logging.LogRecord]) -> str:
    """Each record as a handler would write it, tracebacks and all."""
    formatter = logging.Formatter("%(levelname)s %(name)s %(message)s")
    lines = []
    for record in records:
        lines.append(formatter.format(record))
        if record.exc_info and record.exc_info[1] is not None:
            lines.append("".join(traceback.format_exception(record.exc_info[1])))
    return "\n".join(lines)


def _crashing(messages: list, info: AgentInfo):
    raise RuntimeError(f"model blew up; settings had {ANTHROPIC_KEY[:6]}…")


async def test_no_secret_in_any_log_line_of_this_process(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with SlackFake() as slack, ApifyFake(latency_s=0.05) as apify:
        base = Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'logs.db'}",
            export_dir=tmp_path,
            apify_token=apify.token,
            apify_api_base_url=apify.url,
            apify_max_retries=1,
            apify_retry_base_delay_s=0.01,
            anthropic_api_key=SecretStr(ANTHROPIC_KEY),
        )
        settings = slack_settings(base, slack)
        runtime = await Runtime.start(settings)
        offline = Conversation(settings, runtime.db, runtime.services, model=_offline_router())
        try:
            async with running_bot(settings, offline, runtime.db, slack, socket=True) as bot:
                ask = slack.user_says("C1", "<@U0BOT> find viral tiktok videos about cats")
                await slack.push_envelope(slack.mention(ask))
                await slack.wait_for_reply("C1", ask.ts)
                export = slack.user_says("C1", "export those as csv", thread_ts=ask.ts)
                await slack.post_event(slack.message_event(export))
                await slack.wait_for_reply("C1", ask.ts, count=2, files=1)

                apify.fail_always(500)  # an Apify outage, explained in the thread
                down = slack.user_says("C1", "<@U0BOT> find viral tiktok videos about lego")
                await slack.post_event(slack.mention(down))
                await slack.wait_for_reply("C1", down.ts)
                apify.fail_always(None)

                slack.rate_limit("assistant.threads.setStatus", times=1, retry_after=1)
                slack.fail("chat.startStream", "not_allowed_token_type")
                slack.fail("chat.postMessage", "invalid_auth")  # the answer cannot be posted
                refused = slack.user_says("C2", "<@U0BOT> hello")
                await slack.post_event(slack.mention(refused))
                await slack.wait_for(lambda: _refused(slack, "chat.postMessage", "invalid_auth"))
                forged = json.dumps(slack.mention(refused))
                await slack.post_event(forged, headers=slack.signed_headers(forged, secret="x"))
                await slack.post_event("{not json", headers=slack.signed_headers("{not json"))
                await bot.turns.drain(60)

            crashing = Conversation(
                settings, runtime.db, runtime.services, model=FunctionModel(_crashing)
            )
            async with running_bot(settings, crashing, runtime.db, slack) as bot:
                boom = slack.user_says("C3", "<@U0BOT> find viral tweets about bitcoin")
                await slack.post_event(slack.mention(boom))
                await slack.wait_for_reply("C3", boom.ts)
                await bot.turns.drain(60)
        finally:
            await runtime.close()

    logged = _everything(caplog.records)
    assert "chat.postMessage" in logged and "apify" in logged.lower()  # DEBUG was captured
    assert "Traceback" in logged  # and the failures, with their tracebacks
    for secret in _secrets(slack, apify):
        assert secret not in logged


def _refused(slack: SlackFake, method: str, error: str) -> bool:
    return any(call.response.get("error") == error for call in slack.calls_to(method))


def _offline_router() -> FunctionModel:
    from viraltracker_bot.agent.offline import route

    return FunctionModel(route, model_name="offline-router")


async def test_no_secret_in_the_stderr_of_a_bot_process_at_debug(tmp_path: Path) -> None:
    async with (
        SlackFake() as slack,
        ApifyFake(latency_s=0.05) as apify,
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http,
    ):
        env = bot_env(
            slack,
            apify,
            f"sqlite+aiosqlite:///{tmp_path / 'debug.db'}",
            tmp_path,
            VIRALTRACKER_LOG_LEVEL="DEBUG",
            VIRALTRACKER_APIFY_MAX_RETRIES="1",
        )
        bot = await start_bot(env, tmp_path, "debug-bot")
        sender = Sender(slack, http)
        try:
            ask = sender.mention("C1", "find viral tiktok videos about cats", user="U1")
            assert await sender.deliver(ask, bot.url)
            await slack.wait_for(lambda: bool(answers_of(slack, ask)), within=60)
            export = sender.follow_up(ask, "export those as csv", user="U1")
            assert await sender.deliver(export, bot.url)
            apify.fail_always(500)
            down = sender.mention("C2", "find viral tiktok videos about lego", user="U2")
            assert await sender.deliver(down, bot.url)
            await slack.wait_for(
                lambda: bool(answers_of(slack, export) and answers_of(slack, down)), within=60
            )
        finally:
            await bot.stop()
    logged = await asyncio.to_thread(bot.log.read_text, errors="replace")
    assert "DEBUG" in logged and "chat.postMessage" in logged
    for secret in _secrets(slack, apify):
        assert secret not in logged
