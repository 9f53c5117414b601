"""The terminal adapter and Runtime: `ask` with a named session keeps follow-ups together."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from adapters.console import ask_once, console_key, render_stats
from viraltracker_bot.config import Settings
from viraltracker_bot.runtime import Runtime


async def test_runtime_starts_migrated_and_closes(settings: Settings) -> None:
    async with await Runtime.start(settings) as runtime:
        assert runtime.conversation.settings is settings
        assert runtime.conversation.services is runtime.services
        assert runtime.db.url == settings.database_url


async def test_ask_with_a_session_shares_results_across_invocations(settings: Settings) -> None:
    first = await ask_once(settings, "find viral bitcoin tweets", "research")
    follow_up = await ask_once(settings, "export those as csv", "research")
    elsewhere = await ask_once(settings, "export those as csv", None)

    assert not first.error and "sandbox data" in first.text
    assert [p.suffix for p in follow_up.files] == [".csv"]
    assert elsewhere.files == []  # an unnamed run is a session of its own


def test_console_keys() -> None:
    assert console_key("research").as_string() == "console:local:research:"
    assert console_key(None).as_string() != console_key(None).as_string()


async def test_stats_after_some_runs(settings: Settings) -> None:
    await ask_once(settings, "find viral bitcoin tweets", "s")
    rendered = await render_stats(settings)

    from rich.console import Console

    console = Console(width=120, record=True)
    console.print(rendered)
    output = console.export_text()
    assert "twitter" in output and "search_twitter" in output and "100%" in output


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    """The real CLI app, on the test's database and export dir, with no tokens."""
    from viraltracker_bot.cli import app
    from viraltracker_bot.cli_commands import register

    monkeypatch.setenv("VIRALTRACKER_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("VIRALTRACKER_EXPORT_DIR", str(settings.export_dir))
    for name in ("ANTHROPIC_API_KEY", "APIFY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    if not any(c.name == "ask" for c in app.registered_commands):
        register(app)
    return app


def test_ask_command_prints_the_reply_and_file_paths(cli: typer.Typer) -> None:
    app = cli
    runner = CliRunner()

    first = runner.invoke(app, ["ask", "--session", "cli", "find viral bitcoin tweets"])
    second = runner.invoke(app, ["ask", "--session", "cli", "export those as json"])

    assert first.exit_code == 0, first.output
    assert "Twitter/X search 'bitcoin'" in first.output
    assert second.exit_code == 0, second.output
    assert "📎" in second.output and ".json" in second.output


def test_chat_keeps_one_session_for_the_whole_run(cli: typer.Typer) -> None:
    lines = "find viral bitcoin tweets\nexport those as markdown\nexit\n"

    result = CliRunner().invoke(cli, ["chat"], input=lines)

    assert result.exit_code == 0, result.output
    assert "Twitter/X search 'bitcoin'" in result.output
    assert "📎" in result.output and ".md" in result.output


def test_starting_the_cli_does_not_load_matplotlib() -> None:
    """matplotlib takes most of a second to import: only drawing a chart may load it."""
    code = (
        "import sys\n"
        "import adapters.console, viraltracker_bot.cli, viraltracker_bot.agent.orchestrator\n"
        "from viraltracker_bot.exports import NothingToChart, comparison_chart, top_posts_chart\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'matplotlib'))\n"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_runtime_start_keeps_the_start_up_heap_out_of_full_collections(tmp_path: Path) -> None:
    """A full garbage collection pass must not walk every module and agent schema: that
    stalled the event loop, and every conversation on it, for 0.1-0.3 s every few messages."""
    code = (
        "import asyncio, gc, sys\n"
        "from viraltracker_bot.config import Settings\n"
        "from viraltracker_bot.runtime import Runtime\n"
        "async def main():\n"
        f"    settings = Settings(_env_file=None, database_url='sqlite+aiosqlite:///{tmp_path}/t.db',"
        f" export_dir='{tmp_path}')\n"
        "    async with await Runtime.start(settings):\n"
        "        print(gc.get_freeze_count(), len(gc.get_objects()))\n"
        "asyncio.run(main())\n"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120
    )

    assert done.returncode == 0, done.stderr
    frozen, collected = map(int, done.stdout.split())
    assert frozen > 50_000 and collected < frozen / 10
