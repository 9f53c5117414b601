"""The /viral slash commands: names, descriptions and options as Discord shows them."""

from __future__ import annotations

from typing import Any, Protocol

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

    async def digest(
        self, interaction: discord.Interaction, action: str, **fields: Any
    ) -> None: ...


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
        self.add_command(DigestCommands(self))

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


class DigestCommands(app_commands.Group):
    """`/viral digest add|list|remove`: a saved search posted to this channel on a schedule."""

    def __init__(self, viral: ViralCommands) -> None:
        super().__init__(name="digest", description="Scheduled digests posted to this channel")
        self.viral = viral

    @app_commands.command(name="add", description="Post a search here on a schedule")
    @app_commands.describe(
        schedule="When: 'every weekday at 9am', 'every monday at 10', or cron '0 9 * * 1-5'",
        post="What: 'the top new TikToks about #productivity'",
        timezone="IANA time zone, e.g. Europe/Berlin (default UTC)",
    )
    async def add(
        self,
        interaction: discord.Interaction,
        schedule: app_commands.Range[str, 1, 200],
        post: app_commands.Range[str, 1, QUERY_MAX_LENGTH],
        timezone: app_commands.Range[str, 1, 64] | None = None,
    ) -> None:
        await self.viral._actions().digest(
            interaction, "add", when=schedule, post=post, timezone=timezone
        )

    @app_commands.command(name="list", description="This server's digests and their next runs")
    async def list_(self, interaction: discord.Interaction) -> None:
        await self.viral._actions().digest(interaction, "list")

    @app_commands.command(name="remove", description="Stop a digest")
    @app_commands.describe(schedule_id="The digest's number, from /viral digest list")
    @app_commands.rename(schedule_id="id")
    async def remove(self, interaction: discord.Interaction, schedule_id: int) -> None:
        await self.viral._actions().digest(interaction, "remove", schedule_id=schedule_id)
