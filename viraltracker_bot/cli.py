"""The `viraltracker-bot` command: search, top, export, db; chat, bots and digests are mounted."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar, cast

import typer
from rich.console import Console
from rich.table import Table

from viraltracker_bot.config import Settings
from viraltracker_bot.platforms.models import Platform, PlatformQuery, Post, SearchResult

app = typer.Typer(
    name="viraltracker-bot",
    help="Find and analyse viral social media posts from a terminal, Slack or Discord.",
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
)
search_app = typer.Typer(help="Search a platform now (Apify, or the offline sandbox).")
db_app = typer.Typer(help="Database schema: upgrade or show the current revision.")
app.add_typer(search_app, name="search")
app.add_typer(db_app, name="db")

out = Console()
err = Console(stderr=True)
T = TypeVar("T")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
SEARCH_LIMIT_HELP = (
    "How many of the best to show, ranked from at least 50 fetched; "
    "with --user or --page, how many of the latest."
)
"""A search fetches a pool to filter and rank (`spec.pool_size`): --limit is what is shown."""
SearchLimitOpt = Annotated[
    int, typer.Option("--limit", "-n", min=1, max=5000, help=SEARCH_LIMIT_HELP)
]
StoredLimitOpt = Annotated[
    int, typer.Option("--limit", "-n", min=1, max=5000, help="How many stored posts.")
]
MinViewsOpt = Annotated[
    int | None, typer.Option("--min-views", help="Keep posts with at least this many views.")
]
MaxFollowersOpt = Annotated[
    int | None, typer.Option("--max-followers", help="Keep authors with at most this many.")
]


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine; any failure ends the process with a one-line error."""
    try:
        return asyncio.run(coro)
    except typer.Exit:
        raise
    except KeyboardInterrupt:
        err.print("[yellow]Interrupted.[/yellow]")
        raise typer.Exit(130) from None
    except Exception as exc:  # the CLI's promise: one line, non-zero exit
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        err.print(f"[red]error:[/red] {message}", highlight=False)
        raise typer.Exit(1) from None


@asynccontextmanager
async def platform_services(settings: Settings) -> AsyncIterator[Any]:
    """The database and platform services a one-shot command needs, closed afterwards."""
    from viraltracker_bot.platforms.service import PlatformServices
    from viraltracker_bot.storage.database import open_database

    db = await open_database(settings.database_url)
    services = PlatformServices(settings, db)
    try:
        yield services
    finally:
        await services.close()
        await db.dispose()


async def _search(query: PlatformQuery, as_json: bool) -> None:
    settings = Settings()
    if not as_json:
        err.print(settings.mode_banner(), style="dim", highlight=False)
    async with platform_services(settings) as services:
        result = await _with_status(
            f"Searching {query.platform.label}…", services.run(query), quiet=as_json
        )
    _print_result(result, as_json)


async def _with_status(label: str, work: Awaitable[T], *, quiet: bool) -> T:
    """Show a spinner on stderr while slow work (an actor run) is under way."""
    if quiet or not err.is_terminal:
        return await work
    with err.status(label):
        return await work


def _print_result(result: SearchResult, as_json: bool) -> None:
    if as_json:
        payload = result.model_dump(mode="json")
        out.print_json(json.dumps(payload))
        return
    source = "cache" if result.from_cache else ("sandbox" if result.sandbox else "Apify")
    title = f"{result.query.describe()} · {len(result.posts) or len(result.ads)} shown · {source}"
    if result.ads:
        out.print(_ads_table(result, title))
    else:
        out.print(_posts_table(result.posts, title))
    if result.skipped:
        err.print(f"{result.skipped} malformed items skipped.", style="yellow")


def _n(value: int | None) -> str:
    from viraltracker_bot.exports.formatting import format_number

    return format_number(value)


