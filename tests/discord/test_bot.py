"""End to end: the real discord.py client and the real core, against the Discord and Apify fakes."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import SecretStr

from adapters.discord import DiscordBot, DiscordDeliverer
from adapters.discord.usage import guild_usage
from tests.discord.conftest import RunningBot
from tests.fakes.apify import ApifyFake
from tests.fakes.discord import FLAG_EPHEMERAL, FLAG_LOADING, DiscordFake, FakeInteraction
from viraltracker_bot.config import Settings
from viraltracker_bot.conversation import IncomingMessage, Progress, Reply
from viraltracker_bot.digests import repository as repo
from viraltracker_bot.runtime import Runtime
from viraltracker_bot.storage.agent_runs import record_run
from viraltracker_bot.storage.database import Database
from viraltracker_bot.storage.dialects import as_utc
from viraltracker_bot.storage.tables import ProcessedEventRow

Message = dict[str, Any]
SHORT_LEASE_S = 1.0


@pytest.fixture
async def apify() -> AsyncIterator[ApifyFake]:
    async with ApifyFake() as fake:
        yield fake


@pytest.fixture
def live_settings(discord_settings: Settings, apify: ApifyFake) -> Settings:
    """Discord through its fake, Apify "live" through its fake, the offline model router."""
    return discord_settings.model_copy(
        update={
            "apify_token": SecretStr(apify.token),
            "apify_api_base_url": apify.url,
            "apify_retry_base_delay_s": 0.01,
        }
    )


@pytest.fixture
async def runtime(live_settings: Settings) -> AsyncIterator[Runtime]:
    core = await Runtime.start(live_settings)
    try:
        yield core
    finally:
        await core.close()


@pytest.fixture
def start_bot(running_bot: RunningBot, runtime: Runtime, live_settings: Settings) -> RunningBot:
    """The bot on the real core; pass `settings=` overrides for allowlists and intents."""

    def start(**overrides: Any) -> Any:
        settings = live_settings.model_copy(update=overrides)
        return running_bot(runtime.conversation, settings=settings, database=runtime.db)

    return start


@pytest.fixture
async def bot(start_bot: RunningBot) -> AsyncIterator[DiscordBot]:
    async with start_bot() as running:
        yield running


# --- helpers -----------------------------------------------------------------------------------


def files(fake: DiscordFake, message: Message | None) -> dict[str, str]:
    if not message:
        return {}
    return {a["filename"]: fake.attachment_bytes(a).decode() for a in message["attachments"]}


def finished(message: Message) -> bool:
    """Not a status line or the 'thinking' placeholder any more."""
    loading = message.get("flags", 0) & FLAG_LOADING
    return not loading and not message["content"].startswith("⏳")


async def thread_for(fake: DiscordFake, channel_id: int, name_part: str) -> int:
    def find() -> int | None:
        for thread in fake.threads_of(channel_id):
            if name_part in thread["name"]:
                return int(thread["id"])
        return None

    return await fake.wait_for(find)


async def answer_in(
    fake: DiscordFake, thread_id: int, test: Callable[[Message], bool] = lambda _m: True
) -> Message:
    """The bot's first finished message in the thread (after the question header) passing test."""

    def find() -> Message | None:
        for message in fake.bot_messages(thread_id)[1:]:
            if finished(message) and test(message):
                return message
        return None

    return await fake.wait_for(find)


async def original_answer(fake: DiscordFake, interaction: FakeInteraction) -> Message:
    def find() -> Message | None:
        message = fake.original_response(interaction)
        return message if message and finished(message) else None

    return await fake.wait_for(find)


def thread_text(fake: DiscordFake, thread_id: int) -> str:
    """All the bot wrote in a thread after the question header (long answers span messages)."""
    return "\n".join(m["content"] for m in fake.bot_messages(thread_id)[1:])


def with_file(suffix: str) -> Callable[[Message], bool]:
    return lambda m: any(a["filename"].endswith(suffix) for a in m["attachments"])


async def eventually(predicate: Callable[[], Any], within: float = 30.0) -> None:
    async with asyncio.timeout(within):
        # Polls a log capture, which has nothing to await on.
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.02)


