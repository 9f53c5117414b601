"""Creating, listing and removing digests by talking to the bot (offline router, no model key)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr
from pydantic_ai.messages import ModelMessage, ModelResponse, ToolCallPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from viraltracker_bot.config import Settings
from viraltracker_bot.conversation import Conversation, ConversationKey, IncomingMessage, Reply
from viraltracker_bot.digests import repository as repo
from viraltracker_bot.platforms.service import PlatformServices
from viraltracker_bot.storage.database import Database

SLACK_THREAD = ConversationKey(platform="slack", workspace="T1", channel="C0123", thread="17.01")
OTHER_TEAM = ConversationKey(platform="slack", workspace="T2", channel="C0999", thread="18.01")


@pytest.fixture
async def conversation(settings: Settings, db: Database) -> AsyncIterator[Conversation]:
    services = PlatformServices(settings, db)
    yield Conversation(settings, db, services)
    await services.close()


async def say(conversation: Conversation, text: str, key: ConversationKey = SLACK_THREAD) -> Reply:
    return await conversation.handle(IncomingMessage(key=key, user="U42", text=text))


async def test_schedule_list_and_remove_by_talking(
    conversation: Conversation, db: Database
) -> None:
    reply = await say(
        conversation, "every weekday at 9am post the top new TikToks about #productivity here"
    )
    assert not reply.error
    assert reply.text.startswith("Scheduled digest #1: every weekday at 09:00 (UTC)")
    assert "top 10 new TikToks about #productivity here" in reply.text
    assert "Next run:" in reply.text
    [row] = await repo.list_schedules(db)
    assert (row.channel, row.workspace, row.created_by) == ("slack:C0123", "T1", "slack:U42")
    assert (row.cron, row.query["platforms"], row.query["terms"]) == (
        "0 9 * * 1-5",
        ["tiktok"],
        ["productivity"],
    )

    elsewhere = await say(
        conversation,
        "every monday at 10 Europe/Berlin post the top 5 tweets about AI agents in <#C0456|news>",
    )
    assert "Scheduled digest #2: every Monday at 10:00 (Europe/Berlin)" in elsewhere.text
    assert "in <#C0456>" in elsewhere.text

    listing = await say(conversation, "list digests")
    assert "#1 every weekday at 09:00 (UTC) in <#C0123>" in listing.text
    assert "#2 every Monday at 10:00 (Europe/Berlin) in <#C0456>" in listing.text
    assert "No digests yet" in (await say(conversation, "list digests", OTHER_TEAM)).text

    refused = await say(conversation, "remove digest 1", OTHER_TEAM)
    assert "There is no digest #1 here" in refused.text
    removed = await say(conversation, "remove digest 1")
    assert "Removed digest #1" in removed.text
    assert [r.id for r in await repo.list_schedules(db)] == [2]


async def test_an_unclear_schedule_request_asks_for_what_is_missing(
    conversation: Conversation, db: Database
) -> None:
    reply = await say(conversation, "every day at 9 post the best stuff here")
    assert "Which platform" in reply.text
    assert await repo.list_schedules(db) == []


async def test_pause_and_resume_by_talking(conversation: Conversation, db: Database) -> None:
    await say(conversation, "every day at 18:30 post viral YouTube shorts about cooking")
    assert "Paused digest #1" in (await say(conversation, "pause digest 1")).text
    [row] = await repo.list_schedules(db)
    assert not row.enabled
    assert "Resumed digest #1; next run" in (await say(conversation, "resume digest 1")).text


async def test_with_a_model_the_tool_takes_its_structured_arguments(
    settings: Settings, db: Database
) -> None:
    """Free wording goes to the model, which fills the tool's cron, zone and query itself."""

    def model_turn(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        assert "schedule_digest" in {t.name for t in info.output_tools}
        args = {
            "request": "a Monday roundup of viral YouTube videos about cooking, 8am Tokyo time",
            "cron": "0 8 * * 1",
            "timezone": "Asia/Tokyo",
            "query": {"platforms": ["youtube"], "terms": ["cooking"], "min_views": 100_000},
        }
        return ModelResponse(parts=[ToolCallPart("schedule_digest", args, tool_call_id="t1")])

    with_key = settings.model_copy(update={"anthropic_api_key": SecretStr("sk-test")})
    services = PlatformServices(with_key, db)
    conversation = Conversation(with_key, db, services, model=FunctionModel(model_turn))
    try:
        reply = await say(
            conversation,
            "Could you set up a Monday roundup of viral YouTube videos about cooking for us, "
            "8 in the morning Tokyo time?",
        )
    finally:
        await services.close()

    assert reply.text.startswith("Scheduled digest #1: every Monday at 08:00 (Asia/Tokyo)")
    [row] = await repo.list_schedules(db)
    assert row.query["terms"] == ["cooking"] and row.query["min_views"] == 100_000


async def test_only_admins_change_digests_when_admins_are_configured(
    settings: Settings, db: Database
) -> None:
    admins_only = settings.model_copy(update={"admin_users": ["slack:U42"]})
    services = PlatformServices(admins_only, db)
    conversation = Conversation(admins_only, db, services)
    request = "every day at 9am post the top TikToks about #productivity here"
    try:
        stranger = await conversation.handle(
            IncomingMessage(key=SLACK_THREAD, user="U7", text=request)
        )
        assert "Only the bot's admins" in stranger.text
        assert await repo.list_schedules(db) == []
        assert "Scheduled digest #1" in (await say(conversation, request)).text  # U42
        for attempt in ("pause digest 1", "remove digest 1"):
            reply = await conversation.handle(
                IncomingMessage(key=SLACK_THREAD, user="U7", text=attempt)
            )
            assert "Only the bot's admins" in reply.text
        listing = await conversation.handle(
            IncomingMessage(key=SLACK_THREAD, user="U7", text="list digests")
        )
        assert "#1 every day at 09:00" in listing.text
    finally:
        await services.close()
    [row] = await repo.list_schedules(db)
    assert row.enabled


async def test_an_interval_cron_cannot_keep_is_refused_not_posted_unevenly(
    conversation: Conversation, db: Database
) -> None:
    # '*/45' fires at :00 and :45 (15 minutes, then 45); '*/5' hours at 0, 5 ... 20, then 0.
    for words in ("every 45 minutes", "every 5 hours"):
        reply = await say(conversation, f"{words} post the top new TikToks about #ai here")
        assert reply.text.startswith(f"I couldn't schedule that: {words} can't be kept")
    assert await repo.list_schedules(db) == []

    reply = await say(conversation, "every 20 minutes post the top new TikToks about #ai here")
    assert reply.text.startswith("Scheduled digest #1: every 20 minutes (UTC)")


async def test_every_other_day_is_refused_not_scheduled_daily(
    conversation: Conversation, db: Database
) -> None:
    for words in ("every other day at 9", "every 2 weeks on monday at 9", "biweekly at 9am"):
        reply = await say(conversation, f"{words} post the top new TikToks about #ai here")
        assert reply.text.startswith("I can't post every other day or every few weeks"), words
    assert await repo.list_schedules(db) == []


async def test_a_digest_twice_a_day_is_confirmed_with_both_times(
    conversation: Conversation, db: Database
) -> None:
    reply = await say(
        conversation, "every weekday at 9am and 5pm post the top new TikToks about #ai here"
    )
    assert reply.text.startswith("Scheduled digest #1: every weekday at 09:00 and 17:00 (UTC)")
    [row] = await repo.list_schedules(db)
    assert row.cron == "0 9,17 * * 1-5"


async def test_a_digest_more_often_than_the_minimum_is_refused(
    conversation: Conversation, db: Database
) -> None:
    """Each run may start a paid actor, and runs within the search cache's 15 minutes post the
    same results again: "every 5 minutes" was accepted, from anyone."""
    for words in ("every 5 minutes", "every 10 minutes"):
        reply = await say(conversation, f"{words} post the top new TikToks about #ai here")
        minutes = words.removeprefix("every ")
        assert reply.text.startswith(f"I couldn't schedule that: that would post {minutes} apart")
        assert "at most every 15 minutes" in reply.text
    assert await repo.list_schedules(db) == []

    reply = await say(conversation, "every 15 minutes post the top new TikToks about #ai here")
    assert reply.text.startswith("Scheduled digest #1: every 15 minutes (UTC)")
