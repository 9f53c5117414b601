"""The bolt AsyncApp of the bot: its Web API client, middleware and the two listeners."""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from adapters.base import ConversationHandler
from adapters.slack.inbox import StoreFirst
from adapters.slack.middleware import Allowlist, IgnoreBots
from adapters.slack.priority import AckFirst
from adapters.slack.turns import SlackTurns
from viraltracker_bot.config import Settings
from viraltracker_bot.storage.database import Database

log = logging.getLogger(__name__)


class SlackSetupError(RuntimeError):
    """A Slack setting is missing or wrong; the message says which and how to fix it."""


def _secret(value: Any) -> str | None:
    return value.get_secret_value() if value is not None else None


def slack_client(
    settings: Settings, *, http: aiohttp.ClientSession | None = None
) -> AsyncWebClient:
    """The bot's Web API client: `SLACK_API_URL`, and 429s waited out rather than lost.

    slack-sdk installs no rate-limit handler by default, and its handler retries once unless
    told otherwise; a burst of replies needs several waits of `Retry-After`.
    """
    base_url = (
        settings.slack_api_url
        if settings.slack_api_url.endswith("/")
        else (settings.slack_api_url + "/")
    )
    return AsyncWebClient(
        token=_secret(settings.slack_bot_token),
        base_url=base_url,
        session=http,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(),
            AsyncRateLimitErrorRetryHandler(max_retry_count=settings.slack_rate_limit_retries),
        ],
    )


def build_slack_app(
    settings: Settings,
    handler: ConversationHandler,
    db: Database,
    *,
    http: aiohttp.ClientSession | None = None,
    turns: SlackTurns | None = None,
) -> AsyncApp:
    """The bot as a bolt app: store each message, acknowledge it, answer after the ack.

    `http`, when given, is one shared aiohttp session for every Web API call (without it
    slack-sdk opens a session per call). `turns` lets the caller wait for answers in flight
    at shutdown.
    """
    if settings.slack_bot_token is None:
        raise SlackSetupError(
            "SLACK_BOT_TOKEN is not set (the app's Bot User OAuth Token, xoxb-...)."
        )
    turns = turns or SlackTurns(handler, db)
    app = _AckFirstApp(
        turns.ack_first,
        name="viraltracker-bot",
        client=slack_client(settings, http=http),
        # Never None: bolt would read SLACK_SIGNING_SECRET itself; "" refuses every HTTP request.
        signing_secret=_secret(settings.slack_signing_secret) or "",
        process_before_response=False,
    )
    app.use(IgnoreBots())
    app.use(Allowlist(settings))
    # Last: only messages the bot will answer are stored; it acknowledges them itself.
    app.use(StoreFirst(turns.store, turns.submit))
    turns.bind(settings, app.client)

    async def acknowledge() -> None:
        """Other app_mention and message events (edits, joins, ...): acknowledged, nothing more."""

    app.event("app_mention")(acknowledge)
    app.event("message")(acknowledge)
    return app


class _AckFirstApp(AsyncApp):
    """bolt's AsyncApp, counting the events it is dispatching (HTTP and Socket Mode alike)."""

    def __init__(self, ack_first: AckFirst, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._ack_first = ack_first

    async def async_dispatch(self, req: AsyncBoltRequest) -> BoltResponse:
        self._ack_first.entering()
        try:
            return await super().async_dispatch(req)
        finally:
            self._ack_first.leaving()
