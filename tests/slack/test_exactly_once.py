"""Each person's message is answered once: retries, double deliveries, replicas, restarts."""

from __future__ import annotations

import asyncio

from tests.fakes.slack import SlackFake
from tests.slack.conftest import ScriptedConversation, running_bot, slack_settings
from viraltracker_bot.config import Settings
from viraltracker_bot.storage.database import Database


def _answers(slack: SlackFake, channel: str, ts: str) -> int:
    return len([m for m in slack.bot_replies(channel, ts) if m.text and not m.files])


async def test_a_retried_event_is_answered_once(
    settings: Settings, db: Database, slack: SlackFake, scripted: ScriptedConversation
) -> None:
    scripted.release = asyncio.Event()  # the answer is slow, so Slack retries meanwhile
    async with running_bot(slack_settings(settings, slack), scripted, db, slack) as bot:
        message = slack.user_says("C1", "<@U0BOT> find cats")
        body = slack.mention(message)
        assert (await slack.post_event(body))[0] == 200
        for retry in (1, 2, 3):
            assert (await slack.post_event(body, retry_num=retry))[0] == 200
        assert (await slack.post_event(body))[0] == 200  # same envelope again, retry 0
        scripted.release.set()
        await slack.wait_for_reply("C1", message.ts)
        await bot.turns.drain(30)
    assert len(scripted.seen) == 1
    assert _answers(slack, "C1", message.ts) == 1


async def test_a_mention_delivered_also_as_a_message_is_answered_once(
    settings: Settings, db: Database, slack: SlackFake, scripted: ScriptedConversation
) -> None:
    async with running_bot(slack_settings(settings, slack), scripted, db, slack) as bot:
        first = slack.user_says("C1", "<@U0BOT> find cats")
        await asyncio.gather(
            slack.post_event(slack.mention(first)), slack.post_event(slack.message_event(first))
        )
        await slack.wait_for_reply("C1", first.ts)
        # In the thread the bot answered, a mention comes as a message first, then app_mention.
        again = slack.user_says("C1", "<@U0BOT> find dogs", thread_ts=first.ts)
        await slack.post_event(slack.message_event(again))
        await slack.post_event(slack.mention(again))
        await slack.wait_for_reply("C1", first.ts, count=2)
        await bot.turns.drain(30)
    assert [m.text for m in scripted.seen] == ["find cats", "find dogs"]
    assert _answers(slack, "C1", first.ts) == 2


async def test_many_copies_at_once_on_two_replicas_are_answered_once(
    settings: Settings, db: Database, slack: SlackFake, scripted: ScriptedConversation
) -> None:
    """Two bot processes behind a load balancer share the database, and nothing else."""
    s = slack_settings(settings, slack)
    async with (
        running_bot(s, scripted, db, slack) as one,
        running_bot(s, scripted, db, slack) as two,
    ):
        message = slack.user_says("C1", "<@U0BOT> find cats")
        body = slack.mention(message)
        urls = [one.events_url, two.events_url] * 5
        statuses = await asyncio.gather(*(slack.post_event(body, url=url) for url in urls))
        assert {status for status, _ in statuses} == {200}
        await slack.wait_for_reply("C1", message.ts)
        await one.turns.drain(30)
        await two.turns.drain(30)
    assert len(scripted.seen) == 1
    assert _answers(slack, "C1", message.ts) == 1


async def test_an_event_redelivered_after_a_restart_is_not_answered_again(
    settings: Settings, db: Database, slack: SlackFake, scripted: ScriptedConversation
) -> None:
    s = slack_settings(settings, slack)
    message = slack.user_says("C1", "<@U0BOT> find cats")
    async with running_bot(s, scripted, db, slack):
        await slack.post_event(slack.mention(message))
        await slack.wait_for_reply("C1", message.ts)
    async with running_bot(s, scripted, db, slack) as restarted:
        await slack.post_event(slack.mention(message), retry_num=1, retry_reason="http_error")
        later = slack.user_says("C1", "<@U0BOT> hello")
        await slack.post_event(slack.mention(later))
        await slack.wait_for_reply("C1", later.ts)
        await restarted.turns.drain(30)
    assert [m.text for m in scripted.seen] == ["find cats", "hello"]
    assert _answers(slack, "C1", message.ts) == 1


