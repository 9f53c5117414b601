"""Export retention: the files the bot wrote leave the export directory once they are old.

Exports, charts and digest attachments are uploaded with their reply and never read again, so
without this they pile up in VIRALTRACKER_EXPORT_DIR for as long as the bot runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from pathlib import Path

from viraltracker_bot.exports.paths import EXPORT_NAME

log = logging.getLogger(__name__)

SWEEP_EVERY_S = 3600.0
"""How often a running process looks again: one directory listing an hour costs nothing."""


def sweep(export_dir: Path, max_age_s: float, now: float | None = None) -> int:
    """Delete the bot's files in `export_dir` last modified more than `max_age_s` ago; returns
    how many went.

    Only regular files directly inside, named the way `write_export` names them: symlinks (even
    to old files) and subdirectories are never followed, and other files stay, so a directory
    shared with anything else (even `.`) loses nothing but old exports.
    """
    cutoff = (time.time() if now is None else now) - max_age_s
    removed = 0
    try:
        entries = os.scandir(Path(export_dir).expanduser())
    except (FileNotFoundError, NotADirectoryError):
        return 0  # nothing exported yet
    with entries:
        for entry in entries:
            if not EXPORT_NAME.match(entry.name):
                continue
            try:
                if not entry.is_file(follow_symlinks=False):
                    continue
                if entry.stat(follow_symlinks=False).st_mtime >= cutoff:
                    continue
                os.unlink(entry.path)  # removes a name in the directory, never a link's target
            except FileNotFoundError:
                continue  # another process sharing the directory removed it first
            except OSError as exc:
                log.warning("export retention: could not remove %s: %s", entry.name, exc)
                continue
            removed += 1
    return removed


async def prune(export_dir: Path, retention_days: float) -> int:
    """One sweep, its file system work in a thread (never on the event loop); a failure is
    logged, not raised: old files are a nuisance, not a reason to stop anything."""
    try:
        removed = await asyncio.to_thread(sweep, export_dir, retention_days * 86_400)
    except Exception:
        log.exception("export retention: sweeping %s failed", export_dir)
        return 0
    if removed:
        log.info("export retention: removed %d files older than %g days", removed, retention_days)
    return removed


async def keep_pruned(
    export_dir: Path, retention_days: float, every_s: float = SWEEP_EVERY_S
) -> None:
    """Sweep now, then every `every_s` seconds until cancelled."""
    while True:
        await prune(export_dir, retention_days)
        await asyncio.sleep(every_s)


def start_retention(
    export_dir: Path, retention_days: float, every_s: float = SWEEP_EVERY_S
) -> asyncio.Task[None] | None:
    """The background sweeper of a process, or None when retention is off (0 days)."""
    if retention_days <= 0:
        return None
    return asyncio.create_task(
        keep_pruned(export_dir, retention_days, every_s), name="export-retention"
    )


async def stop_retention(task: asyncio.Task[None] | None) -> None:
    """Cancel the sweeper and wait for it (a sweep already in its thread finishes there)."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