async def ask(fake: DiscordFake, channel_id: int, query: str, name: str) -> tuple[int, Message]:
    await fake.slash("viral", "ask", {"query": query}, channel_id=channel_id)
    thread_id = await thread_for(fake, channel_id, name)
    return thread_id, await answer_in(fake, thread_id)


# --- /viral ask in a channel -------------------------------------------------------------------


async def test_ask_defers_opens_a_thread_and_answers_there_with_a_csv(
    bot: DiscordBot, fake: DiscordFake, apify: ApifyFake, channel_id: int
) -> None:
    query = "find viral bitcoin tweets and export csv"
    interaction = await fake.slash("viral", "ask", {"query": query}, channel_id=channel_id)
    thread_id = await thread_for(fake, channel_id, "bitcoin")
    answer = await answer_in(fake, thread_id, with_file(".csv"))

    # Deferred at once with the "thinking" state, through the interaction callback.
    (callback,) = fake.calls_to("POST", rf"^/interactions/{interaction.id}/")
    assert callback.json == {"type": 5} and callback.query["with_response"] == "1"
    assert callback.status == 200
    # One public thread, opened by the bot, named after the question; the channel points to it.
    (thread,) = fake.threads_of(channel_id)
    assert thread["type"] == 11 and thread["owner_id"] == fake.bot_id
    assert thread["name"] == query
    original = await original_answer(fake, interaction)
    assert f"<#{thread_id}>" in original["content"]
    # In the thread: who asked what, then the answer with the CSV attached.
    header = fake.bot_messages(thread_id)[0]
    assert f"<@{fake.user['id']}>" in header["content"] and query in header["content"]
    text = thread_text(fake, thread_id)
    assert "bitcoin" in text.lower() and "tweets" in text.lower()
    ((name, csv_text),) = files(fake, answer).items()
    assert name.endswith(".csv") and "bitcoin" in csv_text.lower()
    assert csv_text.count("\n") > 5  # a header and rows
    # Progress showed in the thread while the agents worked, then became the answer.
    posted = [c.json for c in fake.calls_to("POST", rf"^/channels/{thread_id}/messages$")]
    assert any((p or {}).get("content", "").startswith("⏳") for p in posted)
    assert apify.run_count == 1
    # Everything the bot posted in the thread went with the bot token, within the limits.
    thread_calls = fake.calls_to("POST", rf"^/channels/{thread_id}/messages")
    assert all(c.authorization == f"Bot {fake.token}" and c.status == 200 for c in thread_calls)


async def test_follow_ups_in_the_thread_use_its_cached_results(
    bot: DiscordBot, fake: DiscordFake, apify: ApifyFake, channel_id: int
) -> None:
    thread_id, _ = await ask(fake, channel_id, "viral bitcoin tweets", "bitcoin")
    assert apify.run_count == 1

    export = await fake.slash("viral", "export", {"format": "json"}, channel_id=thread_id)
    exported = await original_answer(fake, export)
    ((name, body),) = files(fake, exported).items()
    assert name.endswith(".json") and "bitcoin" in body.lower()
    assert json.loads(body)  # a real JSON document
    assert "bitcoin" in exported["content"].lower()

    asked = await fake.user_message(thread_id, "analyze tweet #2", mention_bot=True)
    reply = await answer_in(
        fake,
        thread_id,
        lambda m: (m.get("message_reference") or {}).get("message_id") == asked["id"],
    )
    assert "bitcoin" in reply["content"].lower()
    assert apify.run_count == 1  # both answered from the thread's cache: no new scraper run


async def test_ask_inside_the_thread_turns_its_thinking_message_into_the_answer(
    bot: DiscordBot, fake: DiscordFake, apify: ApifyFake, channel_id: int
) -> None:
    thread_id, _ = await ask(fake, channel_id, "viral bitcoin tweets", "bitcoin")
    again = await fake.slash("viral", "ask", {"query": "analyze tweet #2"}, channel_id=thread_id)
    answer = await original_answer(fake, again)

    assert again.callbacks == [{"type": 5}]
    assert answer["channel_id"] == str(thread_id) and "bitcoin" in answer["content"].lower()
    edits = fake.calls_to(
        "PATCH", rf"/webhooks/{fake.application_id}/{again.token}/messages/@original"
    )
    assert edits[0].json["content"].startswith("⏳")  # progress while the agents worked
    assert len(fake.threads_of(channel_id)) == 1 and apify.run_count == 1


