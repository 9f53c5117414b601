"""Shared fixtures: a migrated database per test (SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pydantic_ai.models
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from viraltracker_bot.config import Settings
from viraltracker_bot.platforms.models import Ad, Platform, Post
from viraltracker_bot.storage.database import Database

# No test may reach a real model provider, whatever keys the environment holds.
pydantic_ai.models.ALLOW_MODEL_REQUESTS = False

PG_URL_ENV = "VIRALTRACKER_TEST_DATABASE_URL"
BACKENDS = ["sqlite", *(["postgres"] if os.environ.get(PG_URL_ENV) else [])]


@pytest.fixture(params=BACKENDS)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A URL to an empty database of its own: a temp SQLite file, or a fresh PostgreSQL schema.

    On PostgreSQL each test gets schema `t_<random>` through `?search_path=`, which
    `Database` turns into the connection's search_path; so any Database a test builds from
    this URL (or from `settings.database_url`) sees only this test's tables.
    """
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
        return
    base = os.environ[PG_URL_ENV]
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_async_engine(base, poolclass=NullPool)
    try:
        async with admin.begin() as conn:
            await conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        yield (
            make_url(base)
            .update_query_dict({"search_path": schema})
            .render_as_string(hide_password=False)
        )
    finally:
        try:
            async with admin.begin() as conn:
                # A connection a test forgot to close must not hang the suite.
                await conn.exec_driver_sql("SET LOCAL lock_timeout = '10s'")
                await conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await admin.dispose()


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """A migrated Database, disposed after the test."""
    database = Database(database_url)
    await database.upgrade()
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Settings on the test's database and export dir, with every token unset (sandbox, offline)."""
    export_dir = tmp_path / "exports"
    export_dir.mkdir(parents=True, exist_ok=True)
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        export_dir=export_dir,
        anthropic_api_key=None,
        apify_token=None,
        slack_bot_token=None,
        slack_signing_secret=None,
        slack_app_token=None,
        discord_token=None,
    )


@pytest.fixture
def make_post() -> Callable[..., Post]:
    """Build realistic posts: `make_post(views=5_000, text="ai tools")`; ids are unique per test.

    Defaults: a tweet by `author<n>` posted an hour ago with n*1000 views, 5% likes,
    1% comments and 0.5% shares; any Post field can be overridden.
    """
    counter = itertools.count(1)

    def make(**overrides: Any) -> Post:
        n = next(counter)
        views = overrides.get("views", n * 1000)
        fields: dict[str, Any] = {
            "platform": Platform.twitter,
            "platform_id": f"post-{n}",
            "url": f"https://example.com/post/{n}",
            "author": f"author{n}",
            "author_name": f"Author {n}",
            "author_followers": 10_000,
            "text": f"post number {n}",
            "views": views,
            "likes": (views or 0) // 20,
            "comments": (views or 0) // 100,
            "shares": (views or 0) // 200,
            "posted_at": datetime.now(UTC) - timedelta(hours=1),
        }
        fields.update(overrides)
        return Post(**fields)

    return make


@pytest.fixture
def make_ad() -> Callable[..., Ad]:
    """Build Ad Library entries: `make_ad(page_name="Acme", is_active=False)`."""
    counter = itertools.count(1)

    def make(**overrides: Any) -> Ad:
        n = next(counter)
        fields: dict[str, Any] = {
            "ad_id": f"ad-{n}",
            "page_id": "page-1",
            "page_name": "Example Page",
            "is_active": True,
            "start_date": datetime.now(UTC) - timedelta(days=10 * n),
            "publisher_platforms": ["facebook", "instagram"],
            "creative_text": f"ad creative {n}",
            "url": f"https://www.facebook.com/ads/library/?id={n}",
        }
        fields.update(overrides)
        return Ad(**fields)

    return make