def _posts_table(posts: list[Post], title: str) -> Table:
    table = Table(title=title, title_justify="left", show_lines=False)
    for name, justify in [
        ("#", "right"),
        ("author", "left"),
        ("text", "left"),
        ("views", "right"),
        ("likes", "right"),
        ("eng.", "right"),
        ("posted", "left"),
        ("url", "left"),
    ]:
        table.add_column(name, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for rank, post in enumerate(posts, 1):
        rate = post.engagement_rate
        table.add_row(
            str(rank),
            f"@{post.author}" if post.author else "?",
            (post.text or "").replace("\n", " ")[:80],
            _n(post.views),
            _n(post.likes),
            f"{rate:.1%}" if rate is not None else "-",
            post.posted_at.strftime("%Y-%m-%d") if post.posted_at else "-",
            post.url or "",
        )
    return table


def _ads_table(result: SearchResult, title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for name in ["#", "page", "days", "active", "text", "url"]:
        table.add_column(name, overflow="fold")
    for rank, ad in enumerate(result.ads, 1):
        table.add_row(
            str(rank),
            ad.page_name or "?",
            str(ad.days_running if ad.days_running is not None else "-"),
            {True: "yes", False: "no", None: "?"}[ad.is_active],
            ad.creative_text.replace("\n", " ")[:80],
            ad.url or "",
        )
    return table


def _terms(text: str) -> list[str]:
    """'btc, bitcoin' -> ['btc', 'bitcoin']: comma-separated terms are OR-ed."""
    return [term.strip() for term in text.split(",") if term.strip()]


@search_app.command("twitter")
def search_twitter(
    keywords: Annotated[str, typer.Argument(help="Comma-separated keywords, OR-ed: 'btc,bitcoin'")],
    limit: SearchLimitOpt = 50,
    hours_back: Annotated[int, typer.Option("--hours", help="How far back to look.")] = 24,
    user: Annotated[
        bool, typer.Option("--user", help="KEYWORDS is a handle: its timeline.")
    ] = False,
    min_views: MinViewsOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """Search tweets by keywords (or a user's timeline with --user)."""
    kind = "user" if user else "search"
    terms = [keywords.lstrip("@")] if user else _terms(keywords)
    query = PlatformQuery(
        platform=Platform.twitter,
        kind=kind,
        terms=terms,
        limit=limit,
        hours_back=hours_back,
        min_views=min_views,
    )
    run(_search(query, as_json))


@search_app.command("tiktok")
def search_tiktok(
    keywords: Annotated[str | None, typer.Argument(help="Comma-separated keywords")] = None,
    hashtag: Annotated[str | None, typer.Option("--hashtag", help="Search a hashtag.")] = None,
    user: Annotated[str | None, typer.Option("--user", help="A creator's videos.")] = None,
    limit: SearchLimitOpt = 50,
    min_views: MinViewsOpt = None,
    max_followers: MaxFollowersOpt = None,
    days: Annotated[int | None, typer.Option("--days", help="Only videos this recent.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Search TikTok by keywords, a hashtag (--hashtag) or a creator (--user)."""
    if hashtag:
        kind, terms = "hashtag", [hashtag.lstrip("#")]
    elif user:
        kind, terms = "user", [user.lstrip("@")]
    elif keywords:
        kind, terms = "search", _terms(keywords)
    else:
        raise typer.BadParameter("give keywords, --hashtag or --user")
    query = PlatformQuery(
        platform=Platform.tiktok,
        kind=kind,
        terms=terms,
        limit=limit,
        min_views=min_views,
        max_followers=max_followers,
        hours_back=days * 24 if days else None,
    )
    run(_search(query, as_json))


@search_app.command("youtube")
def search_youtube(
    keywords: Annotated[str, typer.Argument(help="Comma-separated keywords")],
    shorts: Annotated[
        int, typer.Option("--shorts", min=0, help="How many of the best Shorts to show.")
    ] = 100,
    videos: Annotated[
        int, typer.Option("--videos", min=0, help="How many of the best regular videos to show.")
    ] = 0,
    days: Annotated[int | None, typer.Option("--days", help="Only videos this recent.")] = None,
    min_views: MinViewsOpt = None,
    max_followers: MaxFollowersOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """Search YouTube: Shorts by default (100 Shorts, 0 regular videos)."""
    if shorts + videos == 0:  # the actor would be run (and paid) for nothing
        raise typer.BadParameter("ask for at least one: --shorts N or --videos N")
    query = PlatformQuery(
        platform=Platform.youtube,
        kind="search",
        terms=_terms(keywords),
        limit=shorts + videos,
        min_views=min_views,
        max_followers=max_followers,
        hours_back=days * 24 if days else None,
        options={"max_shorts": shorts, "max_videos": videos},
    )
    run(_search(query, as_json))


@search_app.command("facebook-ads")
def search_facebook_ads(
    keyword: Annotated[str, typer.Argument(help="A keyword or an Ad Library search URL")],
    page: Annotated[bool, typer.Option("--page", help="KEYWORD is a page: its ads.")] = False,
    limit: SearchLimitOpt = 50,
    period: Annotated[str, typer.Option(help="e.g. last7d, last30d, last90d")] = "last30d",
    active: Annotated[str, typer.Option(help="all, active or inactive")] = "all",
    country: Annotated[str, typer.Option(help="Two-letter country code, or ALL")] = "ALL",
    as_json: JsonFlag = False,
) -> None:
    """Search the Facebook Ad Library by keyword (or a page's ads with --page)."""
    from viraltracker_bot.platforms import facebook

    # The agents' builders: the query states its period ('last 720h') and the actor gets it.
    status = cast(facebook.ActiveStatus, active)
    if page:
        query = facebook.page_query(keyword, status, country, count=limit, period=period)
    else:
        query = facebook.search_query(keyword, limit, period, status, country)
    run(_search(query, as_json))


@app.command("top")
def top(
    platform: Annotated[Platform | None, typer.Option(help="Only this platform.")] = None,
    days: Annotated[int, typer.Option(help="Posted in the last N days.")] = 7,
    keyword: Annotated[
        list[str] | None, typer.Option("--keyword", "-k", help="Any of these words (repeat).")
    ] = None,
    min_views: MinViewsOpt = None,
    max_followers: MaxFollowersOpt = None,
    sort: Annotated[
        str, typer.Option(help="views, likes, engagement, engagement_rate or outlier")
    ] = "views",
    limit: StoredLimitOpt = 10,
    as_json: JsonFlag = False,
) -> None:
    """Top posts already in the database (what earlier searches and digests found)."""
    run(_top(platform, days, keyword or [], min_views, max_followers, sort, limit, as_json))


async def _top_posts(
    settings: Settings,
    platform: Platform | None,
    days: int,
    keywords: list[str],
    min_views: int | None,
    max_followers: int | None,
    sort: str,
    limit: int,
) -> list[Post]:
    from viraltracker_bot.storage.database import open_database
    from viraltracker_bot.storage.stats import TopPostsFilter, top_posts

    wanted = TopPostsFilter(
        platform=platform,
        keywords=keywords,
        since=datetime.now(UTC) - timedelta(days=days),
        min_views=min_views,
        max_followers=max_followers,
        sort=sort,
        limit=limit,
    )
    db = await open_database(settings.database_url)
    try:
        async with db.sessions() as session:
            return await top_posts(session, wanted)
    finally:
        await db.dispose()


async def _top(
    platform: Platform | None,
    days: int,
    keywords: list[str],
    min_views: int | None,
    max_followers: int | None,
    sort: str,
    limit: int,
    as_json: bool,
) -> None:
    settings = Settings()
    posts = await _top_posts(
        settings, platform, days, keywords, min_views, max_followers, sort, limit
    )
    if as_json:
        out.print_json(json.dumps([p.model_dump(mode="json") for p in posts]))
        return
    where = platform.label if platform else "all platforms"
    out.print(_posts_table(posts, f"Top {len(posts)} on {where}, last {days} days, by {sort}"))
    if not posts:
        err.print("Nothing stored yet: run a search first (viraltracker-bot search ...).")


@app.command("export")
def export(
    platform: Annotated[Platform | None, typer.Option(help="Only this platform.")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="csv, json or markdown")] = "csv",
    days: Annotated[int, typer.Option(help="Posted in the last N days.")] = 7,
    keyword: Annotated[list[str] | None, typer.Option("--keyword", "-k")] = None,
    sort: Annotated[str, typer.Option(help="views, likes, engagement, ...")] = "views",
    limit: StoredLimitOpt = 100,
    output_dir: Annotated[
        Path | None, typer.Option("--dir", help="Default: the export dir.")
    ] = None,
) -> None:
    """Export stored top posts to a CSV, JSON or Markdown file; prints its path."""
    run(_export(platform, fmt, days, keyword or [], sort, limit, output_dir))


async def _export(
    platform: Platform | None,
    fmt: str,
    days: int,
    keywords: list[str],
    sort: str,
    limit: int,
    output_dir: Path | None,
) -> None:
    from viraltracker_bot.exports.files import export_posts
    from viraltracker_bot.exports.formatting import parse_format

    settings = Settings()
    file_format = parse_format(fmt)
    posts = await _top_posts(settings, platform, days, keywords, None, None, sort, limit)
    name = f"{platform.value if platform else 'all'}-top-{days}d"
    path = await export_posts(posts, file_format, output_dir or settings.export_dir, name)
    out.print(str(path), highlight=False)
    err.print(f"{len(posts)} posts exported.")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or upgrade the database schema (also done automatically on start)."""

    async def _upgrade() -> None:
        from viraltracker_bot.storage.database import open_database

        settings = Settings()
        db = await open_database(settings.database_url)
        await db.dispose()
        out.print(f"Database is up to date: {settings.safe_database_url}", highlight=False)

    run(_upgrade())


@app.callback(invoke_without_command=True)
def root(
    ctx: typer.Context,
    version: Annotated[bool, typer.Option("--version", help="Print the version.")] = False,
) -> None:
    """With no command: the interactive terminal chat on whatever is configured."""
    if version:
        from viraltracker_bot import __version__

        out.print(__version__)
        raise typer.Exit()
    if ctx.invoked_subcommand is None:
        _mounted("chat")(ctx)


def _mounted(name: str) -> Callable[..., Any]:
    """Commands other packages contribute, looked up when invoked so startup stays light."""
    command = next((c for c in app.registered_commands if c.name == name), None)
    if command is None or command.callback is None:
        err.print(f"The '{name}' command is not available in this build.")
        raise typer.Exit(2)
    return lambda ctx: ctx.invoke(command.callback)


def _mount_optional_commands() -> None:
    """Chat, bots and digests register themselves here (each module adds its own commands)."""
    from viraltracker_bot import cli_commands

    cli_commands.register(app)


def main() -> None:
    _mount_optional_commands()
    app(prog_name="viraltracker-bot")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
