"""Cross-cutting rules for every Slack event: who may talk to the bot, and that bots may not.

These run before the acknowledgement, so they only read the event body: a refused event is
acknowledged (Slack must not retry it) and goes no further.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from viraltracker_bot.config import Settings

log = logging.getLogger(__name__)

Next = Callable[[], Awaitable[BoltResponse]]


def _event(req: AsyncBoltRequest) -> dict[str, Any]:
    event = req.body.get("event") if isinstance(req.body, dict) else None
    return event if isinstance(event, dict) else {}


def _refused() -> BoltResponse:
    """Acknowledged, and nothing else happens."""
    return BoltResponse(status=200, body="")


class IgnoreBots(AsyncMiddleware):
    """Messages written by bots, this one included, are never questions for it.

    bolt already drops the bot's own events once it knows its ids; this also covers other
    bots and integrations (`bot_id`, `bot_message`), which could otherwise start two bots
    answering each other forever.
    """

    async def async_process(
        self, *, req: AsyncBoltRequest, resp: BoltResponse, next: Next
    ) -> BoltResponse:
        event = _event(req)
        own_user = req.context.bot_user_id
        if (
            event.get("bot_id")
            or event.get("subtype") == "bot_message"
            or (own_user is not None and event.get("user") == own_user)
        ):
            log.debug("slack: ignored a bot's event (%s)", event.get("type"))
            return _refused()
        return await next()


class Allowlist(AsyncMiddleware):
    """Optional limits on which workspaces, channels and people the bot answers.

    An empty list allows everyone; a channel list limits direct messages too (add the DM's
    `D...` id to allow one). A workspace list holds for the person's own workspace as well as
    the app's: in a Slack Connect channel people from another organisation write too, and
    the envelope's `team_id` is the app's workspace for all of them.
    """

    def __init__(self, settings: Settings) -> None:
        self.teams = frozenset(settings.slack_allowed_teams)
        self.channels = frozenset(settings.slack_allowed_channels)
        self.users = frozenset(settings.slack_allowed_users)

    async def async_process(
        self, *, req: AsyncBoltRequest, resp: BoltResponse, next: Next
    ) -> BoltResponse:
        event = _event(req)
        if not event:
            return await next()
        body = req.body if isinstance(req.body, dict) else {}
        team = body.get("team_id") or req.context.team_id or event.get("team")
        person_team = event.get("user_team") or event.get("team") or team
        checks = (
            (self.teams, team),
            (self.teams, person_team),
            (self.channels, event.get("channel")),
            (self.users, event.get("user")),
        )
        for allowed, value in checks:
            if allowed and value not in allowed:
                log.info("slack: ignored an event outside the allowlist (%s)", event.get("type"))
                return _refused()
        return await next()
