"""Commands that start a chat surface (terminal, Slack, Discord) or the digest runner.

They live apart from `cli.py` so that each surface's heavy imports happen only when it is run; the
CLI is the composition root, so it may import adapters (the core never does).
"""

from __future__ import annotations

from typing import Annotated

import typer

from viraltracker_bot.config import Settings

SessionOpt = Annotated[
    str | None,
    typer.Option("--session", "-s", help="Resume (or start) a named session: follow-ups share it."),
]


def register(app: typer.Typer) -> None:
    """Add the chat, bot and digest commands to the main app."""
    app.command("slack")(slack)
    discord_app = typer.Typer(help="Run the Discord bot, or register its slash commands.")
    discord_app.callback(invoke_without_command=True)(discord)
    discord_app.command("sync")(discord_sync)
    app.add_typer(discord_app, name="discord")
    _register_digests(app)
    # --- terminal chat (agents): chat, ask, stats ------------------------------------------
    from adapters.console import register_commands

    register_commands(app)


def _register_digests(app: typer.Typer) -> None:
    try:
        from viraltracker_bot.digests.cli import digests_app
    except ImportError:  # digests not built into this checkout yet
        return
    app.add_typer(digests_app, name="digests")


def slack(
    socket: Annotated[
        bool, typer.Option("--socket", help="Socket Mode (needs SLACK_APP_TOKEN): no public URL.")
    ] = False,
) -> None:
    """Run the Slack app: HTTP on $PORT (POST /slack/events, GET /healthz) or Socket Mode."""
    from adapters.slack.server import run_slack
    from viraltracker_bot.cli import run

    run(run_slack(Settings(), socket=socket))


def discord(ctx: typer.Context) -> None:
    """Run the Discord bot (slash commands /viral ask, export, usage)."""
    if ctx.invoked_subcommand is not None:
        return
    from adapters.discord.bot import run_discord
    from viraltracker_bot.cli import run

    run(run_discord(Settings()))


def discord_sync(
    guild: Annotated[
        int | None,
        typer.Option("--guild", help="Register in one guild (instant) instead of globally."),
    ] = None,
) -> None:
    """Register the /viral slash commands with Discord."""
    from adapters.discord.bot import sync_commands
    from viraltracker_bot.cli import run

    run(sync_commands(Settings(), guild))
