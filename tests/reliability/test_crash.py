"""SIGKILL at random points in 30 runs: every acknowledged message is answered exactly once.

The bot runs as `python -m viraltracker_bot slack`, against the Slack and Apify fakes of this
test process and a SQLite database (and PostgreSQL when VIRALTRACKER_TEST_DATABASE_URL is set).
Each of 30 runs starts a bot process, sends it a batch of questions (new threads, and follow-ups
in threads it already took on), and kills it with SIGKILL at a random moment, or at a random
Web API call (right after Slack carried it out, before the bot heard back: the moment a naive
bot would answer twice). The next run's process restarts on the same database and replica.
Events that were not acknowledged are sent again, as Slack retries them. A last bot finishes
the work, then every thread must hold exactly one answer per question, in order (a message
whose retry arrived after a later one was taken on may follow it: see `_assert_in_order`).

Restarting 30 times would mostly be importing (2-3 s of CPU a process), so each bot process is
forked, when its run starts, from one that imported the bot once (`BotForks`).
"""

from __future__ import annotations

import asyncio
import random
import signal
import time
from collections import Counter
from pathlib import Path

import aiohttp
from sqlalchemy import select

from tests.fakes.apify import ApifyFake
from tests.fakes.slack import RecordedCall, SlackFake
from tests.reliability.bots import (
    BotForks,
    BotProcess,
    Question,
    Sender,
    answered_event,
    answers_of,
    bot_env,
)
from viraltracker_bot.storage.database import Database
from viraltracker_bot.storage.inbox import UNDONE
from viraltracker_bot.storage.tables import ProcessedEventRow

FLAVOURS = ["hacks", "fails", "tips", "memes", "trends", "reviews", "pranks", "recipes"]
SEED = 20260105
RUNS = 30
MIN_KILL_POINTS = 30  # acknowledged messages unfinished when their process died, over all runs
KILL_ON = [  # calls every run makes: status lines, streamed answers, shared exports
    "assistant.threads.setStatus",
    "chat.startStream",
    "chat.stopStream",
    "chat.stopStream",
    "files.completeUploadExternal",
]
TOPICS = [
    "cats", "sourdough", "lego", "chess", "espresso", "vinyl", "gardening", "k-pop",
    "skincare", "woodworking", "budget travel", "home gym", "meal prep", "ai tools", "surfing",
]  # fmt: skip


async def _unfinished(db: Database, questions: list[Question]) -> Counter[str]:
    """Acknowledged questions still in the inbox, by stage: the ones this kill interrupted."""
    ids = [q.event_id for q in questions if q.acked]
    if not ids:
        return Counter()
    async with db.sessions() as session:
        rows = await session.execute(
            select(ProcessedEventRow.status).where(
                ProcessedEventRow.event_id.in_(ids), ProcessedEventRow.status.in_(UNDONE)
            )
        )
        return Counter(status for (status,) in rows)


def _kill_on_call(
    slack: SlackFake, bot: BotProcess, method: str, nth: int, fired: list[str]
) -> None:
    """SIGKILL the bot when Slack has carried out its `nth` call of `method` (before it replies)."""
    seen = 0

    def observe(call: RecordedCall) -> None:
        nonlocal seen
        if call.method == method and bot.alive:
            seen += 1
            if seen == nth:
                bot.kill()
                fired.append(method)

    slack.observers.append(observe)


async def _deliver_later(
    sender: Sender, question: Question, bot: BotProcess, rng: random.Random
) -> None:
    """Events arrive close together, as Slack sends them: soon enough to be in flight at once."""
    await asyncio.sleep(rng.uniform(0.0, 0.3))
    if bot.alive:
        await sender.deliver(question, bot.url)


async def _until_killed_or_idle(
    db: Database, sender: Sender, bot: BotProcess, within: float
) -> None:
    """Give a kill on a call its chance: until it fired, or the bot has nothing left to do."""
    deadline = time.monotonic() + within
    while bot.alive and time.monotonic() < deadline:
        if not await _unfinished(db, sender.questions):
            return  # everything acknowledged is answered: the call will not come this run
        await asyncio.sleep(0.05)