async def test_edits_and_other_message_events_are_acknowledged_and_not_answered(
    settings: Settings, db: Database, slack: SlackFake, scripted: ScriptedConversation
) -> None:
    """The inbox acknowledges the questions it stores; every other message event still gets
    its 200 (a 404 would make Slack retry it) and nothing more."""
    async with running_bot(slack_settings(settings, slack), scripted, db, slack) as bot:
        first = slack.user_says("C1", "<@U0BOT> find cats")
        assert (await slack.post_event(slack.mention(first)))[0] == 200
        await slack.wait_for_reply("C1", first.ts)
        edit = slack.message_event(first)
        edit["event"] = {
            "type": "message",
            "subtype": "message_changed",
            "channel": "C1",
            "ts": "9999999999.000001",
            "message": {**edit["event"], "text": "<@U0BOT> find dogs", "edited": {"ts": "1"}},
        }
        joined = slack.message_event(slack.user_says("C1", "joined"))
        joined["event"]["subtype"] = "channel_join"
        for body in (edit, joined):
            assert (await slack.post_event(body))[0] == 200
        await bot.turns.drain(30)
    assert [m.text for m in scripted.seen] == ["find cats"]
    assert _answers(slack, "C1", first.ts) == 1


async def test_a_thread_message_addressed_to_someone_else_is_left_to_them(
    settings: Settings, db: Database, slack: SlackFake, scripted: ScriptedConversation
) -> None:
    """In a thread the bot answered, people also talk to each other; a message that @mentions
    a colleague (or @here) and not the bot is theirs, not a question for the bot."""
    async with running_bot(slack_settings(settings, slack), scripted, db, slack) as bot:
        first = slack.user_says("C1", "<@U0BOT> find cats")
        await slack.post_event(slack.mention(first))
        await slack.wait_for_reply("C1", first.ts)
        for text in ("<@U0BOB> look at post 2!", "<!here> thoughts?"):
            aside = slack.user_says("C1", text, thread_ts=first.ts)
            assert (await slack.post_event(slack.message_event(aside)))[0] == 200
        follow = slack.user_says("C1", "export those as csv", thread_ts=first.ts)
        await slack.post_event(slack.message_event(follow))
        await slack.wait_for_reply("C1", first.ts, count=2, files=1)
        await bot.turns.drain(30)
    assert [m.text for m in scripted.seen] == ["find cats", "export those as csv"]
    assert _answers(slack, "C1", first.ts) == 2


def _file_share(slack: SlackFake, text: str, thread_ts: str) -> dict[str, object]:
    """The `message` event of a file someone shares in a thread, with `text` beside it."""
    body = slack.message_event(slack.user_says("C1", text, thread_ts=thread_ts))
    body["event"] |= {
        "subtype": "file_share",
        "files": [{"id": "F0PIC", "name": "cat.png", "mimetype": "image/png"}],
    }
    return body


async def test_a_file_shared_without_words_in_the_thread_is_not_answered(
    settings: Settings, db: Database, slack: SlackFake, scripted: ScriptedConversation
) -> None:
    """A picture posted in a thread the bot answered is for the people there; the bot
    answered it with its help text. A file shared with a question is still a question."""
    async with running_bot(slack_settings(settings, slack), scripted, db, slack) as bot:
        first = slack.user_says("C1", "<@U0BOT> find cats")
        await slack.post_event(slack.mention(first))
        await slack.wait_for_reply("C1", first.ts)
        assert (await slack.post_event(_file_share(slack, "", first.ts)))[0] == 200
        await bot.turns.drain(30)
        assert (await slack.post_event(_file_share(slack, "find dogs", first.ts)))[0] == 200
        await slack.wait_for_reply("C1", first.ts, count=2)
        await bot.turns.drain(30)
    assert [m.text for m in scripted.seen] == ["find cats", "find dogs"]
    assert _answers(slack, "C1", first.ts) == 2
