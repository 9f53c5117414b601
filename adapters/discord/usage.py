"""What a Discord server has spent (actor runs, model tokens), for /viral usage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import discord
from pydantic import BaseModel
from sqlalchemy import func, select

from viraltracker_bot.storage.database import Database
from viraltracker_bot.storage.tables import AgentRunRow

RECENT_DAYS = 30
USAGE_COLOUR = discord.Colour(0x5865F2)


class GuildUsage(BaseModel):
    """Totals over the agent runs recorded for one workspace (a Discord guild id)."""

    agent_runs: int = 0
    actor_runs: int = 0
    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens


async def guild_usage(db: Database, guild_id: int, since: datetime | None = None) -> GuildUsage:
    """Sums straight from agent_runs: every process records there, so this is the server's total."""
    stmt = select(
        func.count(AgentRunRow.id),
        func.coalesce(func.sum(AgentRunRow.actor_runs), 0),
        func.coalesce(func.sum(AgentRunRow.input_tokens), 0),
        func.coalesce(func.sum(AgentRunRow.output_tokens), 0),
    ).where(AgentRunRow.workspace == str(guild_id))
    if since is not None:
        stmt = stmt.where(AgentRunRow.started_at >= since)
    async with db.sessions() as session:
        runs, actors, tokens_in, tokens_out = (await session.execute(stmt)).one()
    return GuildUsage(
        agent_runs=int(runs),
        actor_runs=int(actors),
        input_tokens=int(tokens_in),
        output_tokens=int(tokens_out),
    )


async def usage_embed(db: Database, guild: discord.Guild | None, guild_id: int) -> discord.Embed:
    """Last 30 days beside all time, as an embed."""
    recent = await guild_usage(db, guild_id, datetime.now(UTC) - timedelta(days=RECENT_DAYS))
    total = await guild_usage(db, guild_id)
    name = guild.name if guild is not None else "this server"
    embed = discord.Embed(title=f"ViralTracker usage for {name}", colour=USAGE_COLOUR)
    for label, usage in ((f"Last {RECENT_DAYS} days", recent), ("All time", total)):
        embed.add_field(name=label, value=describe(usage), inline=True)
    embed.set_footer(text="Actor runs are Apify scraper runs; tokens are model input + output.")
    return embed


def describe(usage: GuildUsage) -> str:
    return (
        f"**{usage.actor_runs:,}** actor runs\n"
        f"**{usage.tokens:,}** model tokens "
        f"({usage.input_tokens:,} in / {usage.output_tokens:,} out)\n"
        f"{usage.agent_runs:,} agent runs"
    )
