"""Fixtures for platform tests: the Apify fake, live settings pointing at it, a steerable clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.fakes.apify import ApifyFake
from viraltracker_bot.config import Settings
from viraltracker_bot.platforms.service import PlatformServices
from viraltracker_bot.storage.database import Database
from viraltracker_bot.storage.tables import AdRow, PostQueryRow, PostRow, QueryRow


class Clock:
    """Time the service sees; tests move it forward instead of sleeping."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
async def apify() -> AsyncIterator[ApifyFake]:
    async with ApifyFake() as fake:
        yield fake


@pytest.fixture
def live_settings(settings: Settings, apify: ApifyFake) -> Settings:
    """Live mode against the fake, with retries and waits small enough for a test."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=settings.database_url,
        export_dir=settings.export_dir,
        apify_token=apify.token,
        apify_api_base_url=apify.url,
        apify_max_retries=3,
        apify_retry_base_delay_s=0.01,
        apify_run_timeout_s=30,
        apify_cache_ttl_s=900,
        max_items_per_run=1000,
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def services(
    live_settings: Settings, db: Database, clock: Clock
) -> AsyncIterator[PlatformServices]:
    service = PlatformServices(live_settings, db, clock=clock)
    try:
        yield service
    finally:
        await service.close()


async def table_counts(db: Database) -> dict[str, int]:
    """Rows per table the platform service writes: what 'nothing was written' is checked against."""
    counts = {}
    async with db.transaction() as session:
        for name, table in (
            ("posts", PostRow),
            ("ads", AdRow),
            ("queries", QueryRow),
            ("post_queries", PostQueryRow),
        ):
            counts[name] = (
                await session.execute(select(func.count()).select_from(table))
            ).scalar_one()
    return counts
