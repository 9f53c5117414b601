"""The Discord bot: a discord.py client with the /viral commands, sessions per thread, sync."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import Any

import discord
from discord import app_commands

from adapters.base import ConversationHandler
from adapters.discord.commands import ViralCommands
from adapters.discord.endpoints import point_discord_at, rest_client
from adapters.discord.gate import Gate, GuardedCommandTree
from adapters.discord.messages import ThreadMessages
from adapters.discord.render import NO_MENTIONS
from adapters.discord.sessions import ThreadSessions, refuse_in_place
from adapters.discord.usage import usage_embed
from viraltracker_bot.config import Settings
from viraltracker_bot.storage.database import Database

log = logging.getLogger(__name__)

# Platforms give a stopping worker about 30 s (SIGTERM, then SIGKILL): finish answers within it.
DRAIN_S = 25.0
EXPORT_OUTSIDE_THREAD = (
    "Run `/viral export` inside one of my threads: it exports that conversation's last results. "
    "Start one with `/viral ask`."
)


def intents_for(settings: Settings) -> discord.Intents:
    """Guilds (channels, threads) and guild messages; message content only when configured."""
    intents = discord.Intents.none()
    intents.guilds = True
    intents.guild_messages = True
    intents.message_content = settings.discord_message_content
    return intents


def make_client(settings: Settings, **options: Any) -> discord.Client:
    """One gateway connection by default; `DISCORD_SHARD_COUNT` shards in one process if set."""
    options = {"intents": intents_for(settings), "allowed_mentions": NO_MENTIONS, **options}
    if settings.discord_shard_count:
        return discord.AutoShardedClient(shard_count=settings.discord_shard_count, **options)
    return discord.Client(**options)


def bot_token(settings: Settings) -> str:
    if settings.discord_token is None:
        raise RuntimeError("DISCORD_TOKEN is not set: create a bot in the Discord developer portal")
    return settings.discord_token.get_secret_value()


class DiscordBot:
    """The running bot. Takes the core, the database and settings, so tests run the real thing.

    `client_options` go to discord.py's Client (tests shorten `guild_ready_timeout`).
    """

    def __init__(
        self,
        conversation: ConversationHandler,
        db: Database,
        settings: Settings,
        **client_options: Any,
    ) -> None:
        point_discord_at(settings)
        self.settings = settings
        self.db = db
        self.client = make_client(settings, **client_options)
        self.gate = Gate(settings, db)
        self.sessions = ThreadSessions(conversation)
        self.tree = GuardedCommandTree(self.client, gate=self.gate)
        self.tree.add_command(ViralCommands(self))
        messages = ThreadMessages(
            self.client, self.gate, self.sessions, plain_text=settings.discord_message_content
        )
        self.client.event(messages.on_message)

    async def start(self) -> None:
        """Log in and hold the gateway connection until closed (discord.py reconnects)."""
        await self.client.start(bot_token(self.settings))

    async def close(self, drain_s: float = DRAIN_S) -> None:
        """Stop taking new work, let answers in flight be posted, then disconnect."""
        self.gate.closing = True
        await self.sessions.drain(drain_s)
        await self.client.close()

    async def wait_until_ready(self) -> None:
        await self.client.wait_until_ready()

    # --- the /viral actions --------------------------------------------------------------------

    async def ask(self, interaction: discord.Interaction, query: str) -> None:
        channel = interaction.channel
        if isinstance(channel, discord.TextChannel):
            await self.sessions.ask_in_channel(interaction, channel, query)
        elif isinstance(channel, discord.abc.Messageable):
            await self.sessions.ask_in_place(interaction, channel, query)
        else:
            await refuse_in_place(interaction, "I can't answer in this kind of channel.")

    async def export(self, interaction: discord.Interaction, fmt: str) -> None:
        channel = interaction.channel
        if not isinstance(channel, discord.Thread):
            await refuse_in_place(interaction, EXPORT_OUTSIDE_THREAD)
            return
        await self.sessions.ask_in_place(interaction, channel, f"export the last results as {fmt}")

    async def usage(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True, ephemeral=True)
        guild_id = interaction.guild_id or 0
        embed = await usage_embed(self.db, interaction.guild, guild_id)
        await interaction.edit_original_response(embed=embed)


async def run_discord(settings: Settings) -> None:
    """`viraltracker-bot discord`: the core (database, services, conversation) plus the bot."""
    from viraltracker_bot.runtime import Runtime

    bot_token(settings)
    discord.utils.setup_logging(level=logging.INFO)  # what `Client.run` would set up
    runtime = await Runtime.start(settings)
    bot = DiscordBot(runtime.conversation, runtime.db, settings)
    log.info("%s", settings.mode_banner())
    stop = stop_on_signals()
    serving = asyncio.create_task(bot.start())
    stopping = asyncio.create_task(stop.wait())
    try:
        done, _ = await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if serving in done:
            serving.result()  # a login or gateway failure ends the command with its error
    finally:
        stopping.cancel()
        await bot.close()
        await asyncio.gather(serving, return_exceptions=True)
        await runtime.close()


def stop_on_signals() -> asyncio.Event:
    """SIGTERM (a deploy) and SIGINT (Ctrl-C) stop the bot gracefully instead of mid-answer."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    return stop


async def sync_commands(
    settings: Settings, guild_id: int | None = None
) -> list[app_commands.AppCommand]:
    """Register /viral with Discord: in one guild (instant, for development) or globally.

    REST only (no gateway): log in, PUT the command list, log out.
    """
    point_discord_at(settings)
    client = rest_client()
    tree = app_commands.CommandTree(client)
    tree.add_command(ViralCommands())
    await client.login(bot_token(settings))
    try:
        if guild_id is None:
            return await tree.sync()
        guild = discord.Object(id=guild_id)
        tree.copy_global_to(guild=guild)
        return await tree.sync(guild=guild)
    finally:
        await client.close()
