"""Points discord.py at the Discord REST API and gateway the settings name."""

from __future__ import annotations

import discord
import discord.gateway
import discord.http
import yarl

from viraltracker_bot.config import Settings


def point_discord_at(settings: Settings) -> None:
    """Route every REST call and gateway connection to `DISCORD_API_URL` / `DISCORD_GATEWAY_URL`.

    discord.py keeps both addresses as class attributes (`Route.BASE`, read by every request
    including interaction webhooks, and `DiscordWebSocket.DEFAULT_GATEWAY`, used by a plain
    `Client` and by `AutoShardedClient` with a fixed shard count); there is no per-client
    option. So they are process-wide by nature, and this is the one place that sets them: at
    bot, sync or deliverer start, before any client logs in. One process talks to one Discord
    (the real one, a proxy, or the protocol fake in tests); RESUME still follows the
    `resume_gateway_url` the gateway hands out in READY.
    """
    discord.http.Route.BASE = settings.discord_api_url.rstrip("/")
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)


def rest_client() -> discord.Client:
    """A client for REST-only work (command sync, digest delivery): it never opens the gateway.

    The guilds intent changes nothing over REST; it only spares the log discord.py's warning
    that state tracking is off.
    """
    return discord.Client(intents=discord.Intents(guilds=True))
