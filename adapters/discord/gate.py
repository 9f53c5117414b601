"""What every Discord event passes before it reaches the core: exactly-once and the allowlists."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import discord
from discord import app_commands

from adapters.discord.render import error_embed
from viraltracker_bot.config import Settings
from viraltracker_bot.storage.database import Database
from viraltracker_bot.storage.events import claim_event

log = logging.getLogger(__name__)

GUILD_REFUSAL = (
    "Sorry, I'm not enabled on this server. "
    "Ask whoever runs this ViralTracker bot to add the server to its allowlist."
)
CHANNEL_REFUSAL = (
    "Sorry, I don't answer in this channel. Try one of the channels I'm enabled in, "
    "or ask whoever runs this ViralTracker bot to add this one."
)
DM_REFUSAL = "I only work inside servers: run /viral in a server channel."
RESTARTING = "I'm restarting right now. Please ask again in a minute."
UNCLAIMED_TEXT = (
    "I can't reach my database right now, so I can't take this on. Please try again in a minute."
)
FAILURE_TEXT = (
    "Something went wrong on my side while handling that command. "
    "Nothing was lost; please try again in a minute."
)


class Gate:
    """The allowlists from settings, and the claim that makes one process answer each event once."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.closing = False
        self.allowed_guilds = frozenset(settings.discord_allowed_guilds)
        self.allowed_channels = frozenset(settings.discord_allowed_channels)
        self.db = db

    def refusal(self, guild_id: int | None, channel_ids: Iterable[int | None]) -> str | None:
        """Why the bot takes nothing on here right now, or None (restarting, or the place)."""
        if self.closing:
            return RESTARTING
        return self.place_refusal(guild_id, channel_ids)

    def place_refusal(self, guild_id: int | None, channel_ids: Iterable[int | None]) -> str | None:
        """Why this place may not use the bot, or None. Allowing a channel allows its threads."""
        if guild_id is None:
            return DM_REFUSAL
        if self.allowed_guilds and str(guild_id) not in self.allowed_guilds:
            return GUILD_REFUSAL
        ids = {str(c) for c in channel_ids if c is not None}
        if self.allowed_channels and not ids & self.allowed_channels:
            return CHANNEL_REFUSAL
        return None

    async def first_delivery(self, event_id: str, conversation_key: str | None = None) -> bool:
        """True once per Discord event id across every process sharing the database.

        Discord may deliver an event again (a gateway RESUME replays, two shards or workers
        overlap); only the claimer answers, so nobody gets two answers.
        """
        return await claim_event(self.db, f"discord:{event_id}", "discord", conversation_key)


def place_of(channel: Any) -> tuple[int | None, ...]:
    """The channel ids an allowlist entry may name: the channel, and a thread's parent."""
    if isinstance(channel, discord.Thread):
        return (channel.id, channel.parent_id)
    return (getattr(channel, "id", None),)


class GuardedCommandTree(app_commands.CommandTree):
    """The command tree with the gate in front: like bolt's middleware, not an `if` per command."""

    def __init__(self, client: discord.Client, *, gate: Gate) -> None:
        super().__init__(client)
        self.gate = gate

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        try:
            first = await self.gate.first_delivery(f"interaction:{interaction.id}")
        except Exception:
            # Without the claim two processes could both answer; say so rather than time out.
            log.exception("could not claim interaction %s", interaction.id)
            await interaction.response.send_message(
                embed=error_embed(UNCLAIMED_TEXT), ephemeral=True
            )
            return False
        if not first:
            log.info("interaction %s delivered again; already answered", interaction.id)
            return False
        refusal = self.gate.refusal(interaction.guild_id, place_of(interaction.channel))
        if refusal is not None:
            log.info("refused interaction %s in guild %s", interaction.id, interaction.guild_id)
            await interaction.response.send_message(refusal, ephemeral=True)
            return False
        return True

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError, /
    ) -> None:
        """Every failure gets a clear answer; the details go to the log, not to the user."""
        log.error("command failed: %s", error, exc_info=error)
        embed = error_embed(FAILURE_TEXT)
        try:
            if interaction.response.is_done():
                await interaction.followup.send(embed=embed, ephemeral=True)
            else:
                await interaction.response.send_message(embed=embed, ephemeral=True)
        except discord.HTTPException:
            log.warning("could not tell the user about the failed command %s", interaction.id)
