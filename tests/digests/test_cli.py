"""`viraltracker-bot digests ...` as an operator uses it: add, list, dry run, run, remove."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from viraltracker_bot.digests.cli import digests_app

ADD = [
    "add",
    "--channel",
    "slack:C0123",
    "--cron",
    "0 9 * * 1-5",
    "--tz",
    "Europe/Berlin",
    "--query",
    "top 3 new TikToks about #productivity",
]
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """Sandbox data, no chat tokens, a database of its own; no .env is read (fresh cwd)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VIRALTRACKER_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("VIRALTRACKER_EXPORT_DIR", str(tmp_path / "exports"))
    monkeypatch.setenv("VIRALTRACKER_EXPORT_RETENTION_DAYS", "7")
    for name in ("APIFY_TOKEN", "ANTHROPIC_API_KEY", "SLACK_BOT_TOKEN", "DISCORD_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return CliRunner()


def listed(cli: CliRunner) -> list[dict]:
    result = cli.invoke(digests_app, ["list", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_add_list_run_and_remove(cli: CliRunner) -> None:
    added = cli.invoke(digests_app, ADD)
    assert added.exit_code == 0, added.output
    assert "Digest #1: top 3 new TikToks about #productivity -> slack:C0123" in added.stdout
    assert "Next run:" in added.stdout and "CET" in added.stdout

    [row] = listed(cli)
    assert (row["cron"], row["timezone"], row["channel"]) == (
        "0 9 * * 1-5",
        "Europe/Berlin",
        "slack:C0123",
    )
    assert row["query"]["kind"] == "hashtag" and row["query"]["limit"] == 3

    # Force it due: run-due just after its first run (the next weekday 09:00 in Berlin from
    # today, whatever day the suite runs on).
    first_run = datetime.fromisoformat(row["next_run_at"])
    assert first_run > datetime.now(first_run.tzinfo)
    due = (first_run + timedelta(seconds=30)).isoformat()
    preview = cli.invoke(digests_app, ["run-due", "--now", due, "--dry-run"])
    assert preview.exit_code == 0, preview.output
    assert "Digest #1: top 3 new TikToks about #productivity" in preview.stdout
    assert "would attach" in preview.stdout and ".csv" in preview.stdout
    assert listed(cli)[0]["next_run_at"] == row["next_run_at"]  # the dry run changed nothing

    ran = cli.invoke(digests_app, ["run-due", "--now", due])
    assert ran.exit_code == 0, ran.output
    assert "PRINTED HERE" in ran.stderr  # no tokens: said clearly
    assert "digest for slack:C0123" in ran.stdout and "posted, 3 new" in ran.stdout
    next_run = datetime.fromisoformat(listed(cli)[0]["next_run_at"]).astimezone(BERLIN)
    assert next_run.weekday() < 5  # Monday to Friday
    assert (next_run.hour, next_run.minute) == (9, 0)
    assert timedelta(hours=23) <= next_run - first_run <= timedelta(days=3, hours=1)
    again = cli.invoke(digests_app, ["run-due", "--now", due])
    assert "No digest is due." in again.stdout

    assert cli.invoke(digests_app, ["remove", "1"]).exit_code == 0
    missing = cli.invoke(digests_app, ["remove", "1"])
    assert missing.exit_code == 1 and "no digest #1" in missing.stderr
    assert listed(cli) == []


def test_phrases_and_bad_input(cli: CliRunner) -> None:
    phrase = [*ADD[:3], "--cron", "every monday at 10", *ADD[5:]]
    assert cli.invoke(digests_app, phrase).exit_code == 0
    assert listed(cli)[0]["cron"] == "0 10 * * 1"

    bad_query = cli.invoke(digests_app, [*ADD[:-1], "the best stuff"])
    assert bad_query.exit_code == 2 and "Which platform" in bad_query.output
    bad_cron = cli.invoke(digests_app, [*ADD[:4], "now and then", *ADD[5:]])
    assert bad_cron.exit_code == 2 and "cron" in bad_cron.output
    bad_channel = cli.invoke(digests_app, [ADD[0], "--channel", "C0123", *ADD[3:]])
    assert bad_channel.exit_code == 1 and "slack:<channel id>" in bad_channel.stderr
    bad_zone = cli.invoke(digests_app, [*ADD[:6], "Mars/Olympus", *ADD[7:]])
    assert bad_zone.exit_code == 1 and "time zone" in bad_zone.stderr
    bad_now = cli.invoke(digests_app, ["run-due", "--now", "tomorrow"])
    assert bad_now.exit_code == 2 and "ISO-8601" in bad_now.output
    assert len(listed(cli)) == 1


def old_export(export_dir: Path, name: str, days: float) -> Path:
    """A file named as the bot names its exports, last modified `days` ago."""
    export_dir.mkdir(parents=True, exist_ok=True)
    path = export_dir / f"{name}_20260101T090000Z_abc123.csv"
    path.write_text("url\n")
    then = time.time() - days * 86_400
    os.utime(path, (then, then))
    return path


def test_run_due_sweeps_old_exports_like_the_bots_and_a_dry_run_does_not(
    cli: CliRunner, tmp_path: Path
) -> None:
    old = old_export(tmp_path / "exports", "digest_1", days=8)
    fresh = old_export(tmp_path / "exports", "digest_2", days=1)

    assert cli.invoke(digests_app, ["run-due", "--dry-run"]).exit_code == 0
    assert old.exists()  # a dry run changes nothing
    assert cli.invoke(digests_app, ["run-due"]).exit_code == 0
    assert not old.exists() and fresh.exists()


def test_the_digest_process_sweeps_old_exports_while_it_runs(
    cli: CliRunner, tmp_path: Path
) -> None:
    """`digests run` is the process that writes digest files: it must not let them pile up."""
    old = old_export(tmp_path / "exports", "digest_1", days=8)
    fresh = old_export(tmp_path / "exports", "digest_2", days=1)
    runner = subprocess.Popen(
        [sys.executable, "-m", "viraltracker_bot", "digests", "run", "--poll", "60"],
        env=os.environ | {"PYTHONPATH": str(Path(__file__).parents[2])},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60  # generous: an interpreter start on a busy machine
        while old.exists() and runner.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert runner.poll() is None, runner.stderr.read() if runner.stderr else ""
        assert not old.exists() and fresh.exists()
    finally:
        runner.terminate()
        runner.wait(timeout=30)
