"""`run_slack`: the process a user starts, in HTTP mode and Socket Mode, and how it stops."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from adapters.slack.app import SlackSetupError
from adapters.slack.server import run_slack
from tests.fakes.apify import ApifyFake
from tests.fakes.slack import SlackFake
from tests.slack.conftest import slack_settings
from viraltracker_bot.config import Settings
from viraltracker_bot.digests.parsing import parse_query
from viraltracker_bot.digests.repository import create_schedule
from viraltracker_bot.storage.database import Database


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_healthy(url: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http:
        for _ in range(600):
            try:
                async with http.get(url) as response:
                    if response.status == 200:
                        return dict(await response.json())
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError(f"{url} never answered")


async def test_http_mode_serves_events_and_health_and_finishes_answers_when_stopped(
    settings: Settings, slack: SlackFake
) -> None:
    async with ApifyFake(latency_s=1.0) as apify:
        port = free_port()
        s = slack_settings(
            settings, slack, port=port, apify_token=apify.token, apify_api_base_url=apify.url
        )
        server = asyncio.create_task(run_slack(s))
        assert await wait_healthy(f"http://127.0.0.1:{port}/healthz") == {
            "status": "ok",
            "answering": 0,
        }
        slack.deliver_to(f"http://127.0.0.1:{port}/slack/events")
        question = slack.user_says("C1", "<@U0BOT> find viral tiktok videos about cats")
        assert (await slack.post_event(slack.mention(question)))[0] == 200
        await slack.wait_for(lambda: len(apify.runs_started) == 1)
        server.cancel()  # stopped while the answer is still being worked on
        with pytest.raises(asyncio.CancelledError):
            await server
    replies = slack.bot_replies("C1", question.ts)
    assert "TikTok search 'cats'" in replies[0].text


async def test_socket_mode_needs_no_public_url(settings: Settings, slack: SlackFake) -> None:
    s = slack_settings(settings, slack, port=free_port())
    server = asyncio.create_task(run_slack(s, socket=True))
    try:
        await slack.wait_for_socket()
        question = slack.user_says("C1", "<@U0BOT> find viral youtube shorts about sourdough")
        envelope = await slack.push_envelope(slack.mention(question))
        await slack.wait_for_ack(envelope)
        [answer] = await slack.wait_for_reply("C1", question.ts)
        assert "sourdough" in answer.text
    finally:
        server.cancel()
        with pytest.raises(asyncio.CancelledError):
            await server


@pytest.mark.parametrize(
    ("socket_mode", "unset", "named"),
    [
        (False, "slack_bot_token", "SLACK_BOT_TOKEN"),
        (False, "slack_signing_secret", "SLACK_SIGNING_SECRET"),
        (True, "slack_app_token", "SLACK_APP_TOKEN"),
    ],
)
async def test_missing_settings_are_named(
    socket_mode: bool, unset: str, named: str, settings: Settings, slack: SlackFake
) -> None:
    s = slack_settings(settings, slack, **{unset: None})
    with pytest.raises(SlackSetupError, match=named):
        await run_slack(s, socket=socket_mode)
    assert slack.calls == []


async def test_a_wrong_token_fails_at_start_with_slack_s_reason(
    settings: Settings, slack: SlackFake
) -> None:
    s = slack_settings(settings, slack, slack_bot_token="xoxb-revoked", port=free_port())
    with pytest.raises(SlackSetupError, match="invalid_auth"):
        await run_slack(s)


async def test_the_slack_process_posts_due_digests_of_slack_channels(
    settings: Settings, db: Database, slack: SlackFake
) -> None:
    await create_schedule(
        db,
        cron="* * * * *",
        timezone="UTC",
        channel="slack:C0DIGEST",
        query=parse_query("top 3 new TikToks about #productivity"),
        now=datetime.now(UTC) - timedelta(days=1),  # overdue: due at once
    )
    s = slack_settings(settings, slack, port=free_port(), digest_poll_s=0.05)
    server = asyncio.create_task(run_slack(s))
    try:
        await slack.wait_for(lambda: bool(slack.messages.get("C0DIGEST")))
    finally:
        server.cancel()
        with pytest.raises(asyncio.CancelledError):
            await server
    [digest] = [m for m in slack.messages["C0DIGEST"] if m.text and not m.files]
    assert digest.thread_ts is None
    assert "productivity" in digest.visible_text().lower()
