"""End to end: signed Slack events in, the real core (offline router) at work, thread answers."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from pydantic_ai.exceptions import ModelHTTPError
from pydantic_ai.models.function import FunctionModel

from tests.fakes.apify import ApifyFake
from tests.fakes.slack import FakeMessage, SlackFake
from tests.slack.conftest import RunningBot, ScriptedConversation, running_bot, slack_settings
from viraltracker_bot.config import Settings
from viraltracker_bot.conversation import Conversation
from viraltracker_bot.runtime import Runtime
from viraltracker_bot.storage.database import Database


@asynccontextmanager
async def bot_on_real_core(
    settings: Settings,
    slack: SlackFake,
    *,
    apify: ApifyFake | None = None,
    model: Any = None,
    socket: bool = False,
) -> AsyncIterator[RunningBot]:
    """`run_slack`'s wiring on the test's database: Runtime, then the Slack app on top."""
    overrides: dict[str, Any] = {}
    if apify is not None:
        overrides |= {
            "apify_token": apify.token,
            "apify_api_base_url": apify.url,
            "apify_max_retries": 1,
            "apify_retry_base_delay_s": 0.01,
        }
    live = slack_settings(settings, slack, **overrides)
    runtime = await Runtime.start(live)
    handler = runtime.conversation
    if model is not None:
        handler = Conversation(live, runtime.db, runtime.services, model=model)
    try:
        async with running_bot(live, handler, runtime.db, slack, socket=socket) as bot:
            yield bot
    finally:
        await runtime.close()


def text_replies(slack: SlackFake, channel: str, thread_ts: str) -> list[FakeMessage]:
    return [m for m in slack.bot_replies(channel, thread_ts) if m.text and not m.files]


def shared_csv(message: FakeMessage) -> list[dict[str, str]]:
    [file] = message.files
    assert file.filename.endswith(".csv")
    return list(csv.DictReader(io.StringIO((file.content or b"").decode("utf-8-sig"))))


async def test_a_mention_is_answered_in_its_thread_and_a_follow_up_exports_csv(
    settings: Settings, slack: SlackFake
) -> None:
    async with bot_on_real_core(settings, slack) as bot:
        question = slack.user_says("C1", "<@U0BOT> find viral tiktok videos about cats")
        status, _ = await slack.post_event(slack.mention(question))
        assert status == 200
        [answer] = await slack.wait_for_reply("C1", question.ts)
        assert "TikTok search 'cats'" in answer.text
        assert "https://www.tiktok.com/@" in answer.text
        assert any("TikTok" in s for s in slack.statuses[("C1", question.ts)])

        # No mention needed in a thread the bot answered.
        follow = slack.user_says("C1", "export those as csv", thread_ts=question.ts)
        await slack.post_event(slack.message_event(follow))
        replies = await slack.wait_for_reply("C1", question.ts, count=2, files=1)
        await bot.turns.drain(30)
    [file_share] = [m for m in replies if m.files]
    rows = shared_csv(file_share)
    assert rows and all("tiktok.com" in json.dumps(row) for row in rows)
    assert file_share.thread_ts == question.ts
    assert "Exported" in text_replies(slack, "C1", question.ts)[-1].text
    # Nothing was posted outside the thread.
    assert all(m.thread_ts == question.ts for m in slack.messages["C1"] if m.from_bot)


async def test_two_threads_at_once_keep_their_own_results(
    settings: Settings, slack: SlackFake
) -> None:
    async with bot_on_real_core(settings, slack) as bot:
        cats = slack.user_says("C1", "<@U0BOT> find viral tiktok videos about cats")
        bread = slack.user_says("C1", "<@U0BOT> find viral youtube shorts about sourdough")
        await asyncio.gather(
            slack.post_event(slack.mention(cats)), slack.post_event(slack.mention(bread))
        )
        await asyncio.gather(
            slack.wait_for_reply("C1", cats.ts), slack.wait_for_reply("C1", bread.ts)
        )
        exports = [
            slack.user_says("C1", "export those as csv", thread_ts=thread.ts)
            for thread in (cats, bread)
        ]
        await asyncio.gather(*(slack.post_event(slack.message_event(m)) for m in exports))
        cat_replies, bread_replies = await asyncio.gather(
            slack.wait_for_reply("C1", cats.ts, count=2, files=1),
            slack.wait_for_reply("C1", bread.ts, count=2, files=1),
        )
        await bot.turns.drain(30)
    cat_rows = shared_csv(next(m for m in cat_replies if m.files))
    bread_rows = shared_csv(next(m for m in bread_replies if m.files))
    assert all("tiktok.com" in json.dumps(r) and "youtube" not in json.dumps(r) for r in cat_rows)
    assert all("youtube.com" in json.dumps(r) for r in bread_rows)
    assert "cats" in text_replies(slack, "C1", cats.ts)[0].text
    assert "sourdough" in text_replies(slack, "C1", bread.ts)[0].text


async def test_direct_messages_work_the_same_way(settings: Settings, slack: SlackFake) -> None:
    async with bot_on_real_core(settings, slack) as bot:
        question = slack.user_says("D1", "find viral tweets about bitcoin", channel_type="im")
        await slack.post_event(slack.message_event(question))
        [answer] = await slack.wait_for_reply("D1", question.ts)
        follow = slack.user_says(
            "D1", "export those as json", thread_ts=question.ts, channel_type="im"
        )
        await slack.post_event(slack.message_event(follow))
        replies = await slack.wait_for_reply("D1", question.ts, count=2, files=1)
        await bot.turns.drain(30)
    assert "bitcoin" in answer.text.lower()
    [file] = [f for m in replies for f in m.files]
    assert file.filename.endswith(".json")
    assert json.loads(file.content or b"null")


async def test_retries_and_double_deliveries_are_answered_once(
    settings: Settings, slack: SlackFake
) -> None:
    async with bot_on_real_core(settings, slack) as bot:
        question = slack.user_says("C1", "<@U0BOT> find viral tiktok videos about cats")
        body = slack.mention(question)
        await asyncio.gather(
            slack.post_event(body),
            slack.post_event(slack.message_event(question)),
            slack.post_event(body, retry_num=1),
        )
        await slack.wait_for_reply("C1", question.ts)
        await slack.post_event(body, retry_num=2, retry_reason="http_error")
        await slack.post_event(body)  # the same envelope once more, retry 0
        await bot.turns.drain(30)
    assert len(text_replies(slack, "C1", question.ts)) == 1


async def test_socket_mode_end_to_end(settings: Settings, slack: SlackFake) -> None:
    async with bot_on_real_core(settings, slack, socket=True) as bot:
        question = slack.user_says("C1", "<@U0BOT> find viral tiktok videos about cats")
        envelopes = [
            await slack.push_envelope(slack.mention(question)),
            await slack.push_envelope(slack.message_event(question)),
            await slack.push_envelope(slack.mention(question), retry_attempt=1),
        ]
        for envelope_id in envelopes:
            assert await slack.wait_for_ack(envelope_id) == {"envelope_id": envelope_id}
        await slack.wait_for_reply("C1", question.ts)
        follow = slack.user_says("C1", "export those as csv", thread_ts=question.ts)
        await slack.push_envelope(slack.message_event(follow))
        replies = await slack.wait_for_reply("C1", question.ts, count=2, files=1)
        await bot.turns.drain(30)
    assert len(text_replies(slack, "C1", question.ts)) == 2
    assert shared_csv(next(m for m in replies if m.files))


async def test_an_apify_failure_is_explained_in_the_thread_and_the_thread_goes_on(
    settings: Settings, slack: SlackFake
) -> None:
    async with ApifyFake() as apify, bot_on_real_core(settings, slack, apify=apify) as bot:
        apify.end_runs_with("FAILED")
        question = slack.user_says("C1", "<@U0BOT> find viral tiktok videos about cats")
        await slack.post_event(slack.mention(question))
        [failure] = await slack.wait_for_reply("C1", question.ts)
        # The person answers in the thread without a mention: the bot is still listening.
        again = slack.user_says("C1", "find viral tiktok videos about cats", thread_ts=question.ts)
        await slack.post_event(slack.message_event(again))
        replies = await slack.wait_for_reply("C1", question.ts, count=2)
        await bot.turns.drain(30)
    shown = failure.visible_text()
    assert shown.startswith("⚠️") and "scraper run failed" in shown and "try again" in shown
    assert "TikTok search 'cats'" in replies[-1].text


async def test_a_model_failure_is_explained_in_the_thread(
    settings: Settings, slack: SlackFake
) -> None:
    def overloaded(_messages: Any, _info: Any) -> Any:
        raise ModelHTTPError(529, "anthropic:claude-sonnet-4-5", {"error": "overloaded"})

    async with bot_on_real_core(settings, slack, model=FunctionModel(overloaded)) as bot:
        question = slack.user_says("C1", "<@U0BOT> find viral tiktok videos about cats")
        await slack.post_event(slack.mention(question))
        [failure] = await slack.wait_for_reply("C1", question.ts)
        await bot.turns.drain(30)
    assert "overloaded" in failure.visible_text()
    assert "try again" in failure.visible_text().lower()


async def test_user_groups_and_dates_reach_the_conversation_as_slack_shows_them(
    settings: Settings, slack: SlackFake, db: Database, scripted: ScriptedConversation
) -> None:
    """A person who writes '@design' or picks a date sees those words; the bot got Slack's
    markup for them (`<!subteam^S0DESIGN|@design>`, `<!date^1392734382^{date}|...>`)."""
    async with running_bot(slack_settings(settings, slack), scripted, db, slack):
        message = slack.user_says(
            "C1",
            "<@U0BOT> what did <!subteam^S0DESIGN|@design> post on "
            "<!date^1392734382^{date}|Feb 18, 2014> and <!subteam^S0OPS>?",
        )
        await slack.post_event(slack.mention(message))
        [answer] = await slack.wait_for_reply("C1", message.ts)
    asked = "what did @design post on Feb 18, 2014 and @S0OPS?"
    assert [m.text for m in scripted.seen] == [asked]
    assert answer.text == f"You said: {asked}"