async def test_an_expired_token_mid_answer_falls_back_to_the_thread(
    bot: DiscordBot, fake: DiscordFake, channel_id: int
) -> None:
    thread_id, _ = await ask(fake, channel_id, "viral bitcoin tweets", "bitcoin")
    fake.fail_next(
        "PATCH",
        r"^/webhooks/.*/@original$",
        status=401,
        code=50027,
        message="Invalid Webhook Token",
        times=20,
    )
    await fake.slash("viral", "export", {"format": "markdown"}, channel_id=thread_id)
    answer = await answer_in(fake, thread_id, with_file(".md"))
    assert "bitcoin" in "".join(files(fake, answer).values()).lower()


async def test_two_threads_keep_separate_sessions(
    bot: DiscordBot, fake: DiscordFake, channel_id: int
) -> None:
    await fake.slash("viral", "ask", {"query": "viral bitcoin tweets"}, channel_id=channel_id)
    await fake.slash("viral", "ask", {"query": "viral cooking tiktoks"}, channel_id=channel_id)
    bitcoin = await thread_for(fake, channel_id, "bitcoin")
    cooking = await thread_for(fake, channel_id, "cooking")
    await answer_in(fake, bitcoin)
    await answer_in(fake, cooking)

    exports = {}
    for thread_id in (bitcoin, cooking):
        interaction = await fake.slash("viral", "export", {"format": "csv"}, channel_id=thread_id)
        exports[thread_id] = "".join(files(fake, await original_answer(fake, interaction)).values())
    assert "bitcoin" in exports[bitcoin].lower() and "cooking" not in exports[bitcoin].lower()
    assert "cooking" in exports[cooking].lower() and "bitcoin" not in exports[cooking].lower()


# --- failures ----------------------------------------------------------------------------------


async def test_a_failed_scraper_run_is_answered_clearly_in_the_thread(
    bot: DiscordBot, fake: DiscordFake, apify: ApifyFake, channel_id: int
) -> None:
    apify.end_runs_with("FAILED", times=10)
    await fake.slash("viral", "ask", {"query": "viral bitcoin tweets"}, channel_id=channel_id)
    thread_id = await thread_for(fake, channel_id, "bitcoin")
    answer = await answer_in(fake, thread_id, lambda m: bool(m["embeds"]))

    (embed,) = answer["embeds"]
    assert embed["title"] == "I couldn't finish that" and embed["color"]
    assert "fail" in embed["description"].lower() and not answer["attachments"]


async def test_no_permission_to_open_a_thread_is_explained(
    bot: DiscordBot, fake: DiscordFake, channel_id: int
) -> None:
    fake.fail_next(
        "POST",
        rf"^/channels/{channel_id}/threads$",
        status=403,
        code=50013,
        message="Missing Permissions",
    )
    interaction = await fake.slash("viral", "ask", {"query": "bitcoin"}, channel_id=channel_id)
    original = await fake.wait_for(
        lambda: (m := fake.original_response(interaction)) and m["embeds"] and m
    )
    assert "Create Public Threads" in original["embeds"][0]["description"]
    assert not fake.threads_of(channel_id)


async def test_no_permission_to_post_in_the_thread_is_explained(
    bot: DiscordBot, fake: DiscordFake, channel_id: int
) -> None:
    # Create Public Threads granted, Send Messages in Threads not: the thread opens, and the
    # first post in it (the question's header) is refused.
    fake.fail_next(
        "POST", r"^/channels/\d+/messages$", status=403, code=50013, message="Missing Permissions"
    )
    interaction = await fake.slash("viral", "ask", {"query": "bitcoin"}, channel_id=channel_id)
    original = await fake.wait_for(
        lambda: (m := fake.original_response(interaction)) and m["embeds"] and m
    )
    assert "Send Messages in Threads" in original["embeds"][0]["description"]
    assert not fake.followups(interaction)  # explained once, where the question was asked


