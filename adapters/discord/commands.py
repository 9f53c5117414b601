"""The /viral slash commands: names, descriptions and options as Discord shows them."""

from __future__ import annotations

from typing import Protocol

import discord
from discord import app_commands

EXPORT_FORMATS = [
    app_commands.Choice(name="CSV (spreadsheets)", value="csv"),
    app_commands.Choice(name="JSON", value="json"),
    app_commands.Choice(name="Markdown", value="markdown"),
]
QUERY_MAX_LENGTH = 1500


class ViralActions(Protocol):
    """What the commands do; the bot implements it (the command shapes alone are enough to sync)."""

    async def ask(self, interaction: discord.Interaction, query: str) -> None: ...

    async def export(self, interaction: discord.Interaction, fmt: str) -> None: ...

    async def usage(self, interaction: discord.Interaction) -> None: ...


class ViralCommands(app_commands.Group):
    """`/viral ask`, `/viral export`, `/viral usage`: thin shells that hand over to the actions."""

    def __init__(self, actions: ViralActions | None = None) -> None:
        super().__init__(
            name="viral",
            description="Find and analyse viral posts on X, TikTok, YouTube and Facebook ads",
            guild_only=True,
            # Sessions live in server threads: offer /viral in servers only, not DMs.
            allowed_contexts=app_commands.AppCommandContext(guild=True),
        )
        self.actions = actions

    def _actions(self) -> ViralActions:
        if self.actions is None:
            raise RuntimeError("these commands were built for syncing only")
        return self.actions

    @app_commands.command(name="ask", description="Ask about viral posts; I answer in a thread")
    @app_commands.describe(
        query="What to find or analyse, e.g. 'viral bitcoin tweets from the last 24h, export csv'"
    )
    async def ask(
        self,
        interaction: discord.Interaction,
        query: app_commands.Range[str, 1, QUERY_MAX_LENGTH],
    ) -> None:
        await self._actions().ask(interaction, query)

    @app_commands.command(name="export", description="Export this thread's last results as a file")
    @app_commands.describe(format="The file format to attach")
    @app_commands.choices(format=EXPORT_FORMATS)
    async def export(
        self, interaction: discord.Interaction, format: app_commands.Choice[str]
    ) -> None:
        await self._actions().export(interaction, format.value)

    @app_commands.command(
        name="usage", description="What this server has spent: scraper (actor) runs, model tokens"
    )
    async def usage(self, interaction: discord.Interaction) -> None:
        await self._actions().usage(interaction)
