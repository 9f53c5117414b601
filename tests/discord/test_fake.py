"""The Discord fake holds to the wire details discord.py depends on, and to Discord's reconnects."""

from __future__ import annotations

import aiohttp
import discord
import pytest
from pydantic import SecretStr

from adapters.discord import DiscordDeliverer
from tests.discord.conftest import RunningBot, unclosed_sessions
from tests.fakes.discord import DiscordFake
from viraltracker_bot.config import Settings
from viraltracker_bot.conversation import IncomingMessage, Progress, Reply


class EchoCore:
    """A stand-in core for protocol checks that do not need the agents."""

    async def handle(self, message: IncomingMessage, progress: Progress) -> Reply:
        return Reply(text=f"echo: {message.text}")


async def test_rest_answers_are_exactly_application_json(fake: DiscordFake) -> None:
    async with aiohttp.ClientSession() as http:
        me = f"{fake.api_url}/users/@me"
        ok = await http.get(me, headers={"Authorization": f"Bot {fake.token}"})
        refused = await http.get(me, headers={"Authorization": "Bot nope"})
    assert ok.headers["Content-Type"] == "application/json"  # no charset: discord.py insists
    assert refused.status == 401 and (await refused.json())["message"] == "401: Unauthorized"


async def test_a_wrong_token_fails_login_and_leaves_no_connection_open(
    fake: DiscordFake, discord_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """A digest runner with a bad token fails each run: each must close what it opened (the
    HTTP session discord.py opened to try the token), not leave it to the garbage collector."""
    wrong = discord_settings.model_copy(update={"discord_token": SecretStr("not-the-token")})
    with pytest.raises(discord.LoginFailure):
        async with DiscordDeliverer.connect(wrong):
            pass
    assert not unclosed_sessions(caplog)


async def test_threads_start_from_a_message_with_the_message_id(
    fake: DiscordFake, discord_settings: Settings, channel_id: int
) -> None:
    async with DiscordDeliverer.connect(discord_settings) as deliverer:
        message = await deliverer.client.get_partial_messageable(channel_id).send("digest")
        thread = await deliverer.client.http.start_thread_with_message(
            channel_id, message.id, name="Discuss the digest", auto_archive_duration=1440
        )
    assert thread["id"] == str(message.id) and thread["parent_id"] == str(channel_id)
    assert thread["type"] == 11 and fake.threads_of(channel_id) == [thread]


async def test_the_bot_resumes_after_the_gateway_drops_it(
    running_bot: RunningBot, fake: DiscordFake, channel_id: int
) -> None:
    async with running_bot(EchoCore()):
        (first,) = fake.sessions
        assert first.heartbeats >= 1 and first.identify is not None
        assert first.identify["intents"] & 1 and first.identify["properties"]["browser"]
        await fake.drop_connections()
        await fake.wait_for(lambda: any(s.ready.is_set() for s in fake.sessions))
        resumed = next(s for s in fake.sessions if s.ready.is_set())
        assert resumed.session_id == first.session_id  # RESUME, not a fresh IDENTIFY

        await fake.slash("viral", "ask", {"query": "still there?"}, channel_id=channel_id)
        thread = await fake.wait_for(lambda: fake.threads_of(channel_id))
        thread_id = int(thread[0]["id"])
        answer = await fake.wait_for(
            lambda: next((m for m in fake.bot_messages(thread_id)[1:] if m["content"]), None)
        )
    assert answer["content"] == "echo: still there?"