class BrokenCore:
    """A core that fails outside its own error handling (a bug, a lost database)."""

    async def handle(self, message: IncomingMessage, progress: Progress) -> Reply:
        await progress("Searching Twitter/X...")
        raise RuntimeError("database connection lost")


async def test_a_crash_in_the_core_still_gets_an_answer(
    running_bot: RunningBot, fake: DiscordFake, channel_id: int
) -> None:
    async with running_bot(BrokenCore()):
        await fake.slash("viral", "ask", {"query": "bitcoin"}, channel_id=channel_id)
        thread_id = await thread_for(fake, channel_id, "bitcoin")
        answer = await answer_in(fake, thread_id, lambda m: bool(m["embeds"]))
    assert "went wrong on my side" in answer["embeds"][0]["description"]
    assert "database connection lost" not in json.dumps(answer)


async def test_a_database_outage_is_answered_not_left_thinking(
    running_bot: RunningBot, runtime: Runtime, fake: DiscordFake, channel_id: int, tmp_path: Any
) -> None:
    unreachable = Database(f"sqlite+aiosqlite:///{tmp_path}/missing/dir/bot.db")
    try:
        async with running_bot(runtime.conversation, database=unreachable):
            interaction = await fake.slash(
                "viral", "ask", {"query": "bitcoin"}, channel_id=channel_id
            )
            said = await fake.wait_for(lambda: fake.original_response(interaction))
    finally:
        await unreachable.dispose()
    assert said["flags"] & FLAG_EPHEMERAL and "database" in said["embeds"][0]["description"]
    assert not fake.threads_of(channel_id)


# --- exactly once, allowlists, bots ------------------------------------------------------------


async def test_an_interaction_delivered_twice_is_answered_once(
    bot: DiscordBot,
    fake: DiscordFake,
    channel_id: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="adapters.discord")
    interaction = await fake.slash("viral", "ask", {"query": "bitcoin"}, channel_id=channel_id)
    await fake.deliver_interaction(interaction.payload)  # e.g. replayed after a RESUME
    thread_id = await thread_for(fake, channel_id, "bitcoin")
    await answer_in(fake, thread_id)
    await eventually(lambda: "delivered again" in caplog.text)

    assert len(fake.calls_to("POST", rf"^/interactions/{interaction.id}/")) == 1
    assert len(fake.threads_of(channel_id)) == 1
    assert len(fake.calls_to("POST", rf"^/channels/{channel_id}/threads$")) == 1


async def test_a_server_not_on_the_allowlist_is_refused_politely(
    start_bot: RunningBot, fake: DiscordFake, channel_id: int
) -> None:
    async with start_bot(discord_allowed_guilds=["123456789012345678"]):
        interaction = await fake.slash("viral", "ask", {"query": "bitcoin"}, channel_id=channel_id)
        refusal = await fake.wait_for(lambda: fake.original_response(interaction))

    (callback,) = interaction.callbacks
    assert callback["type"] == 4 and callback["data"]["flags"] == FLAG_EPHEMERAL
    assert refusal["content"].startswith("Sorry, I'm not enabled on this server")
    assert not fake.threads_of(channel_id) and not fake.visible(channel_id)


async def test_only_allowed_channels_and_their_threads_are_answered(
    start_bot: RunningBot, fake: DiscordFake, guild_id: int
) -> None:
    allowed, other = fake.text_channels(guild_id)
    async with start_bot(discord_allowed_channels=[str(allowed)]):
        refused = await fake.slash("viral", "ask", {"query": "bitcoin"}, channel_id=other)
        message = await fake.wait_for(lambda: fake.original_response(refused))
        assert "don't answer in this channel" in message["content"]

        thread_id, _ = await ask(fake, allowed, "viral bitcoin tweets", "bitcoin")
        export = await fake.slash("viral", "export", {"format": "csv"}, channel_id=thread_id)
        assert files(fake, await original_answer(fake, export))
    assert not fake.threads_of(other)


