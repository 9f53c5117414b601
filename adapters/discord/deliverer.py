"""Posting a Reply to a Discord channel or thread without a user message: scheduled digests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import discord

from adapters.discord.endpoints import point_discord_at, rest_client
from adapters.discord.render import DEFAULT_UPLOAD_LIMIT, read_attachments, render_reply
from viraltracker_bot.config import Settings
from viraltracker_bot.conversation import ChatPlatform, Reply


def discord_id(value: str) -> int:
    """Channel ids arrive as `123` or `discord:123` (how schedules name their channel)."""
    return int(value.removeprefix("discord:"))


class DiscordDeliverer:
    """Delivers over REST with the bot token: needs a logged-in client, not a gateway session."""

    platform: ChatPlatform = "discord"

    def __init__(self, client: discord.Client) -> None:
        self.client = client

    async def deliver(self, channel: str, reply: Reply, *, thread: str | None = None) -> None:
        target = self.client.get_partial_messageable(discord_id(thread or channel))
        attachments = await read_attachments(reply.files)
        # A partial channel knows no guild: use the upload limit every server has.
        for message in render_reply(reply, attachments, upload_limit=DEFAULT_UPLOAD_LIMIT):
            await target.send(**message.send_kwargs())

    @classmethod
    @asynccontextmanager
    async def connect(cls, settings: Settings) -> AsyncIterator[DiscordDeliverer]:
        """A deliverer for a process without the bot (the digest runner): REST login only."""
        if settings.discord_token is None:
            raise RuntimeError("DISCORD_TOKEN is not set")
        point_discord_at(settings)
        client = rest_client()
        try:
            # Inside: a refused token fails after discord.py opened its HTTP session.
            await client.login(settings.discord_token.get_secret_value())
            yield cls(client)
        finally:
            await client.close()
