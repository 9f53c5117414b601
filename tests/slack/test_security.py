"""Only signed, fresh requests from Slack, from allowed people, written by people, get answers."""

from __future__ import annotations

import json
import logging
import time

import pytest
from sqlalchemy import func, select

from tests.fakes.slack import SlackFake
from tests.slack.conftest import ScriptedConversation, running_bot, slack_settings
from viraltracker_bot.config import Settings
from viraltracker_bot.storage.database import Database
from viraltracker_bot.storage.tables import ProcessedEventRow


async def _claimed(db: Database) -> int:
    async with db.sessions() as session:
        return int((await session.execute(select(func.count(ProcessedEventRow.event_id)))).scalar())


@pytest.mark.parametrize("forgery", ["wrong secret", "stale timestamp", "no signature", "edited"])
async def test_forged_or_stale_requests_are_refused_and_nothing_runs(
    forgery: str,
    settings: Settings,
    db: Database,
    slack: SlackFake,
    scripted: ScriptedConversation,
) -> None:
    async with running_bot(slack_settings(settings, slack), scripted, db, slack):
        message = slack.user_says("C1", "<@U0BOT> find cats")
        body = json.dumps(slack.mention(message))
        headers = {
            "wrong secret": slack.signed_headers(body, secret="not-the-secret"),
            "stale timestamp": slack.signed_headers(body, timestamp=int(time.time()) - 301),
            "no signature": {"Content-Type": "application/json"},
            "edited": slack.signed_headers(body.replace("find cats", "find dogs")),
        }[forgery]
        status, _ = await slack.post_event(body, headers=headers)
        assert status == 401
        # A genuine event afterwards is answered: the refusal left nothing half-done.
        follow = slack.user_says("C1", "<@U0BOT> hello")
        assert (await slack.post_event(slack.mention(follow)))[0] == 200
        await slack.wait_for_reply("C1", follow.ts)
    assert [m.text for m in scripted.seen] == ["hello"]
    assert slack.bot_replies("C1", message.ts) == []
    assert await _claimed(db) == 1


async def test_url_verification_answers_the_challenge(
    settings: Settings, db: Database, slack: SlackFake, scripted: ScriptedConversation
) -> None:
    async with running_bot(slack_settings(settings, slack), scripted, db, slack):
        body = {
            "token": "x",
            "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
            "type": "url_verification",
        }
        status, text = await slack.post_event(body)
    assert status == 200
    assert json.loads(text) == {"challenge": body["challenge"]}


async def test_the_bot_ignores_its_own_messages_and_other_bots(
    settings: Settings, db: Database, slack: SlackFake, scripted: ScriptedConversation
) -> None:
    """Slack echoes the bot's replies as `message` events in the very thread it answered."""
    slack.echo_bot_messages = True
    async with running_bot(slack_settings(settings, slack), scripted, db, slack):
        message = slack.user_says("C1", "<@U0BOT> find cats")
        await slack.post_event(slack.mention(message))
        await slack.wait_for_reply("C1", message.ts)
        other_bot = slack.user_says("C1", "<@U0BOT> find dogs", thread_ts=message.ts)
        other_bot.bot_id = "B0OTHER"
        await slack.post_event(slack.mention(other_bot))
        await slack.post_event(slack.message_event(other_bot))
        await slack.settle()  # the echoes of the bot's own reply were delivered
    assert [m.text for m in scripted.seen] == ["find cats"]
    assert len([m for m in slack.bot_replies("C1", message.ts) if m.text]) == 1
    assert await _claimed(db) == 1


@pytest.mark.parametrize(
    ("allow", "allowed"),
    [
        ({"slack_allowed_channels": ["C9"]}, False),
        ({"slack_allowed_users": ["U0BOB"]}, False),
        ({"slack_allowed_teams": ["T0OTHER"]}, False),
        ({"slack_allowed_channels": ["C1"], "slack_allowed_users": ["U0ALICE"]}, True),
    ],
)
async def test_allowlists_limit_who_is_answered(
    allow: dict[str, list[str]],
    allowed: bool,
    settings: Settings,
    db: Database,
    slack: SlackFake,
    scripted: ScriptedConversation,
) -> None:
    async with running_bot(slack_settings(settings, slack, **allow), scripted, db, slack) as bot:
        message = slack.user_says("C1", "<@U0BOT> find cats")
        status, _ = await slack.post_event(slack.mention(message))
        assert status == 200  # acknowledged either way: Slack must not retry it
        if allowed:
            await slack.wait_for_reply("C1", message.ts)
        await bot.turns.drain(30)
    assert len(scripted.seen) == (1 if allowed else 0)
    assert await _claimed(db) == (1 if allowed else 0)


async def test_a_workspace_allowlist_also_holds_in_a_shared_channel(
    settings: Settings, db: Database, slack: SlackFake, scripted: ScriptedConversation
) -> None:
    """In a Slack Connect channel people from another organisation can mention the bot; the
    envelope's team is still the app's own, so only the person's workspace tells them apart."""
    allow = {"slack_allowed_teams": [slack.team_id]}
    async with running_bot(slack_settings(settings, slack, **allow), scripted, db, slack) as bot:
        outsider = slack.user_says("C1", "<@U0BOT> find cats", user="U0EVE", team="T0OTHER")
        insider = slack.user_says("C1", "<@U0BOT> find dogs")
        for message in (outsider, insider):
            assert (await slack.post_event(slack.mention(message)))[0] == 200
        await slack.wait_for_reply("C1", insider.ts)
        await bot.turns.drain(30)
    assert slack.bot_replies("C1", outsider.ts) == []
    assert [m.text for m in scripted.seen] == ["find dogs"]


async def test_tokens_never_appear_in_logs(
    settings: Settings,
    db: Database,
    slack: SlackFake,
    scripted: ScriptedConversation,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with running_bot(slack_settings(settings, slack), scripted, db, slack, socket=True):
        message = slack.user_says("C1", "<@U0BOT> find cats")
        await slack.push_envelope(slack.mention(message))
        await slack.wait_for_reply("C1", message.ts)
        follow = slack.user_says("C1", "export those as csv", thread_ts=message.ts)
        await slack.post_event(slack.message_event(follow))
        await slack.wait_for_reply("C1", message.ts, count=2, files=1)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "chat.startStream" in logged  # slack-sdk's debug logs of every call were captured
    for secret in (slack.bot_token, slack.app_token, slack.signing_secret):
        assert secret not in logged