async def test_bots_are_ignored_people_are_answered(
    bot: DiscordBot, fake: DiscordFake, channel_id: int
) -> None:
    thread_id, _ = await ask(fake, channel_id, "viral bitcoin tweets", "bitcoin")
    other_bot = fake.add_user("spambot", bot=True)
    await fake.user_message(thread_id, "analyze tweet #1", author=other_bot, mention_bot=True)
    person = await fake.user_message(thread_id, "analyze tweet #2", mention_bot=True)

    def replied_to(m: Message) -> bool:
        return bool(m.get("message_reference"))

    reply = await answer_in(fake, thread_id, replied_to)
    assert reply["message_reference"]["message_id"] == person["id"]
    await fake.user_message(thread_id, "analyze tweet #3", author=other_bot, mention_bot=True)
    await fake.user_message(thread_id, "analyze tweet #1", mention_bot=True)
    await fake.wait_for(
        lambda: sum(finished(m) and replied_to(m) for m in fake.bot_messages(thread_id)) == 2
    )
    references = [
        m["message_reference"]["message_id"] for m in fake.bot_messages(thread_id) if replied_to(m)
    ]
    assert len(references) == 2 and person["id"] in references


async def test_plain_follow_ups_need_the_message_content_intent(
    start_bot: RunningBot, fake: DiscordFake, apify: ApifyFake, channel_id: int
) -> None:
    async with start_bot(discord_message_content=True):
        thread_id, _ = await ask(fake, channel_id, "viral bitcoin tweets", "bitcoin")
        (session,) = fake.sessions
        assert session.intents & (1 << 15)  # MESSAGE_CONTENT requested at IDENTIFY
        person = await fake.user_message(thread_id, "analyze tweet #2")  # no mention
        reply = await answer_in(fake, thread_id, lambda m: bool(m.get("message_reference")))
    assert reply["message_reference"]["message_id"] == person["id"]
    assert "bitcoin" in reply["content"].lower() and apify.run_count == 1
    # The bot saw its own messages in the thread too (MESSAGE_CREATE) and did not answer them.
    assert len([m for m in fake.bot_messages(thread_id) if m.get("message_reference")]) == 1


async def test_a_message_without_text_is_not_taken_for_a_bare_ping(
    start_bot: RunningBot, fake: DiscordFake, channel_id: int
) -> None:
    async with start_bot(discord_message_content=True):
        thread_id, _ = await ask(fake, channel_id, "viral bitcoin tweets", "bitcoin")
        picture = await fake.user_message(thread_id, "")  # e.g. a screenshot, a sticker
        person = await fake.user_message(thread_id, "analyze tweet #2")
        await answer_in(fake, thread_id, replying_to(person))
    assert not [m for m in fake.bot_messages(thread_id) if replying_to(picture)(m)]


async def test_without_the_intent_only_mentions_continue_a_thread(
    bot: DiscordBot, fake: DiscordFake, channel_id: int, caplog: pytest.LogCaptureFixture
) -> None:
    thread_id, _ = await ask(fake, channel_id, "viral bitcoin tweets", "bitcoin")
    await fake.user_message(thread_id, "analyze tweet #2")  # arrives with empty content
    mention = await fake.user_message(thread_id, "analyze tweet #1", mention_bot=True)
    reply = await answer_in(fake, thread_id, lambda m: bool(m.get("message_reference")))
    assert reply["message_reference"]["message_id"] == mention["id"]
    assert len([m for m in fake.bot_messages(thread_id) if m.get("message_reference")]) == 1


async def test_threads_the_bot_did_not_open_are_left_alone(
    bot: DiscordBot, fake: DiscordFake, channel_id: int
) -> None:
    theirs = fake.add_thread(channel_id, "people chatting")  # opened by a person, not cached
    await fake.user_message(theirs, "what do you think?", mention_bot=True)
    await fake.wait_for(lambda: fake.calls_to("GET", rf"^/channels/{theirs}$"))
    mine, _ = await ask(fake, channel_id, "viral bitcoin tweets", "bitcoin")
    await fake.user_message(mine, "", mention_bot=True)  # a bare ping gets a hint
    hint = await answer_in(fake, mine, lambda m: bool(m.get("message_reference")))
    assert "follow-up" in hint["content"]
    assert not fake.bot_messages(theirs)


# --- tokens, limits, deadlines -------------------------------------------------------------------


