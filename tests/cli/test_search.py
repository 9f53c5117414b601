"""`viraltracker-bot search ...` as a user types it: the result says what was searched."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from viraltracker_bot.cli import app
from viraltracker_bot.config import Settings


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """The sandbox (no tokens) on the test's database; a wide terminal so titles stay whole."""
    monkeypatch.chdir(settings.export_dir)  # no .env is read
    monkeypatch.setenv("VIRALTRACKER_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("VIRALTRACKER_EXPORT_DIR", str(settings.export_dir))
    monkeypatch.setenv("COLUMNS", "200")
    for name in ("APIFY_TOKEN", "ANTHROPIC_API_KEY", "SLACK_BOT_TOKEN", "DISCORD_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return CliRunner()


def test_an_ad_search_says_its_period_like_an_agent_search(cli: CliRunner) -> None:
    result = cli.invoke(app, ["search", "facebook-ads", "meal kit", "--period", "last14d"])

    assert result.exit_code == 0, result.output
    assert "Facebook Ad Library search 'meal kit' (limit 50, last 336h)" in result.stdout


def test_a_page_search_of_the_last_day_says_24h_and_asks_for_it(cli: CliRunner) -> None:
    args = ["search", "facebook-ads", "HelloFresh", "--page", "--period", "last24h", "--json"]
    result = cli.invoke(app, [*args, "--country", "us"])

    assert result.exit_code == 0, result.output
    query = json.loads(result.stdout)["query"]
    assert (query["kind"], query["hours_back"]) == ("page_ads", 24)
    assert query["options"] == {"period": "last24h", "active_status": "all", "country": "US"}


def test_a_youtube_search_for_no_shorts_and_no_videos_is_refused_before_any_run(
    cli: CliRunner,
) -> None:
    result = cli.invoke(app, ["search", "youtube", "cats", "--shorts", "0", "--videos", "0"])

    assert result.exit_code == 2
    assert "at least one" in result.output and "--videos" in result.output
    assert "YouTube search" not in result.output


@pytest.mark.parametrize("count", ["--shorts=-5", "--videos=-1"])
def test_a_negative_youtube_count_is_refused(cli: CliRunner, count: str) -> None:
    result = cli.invoke(app, ["search", "youtube", "cats", count])

    assert result.exit_code == 2
    assert "YouTube search" not in result.output


@pytest.mark.parametrize("platform", ["twitter", "tiktok", "facebook-ads"])
def test_a_searchs_limit_is_said_to_be_how_many_of_the_best_are_shown(
    cli: CliRunner, platform: str
) -> None:
    """A keyword search ranks at least 50 fetched items and shows --limit of them; only a
    creator's or page's latest are fetched --limit at a time. 'How many items.' said neither."""
    result = cli.invoke(app, ["search", platform, "--help"])

    assert result.exit_code == 0, result.output
    assert "How many items." not in result.stdout
    assert "best to show" in result.stdout and "at least 50 fetched" in result.stdout
    assert "latest" in result.stdout


def test_stored_posts_limit_says_it_counts_stored_posts(cli: CliRunner) -> None:
    for command in ("top", "export"):
        result = cli.invoke(app, [command, "--help"])

        assert result.exit_code == 0, result.output
        assert "How many stored posts" in result.stdout
