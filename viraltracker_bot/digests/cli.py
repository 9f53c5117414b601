"""`viraltracker-bot digests ...`: add, list, pause, remove and run scheduled digests.

This is a composition root (like the main CLI), so it may build adapters' deliverers; the
digest core itself never imports an adapter.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from viraltracker_bot.config import Settings
from viraltracker_bot.conversation import ChatPlatform, Reply
from viraltracker_bot.digests import repository as repo
from viraltracker_bot.digests.parsing import parse_cron_phrase, parse_query
from viraltracker_bot.digests.runner import DigestOutcome, DigestRunner
from viraltracker_bot.digests.schedule import (
    DigestQuery,
    as_utc,
    local_label,
    normalise_cron,
)
from viraltracker_bot.storage.tables import ScheduleRow

if TYPE_CHECKING:
    from adapters.base import Deliverer
    from viraltracker_bot.platforms.service import PlatformServices
    from viraltracker_bot.storage.database import Database

digests_app = typer.Typer(
    help="Scheduled digests: a saved query posted to a Slack or Discord channel on a cron.",
    no_args_is_help=True,
)
out = Console()
err = Console(stderr=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def _run(coro: Any) -> Any:
    from viraltracker_bot.cli import run

    return run(coro)


# ---- wiring --------------------------------------------------------------------------------


@asynccontextmanager
async def digest_services(settings: Settings) -> AsyncIterator[tuple[Database, PlatformServices]]:
    """The migrated database and platform services a digest command needs, closed after."""
    from viraltracker_bot.platforms.service import PlatformServices
    from viraltracker_bot.storage.database import open_database

    db = await open_database(settings.database_url)
    services = PlatformServices(settings, db)
    try:
        yield db, services
    finally:
        await services.close()
        await db.dispose()


@asynccontextmanager
async def export_retention(settings: Settings) -> AsyncIterator[None]:
    """Old export files swept now and hourly while the block runs, as `Runtime` does: digests
    write their CSVs and charts into the export dir, and a digest-only process has no Runtime."""
    from viraltracker_bot.exports.retention import start_retention, stop_retention

    task = start_retention(settings.export_dir, settings.export_retention_days)
    try:
        yield
    finally:
        await stop_retention(task)


class PrintDeliverer:
    """Prints digests to stdout: what `digests run` does when no chat token is configured."""

    def __init__(self, platform: ChatPlatform, console: Console | None = None) -> None:
        self.platform = platform
        self.console = console or out

    async def deliver(self, channel: str, reply: Reply, *, thread: str | None = None) -> None:
        where = f"{self.platform}:{channel}" + (f" (thread {thread})" if thread else "")
        self.console.rule(f"digest for {where}", style="red" if reply.error else "cyan")
        self.console.print(reply.text, markup=False, highlight=False)
        for path in reply.files:
            self.console.print(f"  attached: {path}", markup=False, highlight=False)


@asynccontextmanager
async def chat_deliverers(settings: Settings) -> AsyncIterator[dict[str, Deliverer]]:
    """A deliverer per chat platform with a token; printing to stdout when there is none."""
    async with AsyncExitStack() as stack:
        deliverers: dict[str, Deliverer] = {"console": PrintDeliverer("console")}
        if settings.slack_bot_token is not None:
            deliverers["slack"] = await _slack_deliverer(settings, stack)
        if settings.discord_token is not None:
            deliverers["discord"] = await _discord_deliverer(settings, stack)
        if set(deliverers) == {"console"}:
            for platform in ("slack", "discord"):
                deliverers[platform] = PrintDeliverer(platform)  # type: ignore[arg-type]
        yield deliverers


def describe_deliverers(deliverers: dict[str, Any]) -> str:
    """Say plainly where digests will go, above all when they only go to this terminal."""
    printed = sorted(p for p, d in deliverers.items() if isinstance(d, PrintDeliverer))
    posted = sorted(p for p, d in deliverers.items() if not isinstance(d, PrintDeliverer))
    if posted and printed == ["console"]:
        return f"Digests are posted to {', '.join(posted)}."
    if not posted:
        return (
            "No SLACK_BOT_TOKEN or DISCORD_TOKEN is set: digests are PRINTED HERE, not posted, "
            "and each one counts as delivered."
        )
    return f"Digests are posted to {', '.join(posted)}; {', '.join(printed)} ones are printed."


async def _slack_deliverer(settings: Settings, _stack: AsyncExitStack) -> Deliverer:
    from adapters.slack.app import slack_client
    from adapters.slack.delivery import SlackDeliverer

    # Without a shared aiohttp session the client opens and closes one per call: nothing to close.
    return SlackDeliverer(slack_client(settings))


async def _discord_deliverer(settings: Settings, stack: AsyncExitStack) -> Deliverer:
    from adapters.discord.deliverer import DiscordDeliverer

    return await stack.enter_async_context(DiscordDeliverer.connect(settings))


def parse_now(text: str | None) -> datetime | None:
    """ISO-8601 ('2026-03-30T09:00:00+02:00', '...Z'); a time without an offset is UTC."""
    if not text:
        return None
    try:
        return as_utc(datetime.fromisoformat(text.strip()))
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not an ISO-8601 time, e.g. 2026-03-30T09:00:00+02:00"
        ) from None


def schedule_json(row: ScheduleRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "channel": row.channel,
        "workspace": row.workspace,
        "cron": row.cron,
        "timezone": row.timezone,
        "query": row.query,
        "description": row.description,
        "created_by": row.created_by,
        "enabled": row.enabled,
        "next_run_at": as_utc(row.next_run_at).isoformat(),
        "last_run_at": as_utc(row.last_run_at).isoformat() if row.last_run_at else None,
        "failures": row.failures,
        "last_error": row.last_error,
    }


def _cron_from(text: str) -> str:
    """A cron expression, or a phrase such as 'every weekday at 9am'."""
    try:
        return normalise_cron(text)
    except ValueError as exc:
        phrase = parse_cron_phrase(text)
        if phrase is None:
            raise typer.BadParameter(str(exc)) from None
        return phrase.cron


# ---- commands ------------------------------------------------------------------------------


@digests_app.command("add")
def add(
    channel: Annotated[
        str, typer.Option("--channel", "-c", help="Where to post: slack:C0123 or discord:123456.")
    ],
    cron: Annotated[
        str, typer.Option("--cron", help="Cron ('0 9 * * 1-5') or 'every weekday at 9am'.")
    ],
    query: Annotated[
        str,
        typer.Option("--query", "-q", help="What to post: 'top new TikToks about #productivity'."),
    ],
    tz: Annotated[str, typer.Option("--tz", help="IANA time zone of the cron.")] = "UTC",
    created_by: Annotated[
        str | None, typer.Option("--created-by", help="Who asked for it (shown in lists).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Save a digest; prints its id and when it first runs."""
    settings = Settings()
    try:
        saved = parse_query(
            query,
            viral_min_views=settings.viral_min_views,
            micro_max_followers=settings.micro_max_followers,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--query") from None
    _run(_add(settings, channel, _cron_from(cron), tz, saved, created_by, as_json))


async def _add(
    settings: Settings,
    channel: str,
    cron: str,
    tz: str,
    query: DigestQuery,
    created_by: str | None,
    as_json: bool,
) -> None:
    async with digest_services(settings) as (db, _services):
        row = await repo.create_schedule(
            db,
            cron=cron,
            timezone=tz,
            channel=channel,
            query=query,
            now=datetime.now(UTC),
            created_by=created_by or "cli",
            min_interval_s=settings.digest_min_interval_s,
        )
    if as_json:
        out.print_json(json.dumps(schedule_json(row)))
        return
    where = f"{row.channel}, cron '{row.cron}' ({row.timezone})"
    out.print(f"Digest #{row.id}: {row.description} -> {where}.", highlight=False)
    out.print(
        f"Next run: {local_label(row.next_run_at, row.timezone)} "
        f"({as_utc(row.next_run_at).isoformat()})",
        highlight=False,
    )


@digests_app.command("list")
def list_(as_json: JsonFlag = False) -> None:
    """Every saved digest, with its next run in its own time zone."""
    _run(_list(Settings(), as_json))


async def _list(settings: Settings, as_json: bool) -> None:
    async with digest_services(settings) as (db, _services):
        rows = await repo.list_schedules(db)
    if as_json:
        out.print_json(json.dumps([schedule_json(r) for r in rows]))
        return
    if not rows:
        out.print("No digests yet. Add one with `viraltracker-bot digests add`.")
        return
    table = Table(title="Digests")
    for column in ("id", "channel", "schedule", "next run", "state", "posts"):
        table.add_column(column)
    for row in rows:
        state = "active" if row.enabled else "paused"
        if row.failures:
            state += f", {row.failures} failure(s)"
        table.add_row(
            str(row.id),
            row.channel,
            f"{row.cron} ({row.timezone})",
            local_label(row.next_run_at, row.timezone) if row.enabled else "-",
            state,
            row.description,
        )
    out.print(table)


@digests_app.command("remove")
def remove(schedule_id: Annotated[int, typer.Argument(help="The digest's id.")]) -> None:
    """Delete a digest."""
    _run(_remove(Settings(), schedule_id))


async def _remove(settings: Settings, schedule_id: int) -> None:
    async with digest_services(settings) as (db, _services):
        removed = await repo.remove_schedule(db, schedule_id)
    if not removed:
        err.print(f"There is no digest #{schedule_id}.")
        raise typer.Exit(1)
    out.print(f"Removed digest #{schedule_id}.")


@digests_app.command("pause")
def pause(schedule_id: Annotated[int, typer.Argument(help="The digest's id.")]) -> None:
    """Stop posting a digest without deleting it."""
    _run(_set_enabled(Settings(), schedule_id, False))


@digests_app.command("resume")
def resume(schedule_id: Annotated[int, typer.Argument(help="The digest's id.")]) -> None:
    """Post a paused digest again, from its next tick on (no backlog)."""
    _run(_set_enabled(Settings(), schedule_id, True))


async def _set_enabled(settings: Settings, schedule_id: int, enabled: bool) -> None:
    async with digest_services(settings) as (db, _services):
        row = await repo.set_enabled(db, schedule_id, enabled, now=datetime.now(UTC))
    if row is None:
        err.print(f"There is no digest #{schedule_id}.")
        raise typer.Exit(1)
    if enabled:
        out.print(
            f"Resumed digest #{row.id}; next run {local_label(row.next_run_at, row.timezone)}."
        )
    else:
        out.print(f"Paused digest #{row.id}.")


@digests_app.command("run-due")
def run_due(
    now: Annotated[
        str | None,
        typer.Option("--now", help="Run what is due at this ISO-8601 instant (default: now)."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print each digest; post nothing, change nothing.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Run every digest due now (or at --now) once, then exit."""
    _run(_run_due(Settings(), parse_now(now), dry_run, as_json))


async def _run_due(settings: Settings, now: datetime | None, dry_run: bool, as_json: bool) -> None:
    async with AsyncExitStack() as stack:
        if not dry_run and settings.export_retention_days > 0:  # a dry run changes nothing
            from viraltracker_bot.exports.retention import prune

            await prune(settings.export_dir, settings.export_retention_days)
        db, services = await stack.enter_async_context(digest_services(settings))
        targets = await stack.enter_async_context(chat_deliverers(settings))
        clock = (lambda: now) if now is not None else None
        runner = DigestRunner(settings, db, services, targets, clock=clock)
        if not as_json:
            note = (
                "Dry run: nothing is posted or changed."
                if dry_run
                else describe_deliverers(targets)
            )
            err.print(f"{settings.mode_banner()}\n{note}", style="dim", highlight=False)
        outcomes = await (runner.preview_due(now) if dry_run else runner.run_due(now))
    _print_outcomes(outcomes, as_json=as_json, dry_run=dry_run)
    if any(o.status == "failed" for o in outcomes):
        raise typer.Exit(1)


def _print_outcomes(outcomes: list[DigestOutcome], *, as_json: bool, dry_run: bool) -> None:
    if as_json:
        out.print_json(json.dumps([o.model_dump(mode="json") for o in outcomes]))
        return
    if not outcomes:
        out.print("No digest is due.")
    for outcome in outcomes:
        if dry_run and outcome.reply is not None:
            out.rule(f"digest #{outcome.schedule_id} for {outcome.channel} (dry run)")
            out.print(outcome.reply.text, markup=False, highlight=False)
            for path in outcome.reply.files:
                out.print(f"  would attach: {path.name}", markup=False, highlight=False)
            continue
        line = f"digest #{outcome.schedule_id} -> {outcome.channel}: {outcome.status}"
        if outcome.status == "posted":
            line += f", {outcome.new_posts} new"
        if outcome.error:
            line += f" ({outcome.error})"
        if outcome.next_run_at:
            line += f"; next run {as_utc(outcome.next_run_at).isoformat()}"
        out.print(line, markup=False, highlight=False)


@digests_app.command("run")
def run_forever(
    poll: Annotated[
        float, typer.Option("--poll", min=1.0, help="Seconds between looks for due digests.")
    ] = 30.0,
) -> None:
    """Run digests as they fall due, until interrupted (several may run on one PostgreSQL)."""
    _run(_run_forever(Settings(), poll))


async def _run_forever(settings: Settings, poll: float) -> None:
    async with (
        export_retention(settings),
        digest_services(settings) as (db, services),
        chat_deliverers(settings) as targets,
    ):
        runner = DigestRunner(settings, db, services, targets)
        err.print(
            f"{settings.mode_banner()}\n{describe_deliverers(targets)}\n"
            f"Digest runner {runner.owner}: checking every {poll:g}s; Ctrl-C stops.",
            highlight=False,
        )
        await runner.run_forever(poll)