async def test_long_work_answers_in_the_thread_with_the_bot_token(
    bot: DiscordBot, fake: DiscordFake, channel_id: int
) -> None:
    thread_id, _ = await ask(fake, channel_id, "viral bitcoin tweets", "bitcoin")
    # An export whose interaction token is about to run out (15 minutes after it was created).
    late = datetime.now(UTC) - timedelta(minutes=14, seconds=30)
    export = await fake.slash(
        "viral", "export", {"format": "csv"}, channel_id=thread_id, created_at=late
    )
    answer = await answer_in(fake, thread_id, with_file(".csv"))

    assert export.callbacks == [{"type": 5}]  # still acknowledged within 3 seconds
    assert "bitcoin" in "".join(files(fake, answer).values()).lower()
    assert not fake.calls_to("POST", rf"/webhooks/{fake.application_id}/{export.token}$")
    # The command's "thinking" message, still editable for the token's last seconds, says
    # where the answer went instead of thinking until Discord calls the command failed.
    original = await original_answer(fake, export)
    assert "posted below" in original["content"] and not original["attachments"]


async def test_rate_limits_are_waited_out_not_dropped(
    bot: DiscordBot, fake: DiscordFake, channel_id: int
) -> None:
    fake.rate_limit_next("POST", r"^/channels/\d+/messages$", retry_after=0.3)
    thread_id, answer = await ask(fake, channel_id, "viral bitcoin tweets", "bitcoin")

    statuses = [c.status for c in fake.calls_to("POST", rf"^/channels/{thread_id}/messages$")]
    assert statuses[:2] == [429, 200]  # discord.py slept retry_after and sent it again
    assert "bitcoin" in answer["content"].lower()


