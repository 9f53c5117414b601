"""Three runner processes on one PostgreSQL database post each digest tick exactly once."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.digests.conftest import channel_posts
from tests.fakes.slack import SlackFake
from viraltracker_bot.digests import repository as repo
from viraltracker_bot.digests.parsing import parse_query
from viraltracker_bot.digests.schedule import local_label
from viraltracker_bot.storage.database import Database

PROCESSES = 3
TICKS = 20
BASE = datetime(2026, 3, 27, 7, 0, tzinfo=UTC)
SCRIPT = Path(__file__).with_name("runner_proc.py")
CHANNELS = ("C0AAA", "C0BBB")
SECRET_ENV = ("APIFY_TOKEN", "ANTHROPIC_API_KEY", "DISCORD_TOKEN", "SLACK_APP_TOKEN")


def child_env(database_url: str, export_dir: Path, slack: SlackFake) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SECRET_ENV}
    env.update(
        VIRALTRACKER_DATABASE_URL=database_url,
        VIRALTRACKER_EXPORT_DIR=str(export_dir),
        SLACK_BOT_TOKEN=slack.bot_token,
        SLACK_API_URL=slack.api_url,
    )
    return env


@pytest.mark.timeout(300)
async def test_three_runners_post_each_of_twenty_ticks_exactly_once(
    database_url: str, tmp_path: Path
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("several runners need PostgreSQL (set VIRALTRACKER_TEST_DATABASE_URL)")
    db = Database(database_url)
    await db.upgrade()
    ids = []
    for channel in CHANNELS:
        row = await repo.create_schedule(
            db,
            cron="*/10 * * * *",
            timezone="Europe/Berlin",
            channel=f"slack:{channel}",
            # A bar no sandbox video reaches: each tick posts a short "nothing new" digest,
            # which keeps this test about claiming, not about rendering charts 40 times.
            query=parse_query("top 3 new TikToks about #productivity with 5000M+ views"),
            now=BASE - timedelta(minutes=1),
        )
        ids.append(row.id)
    await db.dispose()
    ticks = [BASE + timedelta(minutes=10 * i, seconds=1) for i in range(TICKS)]
    barrier = tmp_path / "barrier"
    barrier.mkdir()

    async with SlackFake() as slack:
        env = child_env(database_url, tmp_path / "exports", slack)
        procs = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                str(SCRIPT),
                "--name",
                f"p{n}",
                "--peers",
                str(PROCESSES),
                "--barrier",
                str(barrier),
                *(t.isoformat() for t in ticks),
                cwd=tmp_path,
                env=env,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            for n in range(PROCESSES)
        ]
        results = await asyncio.wait_for(
            asyncio.gather(*(p.communicate() for p in procs)), timeout=240
        )
        for proc, (_out, err) in zip(procs, results, strict=True):
            assert proc.returncode == 0, err.decode()[-3000:]

        lines = [json.loads(line) for out, _err in results for line in out.decode().splitlines()]
        outcomes = [o for o in lines if "status" in o]
        posted = Counter((o["tick"], o["schedule"]) for o in outcomes if o["status"] == "posted")
        assert posted == Counter({(t, s): 1 for t in range(TICKS) for s in ids})
        assert all(o["status"] == "posted" for o in outcomes)

        # What the channels saw: one digest per tick, each announcing the following tick.
        for channel in CHANNELS:
            texts = [m.text for m in channel_posts(slack, channel)]
            assert len(texts) == TICKS
            announced = Counter(
                label
                for text in texts
                for label in [
                    local_label(BASE + timedelta(minutes=10 * (i + 1)), "Europe/Berlin")
                    for i in range(TICKS)
                ]
                if f"Next digest: {label}." in text
            )
            assert sorted(announced.values()) == [1] * TICKS
