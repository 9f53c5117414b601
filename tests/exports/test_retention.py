"""Export retention: old files the bot wrote leave the export directory; nothing else does."""

# Tests set up and inspect files directly; blocking file calls are fine here.
# ruff: noqa: ASYNC240

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from viraltracker_bot.config import Settings
from viraltracker_bot.exports.paths import write_export
from viraltracker_bot.exports.retention import start_retention, stop_retention, sweep
from viraltracker_bot.runtime import Runtime

DAY = 86_400.0


def age(path: Path, days: float) -> Path:
    """Make a file look `days` old (its modification time)."""
    then = time.time() - days * DAY
    os.utime(path, (then, then), follow_symlinks=False)
    return path


async def gone(path: Path, deadline_s: float = 10.0) -> bool:
    """Poll until `path` no longer exists (a generous deadline, not a timed assertion)."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if not path.exists() and not path.is_symlink():
            return True
        await asyncio.sleep(0.01)
    return False


async def test_only_the_bots_old_files_go(tmp_path: Path) -> None:
    export_dir = tmp_path / "exports"
    old = age(await write_export(export_dir, "bitcoin-twitter", "csv", b"old"), 8)
    old_chart = age(await write_export(export_dir, "digest_3", "png", b"old"), 30)
    fresh = age(await write_export(export_dir, "bitcoin-tiktok", "csv", b"new"), 6)
    mine = export_dir / "notes.txt"  # not a name the bot writes
    mine.write_text("x")
    nested = export_dir / "keep" / old.name  # the bot writes no subdirectories
    nested.parent.mkdir()
    nested.write_bytes(b"x")
    for path in (mine, nested):
        age(path, 100)

    assert sweep(export_dir, 7 * DAY) == 2

    assert not old.exists() and not old_chart.exists()
    assert fresh.exists() and mine.exists() and nested.exists()


async def test_symlinks_are_never_followed_out_of_the_directory(tmp_path: Path) -> None:
    export_dir = tmp_path / "exports"
    export_dir.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    target = age(await write_export(outside, "precious", "csv", b"keep me"), 100)
    link = export_dir / target.name  # an export-like name pointing out of the directory
    link.symlink_to(target)
    age(link, 100)
    linked_dir = export_dir / "elsewhere"
    linked_dir.symlink_to(outside, target_is_directory=True)

    assert sweep(export_dir, 7 * DAY) == 0

    assert target.read_bytes() == b"keep me"
    assert link.is_symlink() and linked_dir.is_symlink()


def test_a_missing_directory_is_nothing_to_sweep(tmp_path: Path) -> None:
    assert sweep(tmp_path / "never-created", DAY) == 0


async def test_the_sweeper_runs_at_start_then_again(tmp_path: Path) -> None:
    export_dir = tmp_path / "exports"
    first = age(await write_export(export_dir, "first", "csv", b"x"), 2)
    task = start_retention(export_dir, 1, every_s=0.01)
    try:
        assert await gone(first)
        later = age(await write_export(export_dir, "later", "json", b"x"), 2)
        assert await gone(later)  # a long-running process keeps the directory pruned
    finally:
        await stop_retention(task)
    assert task is not None and task.done()


def test_a_week_by_default_and_zero_keeps_files_forever(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert start_retention(tmp_path, 0) is None
    monkeypatch.delenv("VIRALTRACKER_EXPORT_RETENTION_DAYS", raising=False)
    assert Settings(_env_file=None).export_retention_days == 7  # type: ignore[call-arg]
    monkeypatch.setenv("VIRALTRACKER_EXPORT_RETENTION_DAYS", "0")
    assert Settings(_env_file=None).export_retention_days == 0  # type: ignore[call-arg]
    monkeypatch.setenv("VIRALTRACKER_EXPORT_RETENTION_DAYS", "-1")
    with pytest.raises(ValueError, match="greater than or equal to 0"):
        Settings(_env_file=None)  # type: ignore[call-arg]


async def test_every_entry_point_prunes_old_exports(settings: Settings) -> None:
    old = age(await write_export(settings.export_dir, "last-month", "csv", b"x"), 31)
    fresh = await write_export(settings.export_dir, "today", "csv", b"x")

    async with await Runtime.start(settings) as runtime:  # what the console, Slack, Discord use
        assert await gone(old)
        assert fresh.exists()
        retention = runtime.retention
    assert retention is not None and retention.done()  # stopped with the runtime