async def test_no_token_is_logged(
    running_bot: RunningBot,
    runtime: Runtime,
    live_settings: Settings,
    fake: DiscordFake,
    channel_id: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Neither the bot token nor an interaction's (a credential for 15 minutes, which discord.py
    printed at DEBUG in its requests' URLs and in the gateway's events)."""
    caplog.set_level(logging.DEBUG)
    async with running_bot(runtime.conversation, settings=live_settings, database=runtime.db):
        interaction = await fake.slash(
            "viral", "ask", {"query": "viral bitcoin tweets"}, channel_id=channel_id
        )
        await answer_in(fake, await thread_for(fake, channel_id, "bitcoin"))
    assert "discord.http" in caplog.text  # discord.py logged its requests at DEBUG...
    assert f"/interactions/{interaction.id}/<token>/callback" in caplog.text
    assert "'token': '<token>'" in caplog.text  # ...and the gateway's INTERACTION_CREATE...
    assert fake.token not in caplog.text  # ...without the bot token
    assert interaction.token not in caplog.text  # ...nor the interaction's


# --- /viral usage and export outside threads ----------------------------------------------------


async def test_usage_shows_what_this_server_spent(
    bot: DiscordBot, fake: DiscordFake, runtime: Runtime, channel_id: int, guild_id: int
) -> None:
    await ask(fake, channel_id, "viral bitcoin tweets", "bitcoin")
    async with runtime.db.transaction() as session:  # another server's spending
        await record_run(session, agent="twitter", workspace="999", actor_runs=50, input_tokens=9)
    spent = await guild_usage(runtime.db, guild_id)
    assert spent.actor_runs == 1

    interaction = await fake.slash("viral", "usage", channel_id=channel_id)
    shown = await original_answer(fake, interaction)
    assert shown["flags"] & FLAG_EPHEMERAL
    (embed,) = shown["embeds"]
    assert "Viral Lab" in embed["title"]
    all_time = next(f for f in embed["fields"] if f["name"] == "All time")
    assert "**1** actor runs" in all_time["value"]
    assert f"**{spent.tokens:,}** model tokens" in all_time["value"]


async def test_export_outside_a_thread_says_where_to_use_it(
    bot: DiscordBot, fake: DiscordFake, channel_id: int
) -> None:
    interaction = await fake.slash("viral", "export", {"format": "csv"}, channel_id=channel_id)
    hint = await fake.wait_for(lambda: fake.original_response(interaction))
    assert hint["flags"] & FLAG_EPHEMERAL and "inside one of my threads" in hint["content"]


# --- digests and sharding -------------------------------------------------------------------------


async def test_the_deliverer_posts_a_digest_over_rest(
    fake: DiscordFake, discord_settings: Settings, channel_id: int, tmp_path: Any
) -> None:
    chart = tmp_path / "digest.csv"
    chart.write_text("platform,views\ntiktok,120000\n")
    reply = Reply(text="**Daily digest**: 1 new viral TikTok", files=[chart])
    async with DiscordDeliverer.connect(discord_settings) as deliverer:
        assert deliverer.platform == "discord"
        await deliverer.deliver(f"discord:{channel_id}", reply)

    (posted,) = fake.visible(channel_id)
    assert posted["content"].startswith("**Daily digest**")
    assert files(fake, posted) == {"digest.csv": "platform,views\ntiktok,120000\n"}
    assert not fake.sessions  # REST only: no gateway connection


async def test_a_digest_asked_for_in_a_forum_post_is_posted_in_that_post(
    running_bot: RunningBot,
    fake: DiscordFake,
    db: Database,
    discord_settings: Settings,
    guild_id: int,
) -> None:
    forum = fake.add_forum_channel(guild_id, "launch-ideas")
    post = fake.add_thread(forum, "Which hooks work on TikTok?")
    async with running_bot(HeldCore()):
        options = {"schedule": "every day at 9am", "post": "top 3 viral tiktoks about cooking"}
        added = await fake.slash("viral", "digest add", options, channel_id=post)
        await fake.wait_for(lambda: (fake.original_response(added) or {}).get("content"))
    (schedule,) = await repo.list_schedules(db)
    async with DiscordDeliverer.connect(discord_settings) as deliverer:
        await deliverer.deliver(schedule.channel, Reply(text="**Digest #1**: cooking"))
    assert [m["content"] for m in fake.visible(post)][-1] == "**Digest #1**: cooking"


async def test_shards_split_the_servers_between_connections(
    start_bot: RunningBot, fake: DiscordFake, channel_id: int
) -> None:
    async with start_bot(discord_shard_count=2):
        await fake.wait_for(lambda: sum(s.ready.is_set() for s in fake.sessions) == 2)
        thread_id, answer = await ask(fake, channel_id, "viral bitcoin tweets", "bitcoin")
    assert sorted(s.shard for s in fake.sessions) == [(0, 2), (1, 2)]
    assert "bitcoin" in answer["content"].lower() and thread_id


async def test_closing_lets_answers_in_flight_finish_and_turns_new_work_away(
    start_bot: RunningBot, fake: DiscordFake, apify: ApifyFake, channel_id: int
) -> None:
    apify.latency_s = 1.5  # the scraper run is still going when the worker is told to stop
    async with start_bot() as running:
        await fake.slash("viral", "ask", {"query": "viral bitcoin tweets"}, channel_id=channel_id)
        thread_id = await thread_for(fake, channel_id, "bitcoin")
        closing = asyncio.create_task(running.close())
        late = await fake.slash("viral", "ask", {"query": "cooking"}, channel_id=channel_id)
        turned_away = await fake.wait_for(lambda: fake.original_response(late))
        await closing
        answer = await answer_in(fake, thread_id)
    assert "restarting" in turned_away["content"] and turned_away["flags"] & FLAG_EPHEMERAL
    assert "bitcoin" in answer["content"].lower()
    assert len(fake.threads_of(channel_id)) == 1


# --- follow-ups the bot cannot take on ----------------------------------------------------------


class HeldCore:
    """Echoes each question; one that says "hold" waits until the test releases it."""

    def __init__(self) -> None:
        self.release = asyncio.Event()

    async def handle(self, message: IncomingMessage, progress: Progress) -> Reply:
        if "hold" in message.text:
            await self.release.wait()
        return Reply(text=f"echo: {message.text}")


def replying_to(message: Message) -> Callable[[Message], bool]:
    return lambda m: (m.get("message_reference") or {}).get("message_id") == message["id"]


async def test_a_follow_up_while_restarting_is_told_so_not_ignored(
    running_bot: RunningBot, fake: DiscordFake, channel_id: int
) -> None:
    core = HeldCore()
    async with running_bot(core) as running:
        thread_id, _ = await ask(fake, channel_id, "first question", "first")
        await fake.slash("viral", "ask", {"query": "hold on"}, channel_id=channel_id)
        await thread_for(fake, channel_id, "hold")
        closing = asyncio.create_task(running.close())  # drains the held answer meanwhile
        person = await fake.user_message(thread_id, "analyze tweet #2", mention_bot=True)
        told = await answer_in(fake, thread_id, replying_to(person))
        core.release.set()
        await closing
    assert "restarting" in told["content"]


async def test_a_database_outage_on_a_follow_up_is_answered_not_ignored(
    running_bot: RunningBot, fake: DiscordFake, channel_id: int, tmp_path: Any
) -> None:
    mine = fake.add_thread(channel_id, "viral bitcoin tweets", owner_id=fake.application_id)
    unreachable = Database(f"sqlite+aiosqlite:///{tmp_path}/missing/dir/bot.db")
    try:
        async with running_bot(HeldCore(), database=unreachable):
            person = await fake.user_message(mine, "analyze tweet #2", mention_bot=True)
            said = await fake.wait_for(
                lambda: next(filter(replying_to(person), fake.bot_messages(mine)), None)
            )
    finally:
        await unreachable.dispose()
    assert "database" in said["embeds"][0]["description"]


async def test_an_answer_taken_over_replaces_the_status_it_left_behind(
    running_bot: RunningBot, fake: DiscordFake, discord_settings: Settings, channel_id: int
) -> None:
    sweeping = discord_settings.model_copy(update={"inbox_sweep_s": 0.2})
    async with running_bot(HeldCore(), settings=sweeping):
        thread_id, _ = await ask(fake, channel_id, "first question", "first")
        # The status message can't be edited into the answer: the turn is handed back and
        # taken over (as when its process dies after the answer was kept, before it was shown).
        fake.fail_next(
            "PATCH", rf"^/channels/{thread_id}/messages/\d+$", status=503, message="Unavailable"
        )
        person = await fake.user_message(thread_id, "analyze tweet #2", mention_bot=True)
        await answer_in(fake, thread_id, lambda m: m["content"] == "echo: analyze tweet #2")
    replies = [m["content"] for m in fake.bot_messages(thread_id) if replying_to(person)(m)]
    assert replies == ["echo: analyze tweet #2"]  # no "⏳ Working on it…" left beside it


async def worked_for(db: Database, turn: str, later: str, *, leases: float) -> None:
    """Until `turn` is still worked (its lease renewed) `leases` leases after `later` was stored."""
    lease = timedelta(seconds=SHORT_LEASE_S)

    async def long_enough() -> bool:
        async with db.sessions() as session:
            working = await session.get(ProcessedEventRow, turn)
            waiting = await session.get(ProcessedEventRow, later)
        if working is None or waiting is None or working.lease_until is None:
            return False
        return as_utc(working.lease_until) > as_utc(waiting.created_at) + leases * lease

    async with asyncio.timeout(30):
        while not await long_enough():  # noqa: ASYNC110 (a database row has nothing to await)
            await asyncio.sleep(0.05)


async def test_a_command_waiting_on_a_long_turn_of_its_thread_is_answered_in_place(
    running_bot: RunningBot,
    fake: DiscordFake,
    discord_settings: Settings,
    db: Database,
    channel_id: int,
) -> None:
    core = HeldCore()
    short_leases = discord_settings.model_copy(update={"inbox_lease_s": SHORT_LEASE_S})
    async with running_bot(core, settings=short_leases):
        thread_id, _ = await ask(fake, channel_id, "first question", "first")
        held = await fake.user_message(thread_id, "hold on, a long scrape", mention_bot=True)
        second = await fake.slash("viral", "ask", {"query": "second"}, channel_id=thread_id)
        # The earlier turn of the thread outlasts a lease or two (scrapes take minutes).
        await worked_for(
            db,
            f"discord:turn:message:{held['id']}",
            f"discord:turn:interaction:{second.id}",
            leases=3,
        )
        core.release.set()
        answer = await original_answer(fake, second)
    assert answer["content"] == "echo: second"
