"""Socket Mode: the same answers over Slack's WebSocket, envelopes acknowledged at once."""

from __future__ import annotations

import asyncio

from tests.fakes.slack import SlackFake
from tests.slack.conftest import ScriptedConversation, running_bot, slack_settings
from viraltracker_bot.config import Settings
from viraltracker_bot.storage.database import Database


async def test_socket_mode_answers_in_the_thread_once(
    settings: Settings, db: Database, slack: SlackFake, scripted: ScriptedConversation
) -> None:
    scripted.release = asyncio.Event()
    s = slack_settings(settings, slack)
    async with running_bot(s, scripted, db, slack, socket=True) as bot:
        assert [c.method for c in slack.calls_to("apps.connections.open")] == [
            "apps.connections.open"
        ]
        message = slack.user_says("C1", "<@U0BOT> find cats")
        first = await slack.push_envelope(slack.mention(message))
        also_message = await slack.push_envelope(slack.message_event(message))
        retried = await slack.push_envelope(
            slack.mention(message), retry_attempt=1, retry_reason="timeout"
        )
        # Acknowledged while the answer is still being worked on.
        for envelope_id in (first, also_message, retried):
            assert (await slack.wait_for_ack(envelope_id)) == {"envelope_id": envelope_id}
        assert slack.bot_replies("C1", message.ts) == []
        scripted.release.set()
        replies = await slack.wait_for_reply("C1", message.ts)
        assert "cats post 1" in replies[0].text

        follow = slack.user_says("C1", "export those as csv", thread_ts=message.ts)
        await slack.push_envelope(slack.message_event(follow))
        replies = await slack.wait_for_reply("C1", message.ts, count=2, files=1)
        await bot.turns.drain(30)
    assert [m.text for m in scripted.seen] == ["find cats", "export those as csv"]
    shared = [f for m in replies for f in m.files]
    assert [f.filename for f in shared] == ["export-2.csv"]
    assert b"cats post 3" in (shared[0].content or b"")
