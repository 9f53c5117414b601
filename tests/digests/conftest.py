"""Digest fixtures: a hand-moved clock, the Apify and Slack fakes, and TikTok rows we choose."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapters.slack.app import slack_client
from adapters.slack.delivery import SlackDeliverer
from tests.fakes.apify import ApifyFake
from tests.fakes.slack import FakeMessage, SlackFake
from viraltracker_bot.config import Settings
from viraltracker_bot.digests.runner import DigestPolicy, DigestRunner
from viraltracker_bot.platforms.service import PlatformServices
from viraltracker_bot.storage.database import Database

# Friday 27 March 2026, 07:00 UTC: Berlin switches to summer time on Sunday the 29th.
START = datetime(2026, 3, 27, 7, 0, tzinfo=UTC)


class Clock:
    """The time every part of the digest path sees; tests move it instead of sleeping."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def set(self, moment: datetime) -> datetime:
        self.now = moment
        return moment

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@dataclass
class TikTokFeed:
    """What the TikTok actor returns next: tests add videos between digests."""

    clock: Clock
    videos: list[dict[str, Any]] = field(default_factory=list)

    def add(self, video_id: str, views: int, *, followers: int = 5_000) -> None:
        posted = self.clock.now - timedelta(hours=2)
        self.videos.append(
            {
                "id": video_id,
                "text": f"Video {video_id} about deep work #productivity",
                "createTimeISO": posted.isoformat().replace("+00:00", "Z"),
                "createTime": int(posted.timestamp()),
                "authorMeta": {
                    "name": f"creator_{video_id}",
                    "nickName": f"Creator {video_id}",
                    "fans": followers,
                    "verified": False,
                },
                "webVideoUrl": f"https://www.tiktok.com/@creator_{video_id}/video/{video_id}",
                "playCount": views,
                "diggCount": views // 10,
                "commentCount": views // 100,
                "shareCount": views // 200,
                "videoMeta": {"duration": 30},
                "hashtags": [{"name": "productivity"}],
            }
        )

    def __call__(self, _actor: str, _run_input: dict[str, Any]) -> list[dict[str, Any]]:
        return list(self.videos)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def apify() -> AsyncIterator[ApifyFake]:
    async with ApifyFake() as fake:
        yield fake


@pytest.fixture
async def slack() -> AsyncIterator[SlackFake]:
    async with SlackFake() as fake:
        yield fake


def with_settings(settings: Settings, **changes: Any) -> Settings:
    """A validated copy (tokens become SecretStr, as they would from the environment)."""
    return Settings(_env_file=None, **(settings.model_dump() | changes))  # type: ignore[call-arg]


@pytest.fixture
def live_settings(settings: Settings, apify: ApifyFake, slack: SlackFake) -> Settings:
    """Live Apify (the fake) with no result cache, so each digest really asks the actor."""
    return with_settings(
        settings,
        apify_token=apify.token,
        apify_api_base_url=apify.url,
        apify_retry_base_delay_s=0.01,
        apify_max_retries=1,
        apify_cache_ttl_s=0,
        slack_api_url=slack.api_url,
        slack_bot_token=slack.bot_token,
    )


@pytest.fixture
def feed(apify: ApifyFake, live_settings: Settings, clock: Clock) -> TikTokFeed:
    tiktok = TikTokFeed(clock)
    apify.set_items(live_settings.tiktok_actor, tiktok)
    return tiktok


@pytest.fixture
async def services(
    live_settings: Settings, db: Database, clock: Clock
) -> AsyncIterator[PlatformServices]:
    platform_services = PlatformServices(live_settings, db, clock=clock)
    yield platform_services
    await platform_services.close()


@pytest.fixture
def make_runner(
    live_settings: Settings,
    db: Database,
    services: PlatformServices,
    slack: SlackFake,
    clock: Clock,
) -> Callable[..., DigestRunner]:
    """A runner delivering to the Slack fake through the real slack-sdk client."""

    def make(**policy: Any) -> DigestRunner:
        deliverer = SlackDeliverer(slack_client(live_settings))
        return DigestRunner(
            live_settings,
            db,
            services,
            {"slack": deliverer},
            clock=clock,
            policy=DigestPolicy(**policy),
        )

    return make


def channel_posts(slack: SlackFake, channel: str) -> list[FakeMessage]:
    """The bot's text messages in a channel (file shares are separate messages)."""
    return [m for m in slack.messages.get(channel, []) if m.from_bot and not m.files]


def channel_files(slack: SlackFake, channel: str) -> list[str]:
    return [f.filename for m in slack.messages.get(channel, []) for f in m.files]
