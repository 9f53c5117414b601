"""The Discord adapter: slash commands, a session per thread, files attached, digests delivered."""

from adapters.discord.bot import DiscordBot, run_discord, sync_commands
from adapters.discord.deliverer import DiscordDeliverer

__all__ = ["DiscordBot", "DiscordDeliverer", "run_discord", "sync_commands"]
