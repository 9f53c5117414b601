"""How answers reach the thread when Slack pushes back: 429s, refusals, long replies, digests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from slack_sdk.errors import SlackApiError

from adapters.slack.app import slack_client
from adapters.slack.replies import MAX_MESSAGES
from adapters.slack.server import slack_deliverer
from adapters.slack.turns import CRASH_TEXT
from tests.fakes.slack import FakeMessage, SlackFake
from tests.slack.conftest import ScriptedConversation, running_bot, slack_settings
from viraltracker_bot.config import Settings
from viraltracker_bot.conversation import Reply
from viraltracker_bot.storage.database import Database


async def thread_shows(
    slack: SlackFake, message: FakeMessage, shown: Callable[[FakeMessage], bool]
) -> None:
    """Wait until one of the bot's messages in the message's thread is as `shown` says."""
    await slack.wait_for(lambda: any(shown(m) for m in slack.bot_replies("C1", message.ts)))


async def test_rate_limited_replies_arrive_late_not_lost(
    settings: Settings, db: Database, slack: SlackFake, scripted: ScriptedConversation
) -> None:
    slack.rate_limit("chat.startStream", times=2, retry_after=1)
    slack.rate_limit("files.completeUploadExternal", times=1, retry_after=1)
    async with running_bot(slack_settings(settings, slack), scripted, db, slack):
        message = slack.user_says("C1", "<@U0BOT> find cats")
        await slack.post_event(slack.mention(message))
        await slack.wait_for_reply("C1", message.ts)
        follow = slack.user_says("C1", "export those as csv", thread_ts=message.ts)
        await slack.post_event(slack.message_event(follow))
        await slack.wait_for_reply("C1", message.ts, count=2, files=1)
    starts = slack.calls_to("chat.startStream")[:3]
    # Two 429s in a row: more than slack-sdk's default single retry would survive.
    assert [c.status for c in starts] == [429, 429, 200]
    assert starts[1].at - starts[0].at >= 1.0  # Retry-After was waited out
    assert starts[2].at - starts[1].at >= 1.0
    completes = slack.calls_to("files.completeUploadExternal")
    assert [c.status for c in completes] == [429, 200]


async def test_a_reply_is_posted_when_streaming_is_refused(
    settings: Settings, db: Database, slack: SlackFake, scripted: ScriptedConversation
) -> None:
    slack.fail("chat.startStream", "not_allowed_token_type")
    async with running_bot(slack_settings(settings, slack), scripted, db, slack):
        message = slack.user_says("C1", "<@U0BOT> find cats")
        await slack.post_event(slack.mention(message))
        replies = await slack.wait_for_reply("C1", message.ts)
        second = slack.user_says("C1", "<@U0BOT> find dogs")
        await slack.post_event(slack.mention(second))
        await slack.wait_for_reply("C1", second.ts)
    assert replies[0].blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Top TikTok posts"},
    }
    assert "• *cats post 1* <https://example.com/1|link>" in replies[0].visible_text()
    # The refusal is remembered: the second answer is posted straight away.
    assert len(slack.calls_to("chat.startStream")) == 1
    assert len(slack.calls_to("chat.postMessage")) == 2


async def test_progress_shows_in_a_message_where_thread_status_is_refused(
    settings: Settings, db: Database, slack: SlackFake, scripted: ScriptedConversation
) -> None:
    slack.fail("assistant.threads.setStatus", "missing_scope", times=10)
    async with running_bot(slack_settings(settings, slack), scripted, db, slack):
        message = slack.user_says("C1", "<@U0BOT> find cats")
        await slack.post_event(slack.mention(message))
        await thread_shows(slack, message, lambda m: m.edited and "cats post 1" in m.visible_text())
    replies = slack.bot_replies("C1", message.ts)
    assert len(replies) == 1  # the placeholder became the answer
    posted = slack.calls_to("chat.postMessage")[0].args["text"]
    assert posted in ("_Thinking…_", "_Searching TikTok…_")


async def test_a_crash_in_the_core_is_answered_in_the_thread(
    settings: Settings, db: Database, slack: SlackFake, scripted: ScriptedConversation
) -> None:
    async with running_bot(slack_settings(settings, slack), scripted, db, slack):
        message = slack.user_says("C1", "<@U0BOT> crash")
        await slack.post_event(slack.mention(message))
        replies = await slack.wait_for_reply("C1", message.ts)
    assert replies[0].visible_text() == f":warning: {CRASH_TEXT}"


async def test_a_very_long_answer_fits_slack(
    settings: Settings, db: Database, slack: SlackFake
) -> None:
    long_text = "\n\n".join(f"{i}. " + "a viral post " * 300 for i in range(40))

    class Verbose:
        async def handle(self, message, progress):  # type: ignore[no-untyped-def]
            return Reply(text=long_text)

    async with running_bot(slack_settings(settings, slack), Verbose(), db, slack):
        message = slack.user_says("C1", "<@U0BOT> tell me everything")
        await slack.post_event(slack.mention(message))
        await slack.wait_for_reply("C1", message.ts, count=MAX_MESSAGES)
    assert all(c.response["ok"] for c in slack.calls)
    assert "trimmed" in slack.bot_replies("C1", message.ts)[-1].visible_text()


async def test_digests_are_delivered_to_a_channel_with_their_files(
    settings: Settings, slack: SlackFake, tmp_path: Path
) -> None:
    chart = tmp_path / "top-posts.png"
    chart.write_bytes(b"\x89PNG fake chart")
    deliverer = slack_deliverer(slack_settings(settings, slack))
    assert deliverer.platform == "slack"
    await deliverer.deliver("C7", Reply(text="**Daily digest**: 3 new viral posts", files=[chart]))
    parent = slack.messages["C7"][0]
    await deliverer.deliver("C7", Reply(text="and one more"), thread=parent.ts)
    assert parent.thread_ts is None
    assert "*Daily digest*" in parent.visible_text()
    assert [f.filename for f in slack.messages["C7"][1].files] == ["top-posts.png"]
    assert slack.messages["C7"][1].thread_ts is None
    assert slack.thread("C7", parent.ts)[-1].text == "and one more"
    await slack_client(slack_settings(settings, slack)).auth_test()


async def test_an_export_slack_refuses_is_named_in_the_thread(
    settings: Settings, db: Database, slack: SlackFake, scripted: ScriptedConversation
) -> None:
    async with running_bot(slack_settings(settings, slack), scripted, db, slack) as bot:
        message = slack.user_says("C1", "<@U0BOT> find cats")
        await slack.post_event(slack.mention(message))
        await slack.wait_for_reply("C1", message.ts)
        # The app was installed without files:write: every upload is refused.
        slack.fail("files.getUploadURLExternal", "missing_scope", times=10)
        follow = slack.user_says("C1", "export those as csv", thread_ts=message.ts)
        await slack.post_event(slack.message_event(follow))
        replies = await slack.wait_for_reply("C1", message.ts, count=3)
        await bot.turns.drain(10)
    shown = [m.visible_text() for m in replies]
    assert shown[1] == "Exported 3 posts."
    assert "could not attach export-2.csv" in shown[2] and "missing_scope" in shown[2]
    assert all(m.thread_ts == message.ts for m in replies)


async def test_links_keep_their_underscores_and_stars(settings: Settings, slack: SlackFake) -> None:
    deliverer = slack_deliverer(slack_settings(settings, slack))
    url = "https://www.tiktok.com/@__cat__/video/7?a=1&b=**2**"
    await deliverer.deliver(
        "C7",
        Reply(text=f'1. @__cat__: 2M views. "so **cute**" {url}\n2. [a post](https://x.com/__b__)'),
    )
    shown = slack.messages["C7"][0].visible_text()
    # Slack reads &amp; in a link as &; nothing else in the address may change.
    assert url.replace("&", "&amp;") in shown
    assert "<https://x.com/__b__|a post>" in shown
    assert '"so *cute*"' in shown


async def test_a_digest_whose_file_upload_fails_is_posted_once_with_a_note(
    settings: Settings, slack: SlackFake, tmp_path: Path
) -> None:
    chart = tmp_path / "top-posts.png"
    chart.write_bytes(b"\x89PNG fake chart")
    slack.fail_uploads(status=500)
    deliverer = slack_deliverer(slack_settings(settings, slack))
    # Raising would make the digest runner try the whole digest again, text and all.
    await deliverer.deliver("C7", Reply(text="**Daily digest**: 3 new viral posts", files=[chart]))
    shown = [m.visible_text() for m in slack.messages["C7"]]
    assert len(shown) == 2 and "*Daily digest*" in shown[0]
    assert "could not attach top-posts.png" in shown[1]


async def test_an_export_that_never_uploads_is_named_in_the_thread_at_last(
    settings: Settings, db: Database, slack: SlackFake, scripted: ScriptedConversation
) -> None:
    live = slack_settings(settings, slack, inbox_max_attempts=2, inbox_sweep_s=0.1)
    async with running_bot(live, scripted, db, slack) as bot:
        message = slack.user_says("C1", "<@U0BOT> find cats")
        await slack.post_event(slack.mention(message))
        await slack.wait_for_reply("C1", message.ts)
        slack.fail_uploads(times=100)  # Slack's file server is down for good
        follow = slack.user_says("C1", "export those as csv", thread_ts=message.ts)
        await slack.post_event(slack.message_event(follow))
        replies = await slack.wait_for_reply("C1", message.ts, count=3, within=30)
        await bot.turns.drain(10)
    shown = [m.visible_text() for m in replies]
    assert shown[1] == "Exported 3 posts."  # shown once, not again on every attempt
    assert len(shown) == 3 and "could not attach export-2.csv" in shown[2]


async def test_a_heading_keeps_the_underscores_of_its_hashtags_and_handles(
    settings: Settings, slack: SlackFake
) -> None:
    deliverer = slack_deliverer(slack_settings(settings, slack))
    await deliverer.deliver(
        "C7", Reply(text="## **Top** posts for #cat_videos by @leo_cats\n1. a post")
    )
    [header, _] = slack.messages["C7"][0].blocks
    assert header["text"]["text"] == "Top posts for #cat_videos by @leo_cats"


async def test_one_failed_stream_start_does_not_stop_streaming_for_good(
    settings: Settings, db: Database, slack: SlackFake, scripted: ScriptedConversation
) -> None:
    slack.fail("chat.startStream", "internal_error")  # a hiccup on Slack's side, once
    async with running_bot(slack_settings(settings, slack), scripted, db, slack):
        first = slack.user_says("C1", "<@U0BOT> find cats")
        await slack.post_event(slack.mention(first))
        [posted] = await slack.wait_for_reply("C1", first.ts)
        second = slack.user_says("C1", "<@U0BOT> find dogs")
        await slack.post_event(slack.mention(second))
        [streamed] = await slack.wait_for_reply("C1", second.ts)
    assert "cats post 1" in posted.visible_text()  # the first answer was posted instead
    # The next answer is streamed again: Slack renders its Markdown.
    assert streamed.text.startswith("## Top TikTok posts") and not streamed.blocks


async def test_the_fake_refuses_a_channel_stream_without_its_recipient_as_slack_does(
    settings: Settings, slack: SlackFake
) -> None:
    """Slack streams into a channel only for a named person (team and user); a DM needs
    neither. A bot that stopped naming them would fall back to posting in every channel."""
    client = slack_client(slack_settings(settings, slack))
    parent = slack.user_says("C1", "<@U0BOT> find cats")
    errors = []
    for recipient in ({}, {"recipient_team_id": slack.team_id}):
        try:
            await client.chat_startStream(channel="C1", thread_ts=parent.ts, **recipient)
        except SlackApiError as exc:
            errors.append(exc.response["error"])
    assert errors == ["missing_recipient_team_id", "missing_recipient_user_id"]
    dm = slack.user_says("D1", "find cats", channel_type="im")
    started = await client.chat_startStream(channel="D1", thread_ts=dm.ts, markdown_text="hi")
    assert started["ok"]
    assert [m.text for m in slack.bot_replies("C1", parent.ts)] == []


async def test_text_we_did_not_write_cannot_ping_a_channel_or_a_group(
    settings: Settings, db: Database, slack: SlackFake, scripted: ScriptedConversation
) -> None:
    """Captions and names come from strangers: a literal `<!channel>` or `<!subteam^ID>` in
    them must reach Slack as plain words, streamed or posted, never as a broadcast."""
    typed = "&lt;!channel&gt; &lt;!here|here&gt; &lt;!subteam^S0DESIGN|@design&gt;"
    async with running_bot(slack_settings(settings, slack), scripted, db, slack):
        first = slack.user_says("C1", f"<@U0BOT> find {typed}")
        await slack.post_event(slack.mention(first))
        [streamed] = await slack.wait_for_reply("C1", first.ts)
        slack.fail("chat.startStream", "not_allowed_token_type")
        second = slack.user_says("C1", f"<@U0BOT> find {typed}")
        await slack.post_event(slack.mention(second))
        [posted] = await slack.wait_for_reply("C1", second.ts)
    assert not streamed.blocks  # the first answer was streamed as Markdown
    assert "**@channel @here @design post 1**" in streamed.text
    for shown in (streamed.text, posted.visible_text(), posted.text):
        assert "<!" not in shown


async def test_quotes_links_with_brackets_and_very_long_lines_read_right(
    settings: Settings, slack: SlackFake
) -> None:
    deliverer = slack_deliverer(slack_settings(settings, slack))
    wiki = "https://en.wikipedia.org/wiki/Cat_(disambiguation)"
    links = [f"[top post number {i}](https://example.com/p/{i})" for i in range(150)]
    await deliverer.deliver(
        "C7",
        Reply(text=f"> so **cute** & small\nSee [Cat]({wiki}).\n" + " · ".join(links)),
    )
    shown = "\n".join(m.visible_text() for m in slack.messages["C7"])
    assert "> so *cute* &amp; small\n" in shown  # Slack's quote, not a literal '>'
    assert f"See <{wiki}|Cat>." in shown
    # Cut where it had to be, a line of links still holds every link whole.
    for i in range(150):
        assert f"<https://example.com/p/{i}|top post number {i}>" in shown


async def test_a_retried_delivery_replaces_the_progress_message_instead_of_leaving_it(
    settings: Settings, db: Database, slack: SlackFake, scripted: ScriptedConversation
) -> None:
    """Where the thread status is refused, progress shows in a message the answer replaces.
    When that first delivery failed and a later attempt delivered the answer, the answer
    came as a new message and '_Searching TikTok…_' stayed in the thread for good."""
    slack.fail("assistant.threads.setStatus", "missing_scope", times=100)
    scripted.release = asyncio.Event()
    live = slack_settings(settings, slack, inbox_sweep_s=0.1)
    async with running_bot(live, scripted, db, slack) as bot:
        message = slack.user_says("C1", "<@U0BOT> find cats")
        await slack.post_event(slack.mention(message))
        await thread_shows(slack, message, lambda m: m.visible_text() == "_Searching TikTok…_")
        slack.fail("chat.update", "internal_error")  # the answer's first delivery fails
        scripted.release.set()
        await thread_shows(slack, message, lambda m: "cats post 1" in m.visible_text())
        await bot.turns.drain(10)
    shown = [m.visible_text() for m in slack.bot_replies("C1", message.ts)]
    assert len(shown) == 1 and "cats post 1" in shown[0], shown


async def test_a_message_taken_over_after_a_crash_leaves_no_progress_message_behind(
    settings: Settings, db: Database, slack: SlackFake, scripted: ScriptedConversation
) -> None:
    """A process that dies mid-answer leaves its progress message; the process that takes
    the message over answers in its place rather than beside it."""
    slack.fail("assistant.threads.setStatus", "missing_scope", times=100)
    scripted.release = asyncio.Event()
    live = slack_settings(settings, slack, inbox_sweep_s=0.1, inbox_lease_s=1.0)
    async with running_bot(live, scripted, db, slack) as first:
        message = slack.user_says("C1", "<@U0BOT> find cats")
        await slack.post_event(slack.mention(message))
        await thread_shows(slack, message, lambda m: m.visible_text() == "_Searching TikTok…_")
        await first.turns.close(0.1)  # its turn is cut short, as by a crash
    scripted.release.set()
    async with running_bot(live, scripted, db, slack) as second:
        second.turns.start()
        await thread_shows(slack, message, lambda m: "cats post 1" in m.visible_text())
        await second.turns.drain(10)
    shown = [m.visible_text() for m in slack.bot_replies("C1", message.ts)]
    assert len(scripted.seen) == 2  # the second process answered it
    assert len(shown) == 1 and "cats post 1" in shown[0], shown
