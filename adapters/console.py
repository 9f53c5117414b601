"""The terminal adapter: `chat` (interactive) and `ask` (one message), plus `stats` of agent runs.

Every capability works here first; with no tokens it is the embedded default (sandbox data and
the offline router).
"""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console, Group, RenderableType
from rich.status import Status
from rich.table import Table

from viraltracker_bot.config import Settings
from viraltracker_bot.conversation import ConversationKey, IncomingMessage, Progress, Reply

SessionOpt = Annotated[
    str | None,
    typer.Option("--session", "-s", help="Resume (or start) a named session: follow-ups share it."),
]
EXIT_WORDS = {"exit", "quit", "bye", ":q"}

out = Console()
err = Console(stderr=True)


def console_key(session: str | None) -> ConversationKey:
    """A named session is shared across invocations; without a name each run is its own."""
    name = session or f"run-{secrets.token_hex(4)}"
    return ConversationKey(platform="console", workspace="local", channel=name)


def _progress(status: Status | None) -> Progress:
    async def show(text: str) -> None:
        if status is not None:
            status.update(text)
        else:
            err.print(f"… {text}", style="dim", highlight=False)

    return show


def print_reply(reply: Reply) -> None:
    """The reply text, then the paths of attached files (exports, charts)."""
    out.print(
        reply.text,
        style="red" if reply.error else None,
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
    for path in reply.files:
        out.print(f"📎 {Path(path).resolve()}", highlight=False, markup=False, soft_wrap=True)


async def _one_message(
    runtime: object, key: ConversationKey, text: str, *, interactive: bool
) -> Reply:
    from viraltracker_bot.runtime import Runtime

    assert isinstance(runtime, Runtime)
    message = IncomingMessage(key=key, user="console", text=text)
    if interactive and err.is_terminal:
        with err.status("Thinking…") as status:
            return await runtime.conversation.handle(message, _progress(status))
    return await runtime.conversation.handle(message, _progress(None))


async def ask_once(settings: Settings, text: str, session: str | None) -> Reply:
    """Send one message (in a named session, if given) and return the reply."""
    from viraltracker_bot.runtime import Runtime

    async with await Runtime.start(settings) as runtime:
        return await _one_message(runtime, console_key(session), text, interactive=True)


async def chat_loop(settings: Settings, session: str | None) -> None:
    """Read a line, answer it, repeat: one conversation key for the whole run."""
    from viraltracker_bot.runtime import Runtime

    key = console_key(session)
    err.print(settings.mode_banner(), style="dim", highlight=False)
    err.print(
        f"Session {key.channel}. Type 'help' for what I can do, 'exit' to leave.",
        style="dim",
        highlight=False,
    )
    async with await Runtime.start(settings) as runtime:
        while True:
            try:
                line = await asyncio.to_thread(out.input, "[bold cyan]you>[/] ")
            except (EOFError, KeyboardInterrupt):
                out.print()
                return
            text = line.strip()
            if text.lower() in EXIT_WORDS:
                return
            if not text:
                continue
            print_reply(await _one_message(runtime, key, text, interactive=True))


async def render_stats(settings: Settings) -> RenderableType:
    """Per-agent and per-tool runs, success rates and latencies from agent_runs."""
    from viraltracker_bot.storage.agent_runs import agent_stats
    from viraltracker_bot.storage.database import open_database

    db = await open_database(settings.database_url)
    try:
        async with db.sessions() as session:
            stats = await agent_stats(session)
    finally:
        await db.dispose()
    if not stats:
        return "No agent runs recorded yet: ask something first (viraltracker-bot ask ...)."
    tables = []
    for kind, title in (("agent", "Agents"), ("tool", "Tools")):
        table = Table(title=title, title_justify="left")
        for column in ("name", "runs", "success", "p50 ms", "p95 ms", "tokens"):
            table.add_column(column, justify="left" if column == "name" else "right")
        for s in (s for s in stats if s.kind == kind):
            table.add_row(
                s.name,
                str(s.runs),
                f"{s.success_rate:.0%}",
                f"{s.p50_ms:,.0f}",
                f"{s.p95_ms:,.0f}",
                f"{s.total_tokens:,}",
            )
        tables.append(table)
    return Group(*tables)


# --- typer commands (mounted by viraltracker_bot/cli_commands.py) -------------------------------


def _own_the_terminal() -> None:
    """The terminal is the product's: no library banners between the user and the answers."""
    import pydantic_ai

    pydantic_ai.BANNER_ENABLED = False


def chat(session: SessionOpt = None) -> None:
    """Chat in the terminal: search, analyse and export, with follow-ups."""
    from viraltracker_bot.cli import run

    _own_the_terminal()
    run(chat_loop(Settings(), session))


def ask(
    text: Annotated[str, typer.Argument(help='What to ask, e.g. "find viral bitcoin tweets"')],
    session: SessionOpt = None,
) -> None:
    """Ask one question; prints the reply and the paths of attached files."""
    from viraltracker_bot.cli import run

    _own_the_terminal()
    settings = Settings()
    err.print(settings.mode_banner(), style="dim", highlight=False)
    reply = run(ask_once(settings, text, session))
    print_reply(reply)
    if reply.error:
        raise typer.Exit(1)


def stats() -> None:
    """Agent and tool runs: counts, success rates, p50/p95 latency, tokens."""
    from viraltracker_bot.cli import run

    out.print(run(render_stats(Settings())))


def register_commands(app: typer.Typer) -> None:
    """Add chat, ask and stats to the CLI."""
    app.command("chat")(chat)
    app.command("ask")(ask)
    app.command("stats")(stats)
