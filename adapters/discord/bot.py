"""The Discord bot: a discord.py client with the /viral commands, sessions per thread, sync."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands

from adapters.base import ConversationHandler
from adapters.discord.commands import ViralCommands
from adapters.discord.deliverer import DiscordDeliverer
from adapters.discord.endpoints import point_discord_at, rest_client
from adapters.discord.gate import Gate, GuardedCommandTree
from adapters.discord.inbox import DiscordTurns
from adapters.discord.log_tokens import hide_interaction_tokens
from adapters.discord.messages import ThreadMessages
from adapters.discord.render import NO_MENTIONS
from adapters.discord.sessions import ThreadSessions, refuse_in_place
from adapters.discord.usage import usage_embed
from viraltracker_bot.config import Settings
from viraltracker_bot.storage.database import Database

if TYPE_CHECKING:
    from adapters.base import Deliverer

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
        hide_interaction_tokens()
        self.settings = settings
        self.db = db
        self.client = make_client(settings, **client_options)
        self.gate = Gate(settings, db)
        self.turns = DiscordTurns(conversation, db, settings, self.client)
        self.sessions = ThreadSessions(conversation, turns=self.turns)
        self.tree = GuardedCommandTree(self.client, gate=self.gate)
        self.tree.add_command(ViralCommands(self))
        messages = ThreadMessages(
            self.client, self.gate, self.sessions, plain_text=settings.discord_message_content
        )
        self.client.event(messages.on_message)
        self._connection: asyncio.Task[object] | None = None

    async def login(self) -> None:
        """REST login: from here on the client can post (digests), before the gateway is up."""
        await self.client.login(bot_token(self.settings))
        self.turns.start()  # answer what a dead process (this one's last life too) left undone

    async def start(self) -> None:
        """Log in and hold the gateway connection until closed (discord.py reconnects)."""
        await self.login()
        await self._connect()

    async def serve(self, stop: asyncio.Event) -> None:
        """After `login`: hold the gateway until `stop` is set (then take no new work).

        A failure that discord.py gives up on (a bad token, a disallowed intent) is raised.
        """
        serving = asyncio.create_task(self._connect())
        stopping = asyncio.create_task(stop.wait())
        try:
            done, _ = await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if serving in done:
                serving.result()
        finally:
            stopping.cancel()
            self.gate.closing = True

    async def close(self, drain_s: float = DRAIN_S) -> None:
        """Stop taking new work, let answers in flight be posted, then disconnect."""
        self.gate.closing = True
        await self.sessions.drain(drain_s)
        await self.turns.close(drain_s)
        await self.client.close()
        if self._connection is not None:
            await asyncio.gather(self._connection, return_exceptions=True)

    async def _connect(self) -> None:
        self._connection = asyncio.current_task()
        await self.client.connect()

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

    async def digest(self, interaction: discord.Interaction, action: str, **fields: Any) -> None:
        """`/viral digest ...`: digests of this server, posted where `digest_home` says."""
        from viraltracker_bot.digests.tools import DigestChat, run_digest_action

        await interaction.response.defer(thinking=True)
        chat = DigestChat(
            self.db,
            self.settings,
            "discord",
            str(interaction.guild_id or ""),
            str(digest_home(interaction.channel, interaction.channel_id)),
            user=str(interaction.user.id),
        )
        text = await run_digest_action(chat, action, **fields)
        await interaction.edit_original_response(content=text[:1900], allowed_mentions=NO_MENTIONS)


def digest_home(channel: object, channel_id: int | None) -> int | None:
    """Where a digest asked for here is posted: a thread's channel, or the post itself in a
    forum (or media) channel, which takes posts only, never a message of its own."""
    if not isinstance(channel, discord.Thread):
        return channel_id
    if isinstance(channel.parent, discord.ForumChannel):
        return channel.id
    return channel.parent_id


async def run_discord(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """`viraltracker-bot discord`: the core, the bot, and the digests of Discord channels.

    Runs until SIGTERM/SIGINT (or `stop`): then due digests and answers in flight finish
    first. Digests run here unless `VIRALTRACKER_DIGEST_POLL_S=0` (a separate runner).
    """
    from viraltracker_bot.digests.background import digests_in_background
    from viraltracker_bot.runtime import Runtime

    bot_token(settings)
    if not logging.getLogger().handlers:  # what `Client.run` would do, unless configured already
        discord.utils.setup_logging(level=logging.INFO)
    runtime = await Runtime.start(settings)
    bot = DiscordBot(runtime.conversation, runtime.db, settings)
    log.info("%s", settings.mode_banner())
    try:
        with stop_on_signals(stop) as stopping:
            await bot.login()
            deliverers: dict[str, Deliverer] = {"discord": DiscordDeliverer(bot.client)}
            async with digests_in_background(settings, runtime.db, runtime.services, deliverers):
                await bot.serve(stopping)
    finally:
        await bot.close()
        await runtime.close()


@contextlib.contextmanager
def stop_on_signals(stop: asyncio.Event | None) -> Iterator[asyncio.Event]:
    """SIGTERM (a deploy) and SIGINT (Ctrl-C) stop the bot gracefully instead of mid-answer."""
    if stop is not None:
        yield stop
        return
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
    try:
        yield stop
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


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
    try:
        await client.login(bot_token(settings))  # a refused token: its session is closed too
        if guild_id is None:
            return await tree.sync()
        guild = discord.Object(id=guild_id)
        tree.copy_global_to(guild=guild)
        return await tree.sync(guild=guild)
    finally:
        await client.close()