async def _one_run(
    run: int,
    db: Database,
    sender: Sender,
    bot: BotProcess,
    rng: random.Random,
    topics: list[str],
    fired: list[str],
) -> None:
    """Questions and retries into a live bot, then SIGKILL at a random point."""
    slack = sender.slack
    answered = [q for q in sender.questions if q.acked and q.message.thread_ts is None]
    batch = [
        sender.mention(
            f"C{run % 3}", f"find viral tiktok videos about {topics.pop()}", user=f"U{run}{i}"
        )
        for i in range(rng.randint(2, 4))
    ]
    for parent in rng.sample(answered, min(len(answered), rng.randint(1, 2))):
        batch.append(sender.follow_up(parent, "export those as csv", user=f"UF{run}"))
    retries = sender.unacknowledged()
    mode = rng.choice(["while sending", "after the acks", "after the acks", "on a call"])
    if mode == "on a call":
        _kill_on_call(slack, bot, rng.choice(KILL_ON), rng.randint(1, 3), fired)
    elif mode == "while sending":
        asyncio.get_running_loop().call_later(rng.uniform(0.05, 0.5), bot.kill)
    pause = rng.uniform(0.0, 1.2)  # drawn whatever the mode: the seed decides the same runs
    await asyncio.gather(*(_deliver_later(sender, q, bot, rng) for q in [*retries, *batch]))
    if mode == "on a call":
        await _until_killed_or_idle(db, sender, bot, within=30)
    elif mode == "after the acks":
        await _until_killed_or_idle(db, sender, bot, within=pause)
    else:
        await _until_killed_or_idle(db, sender, bot, within=0.5)
    bot.kill()
    await bot.wait_dead()
    slack.observers.clear()
    assert bot.exited.result() == -signal.SIGKILL, f"bot-{run} ended by itself: see {bot.log}"


def _assert_in_order(asked: list[Question], told: list[str | None]) -> None:
    """A thread's answers follow its messages' order, for every message the bot could know of.

    An earlier message acknowledged before a later one was sent was stored before the later one
    arrived, so it must be answered first. One whose acknowledgement was lost and whose retry
    arrived after the later message was already being answered cannot go first (the bot had not
    heard of it), so a pair that was in flight together may be answered in either order.
    """
    position = {event: i for i, event in enumerate(told)}
    for earlier in asked:
        for later in asked:
            if (
                float(earlier.message.ts) < float(later.message.ts)
                and earlier.acked_at is not None
                and later.sent_at is not None
                and earlier.acked_at < later.sent_at
            ):
                assert position[earlier.event_id] < position[later.event_id], (
                    f"answers out of order: {later.event_id} before {earlier.event_id}, which "
                    f"was acknowledged {later.sent_at - earlier.acked_at:.2f} s before it was sent"
                )


async def test_sigkill_at_random_points_never_loses_or_doubles_an_answer(
    tmp_path: Path, database_url: str
) -> None:
    rng = random.Random(SEED)
    topics = [f"{topic} {flavour}" for topic in TOPICS for flavour in FLAVOURS]
    rng.shuffle(topics)
    async with (
        SlackFake() as slack,
        ApifyFake(latency_s=1.0) as apify,
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as http,
    ):
        env = bot_env(
            slack,
            apify,
            database_url,
            tmp_path,
            VIRALTRACKER_REPLICA_ID="crash-bot",
            # Killed on purpose again and again: no message is to be given up on as poison.
            VIRALTRACKER_INBOX_MAX_ATTEMPTS="100",
        )
        sender = Sender(slack, http)
        db = Database(database_url)
        kill_points = 0
        stages: Counter[str] = Counter()
        fired: list[str] = []
        try:
            async with BotForks(env, tmp_path) as bots:
                for run in range(RUNS):
                    bot = await bots.start(f"bot-{run}")
                    if run == 0:
                        await db.upgrade()  # the bot created the schema; nothing to do but look
                    await _one_run(run, db, sender, bot, rng, topics, fired)
                    interrupted = await _unfinished(db, sender.questions)
                    stages += interrupted
                    kill_points += interrupted.total()
                final = await bots.start("bot-final")
                for question in sender.unacknowledged():
                    assert await sender.deliver(question, final.url)
                await slack.wait_for(
                    lambda: all(answers_of(slack, q) for q in sender.questions), within=90
                )
                assert await final.stop() == 0
            assert not await _unfinished(db, sender.questions)
        finally:
            await db.dispose()

    assert kill_points >= MIN_KILL_POINTS, f"only {kill_points} kill points in {RUNS} runs"
    # The kills hit every stage: stored, being answered, answered and being delivered.
    assert stages["pending"] and stages["working"] and stages["answered"], stages
    assert set(fired) & {"chat.stopStream", "chat.postMessage", "files.completeUploadExternal"}
    for question in sender.questions:
        assert len(answers_of(slack, question)) == 1, question.message.text
    for thread in {(q.message.channel, q.thread) for q in sender.questions}:
        replies = slack.bot_replies(*thread)
        asked = [q for q in sender.questions if (q.message.channel, q.thread) == thread]
        told = [answered_event(m) for m in replies if m.text and not m.files]
        assert Counter(told) == Counter(q.event_id for q in asked), "not one answer a message"
        _assert_in_order(asked, told)
        assert all(m.text.strip() or m.files for m in replies), "a dead stream was left behind"
        exported = [  # an export of a search that found nothing has no file to share
            q
            for q in sender.questions
            if q.thread == thread[1] and "Exported" in answers_of(slack, q)[0].text
        ]
        assert sum(1 for m in replies if m.files) == len(exported), "a file shared twice or never"
    assert any(f.content for f in slack.files.values()), "no export was ever shared"
