"""SIGKILL at random points: every acknowledged message is answered exactly once after a restart.

The bot runs as `python -m viraltracker_bot slack`, against the Slack and Apify fakes of this
test process and a SQLite database. Each run starts a bot, sends it a batch of questions (new
threads, and follow-ups in threads it already took on), and kills it with SIGKILL at a random
moment, or at a random Web API call (right after Slack carried it out, before the bot heard
back: the moment a naive bot would answer twice). Events that were not acknowledged are sent
again, as Slack retries them. Every message that was acknowledged and still unfinished when its
process died is a kill point; the test runs until there were at least 30, in 8 kills or more.
A last bot finishes
the work, then every thread must hold exactly one answer per acknowledged question, in order.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from pathlib import Path

import aiohttp
from sqlalchemy import select

from tests.fakes.apify import ApifyFake
from tests.fakes.slack import RecordedCall, SlackFake
from tests.reliability.bots import (
    BotProcess,
    Question,
    Sender,
    answered_event,
    answers_of,
    bot_env,
    start_bot,
)
from viraltracker_bot.storage.database import Database
from viraltracker_bot.storage.inbox import UNDONE
from viraltracker_bot.storage.tables import ProcessedEventRow

FLAVOURS = ["hacks", "fails", "tips", "memes", "trends", "reviews"]
SEED = 20260105
MIN_KILL_POINTS = 30
MIN_RUNS = 8
MAX_RUNS = 16
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


async def _one_run(
    run: int,
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
        for i in range(rng.randint(4, 6))
        if topics
    ]
    for parent in rng.sample(answered, min(len(answered), rng.randint(1, 2))):
        batch.append(sender.follow_up(parent, "export those as csv", user=f"UF{run}"))
    retries = sender.unacknowledged()
    mode = rng.choice(["while sending", "after the acks", "after the acks", "on a call"])
    if mode == "on a call":
        _kill_on_call(slack, bot, rng.choice(KILL_ON), rng.randint(1, 3), fired)
    elif mode == "while sending":
        asyncio.get_running_loop().call_later(rng.uniform(0.05, 0.5), bot.kill)
    await asyncio.gather(*(_deliver_later(sender, q, bot, rng) for q in [*retries, *batch]))
    wait = {"while sending": 0.5, "after the acks": rng.uniform(0.0, 1.2), "on a call": 4.0}
    deadline = time.monotonic() + wait[mode]
    while bot.alive and time.monotonic() < deadline:  # noqa: ASYNC110 (a process, not an event)
        await asyncio.sleep(0.02)
    bot.kill()
    await bot.wait_dead()
    slack.observers.clear()


async def test_sigkill_at_random_points_never_loses_or_doubles_an_answer(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    topics = [f"{topic} {flavour}" for topic in TOPICS for flavour in FLAVOURS]
    rng.shuffle(topics)
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'crash.db'}"
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
        kill_points = runs = 0
        stages: Counter[str] = Counter()
        fired: list[str] = []
        try:
            while (kill_points < MIN_KILL_POINTS or runs < MIN_RUNS) and runs < MAX_RUNS:
                bot = await start_bot(env, tmp_path, f"bot-{runs}")
                await _one_run(runs, sender, bot, rng, topics, fired)
                if runs == 0:
                    await db.upgrade()  # the bot created the schema; nothing to do but look
                interrupted = await _unfinished(db, sender.questions)
                stages += interrupted
                kill_points += interrupted.total()
                runs += 1
            final = await start_bot(env, tmp_path, "bot-final")
            for question in sender.unacknowledged():
                assert await sender.deliver(question, final.url)
            await slack.wait_for(
                lambda: all(answers_of(slack, q) for q in sender.questions), within=90
            )
            assert await final.stop() == 0
            assert not await _unfinished(db, sender.questions)
        finally:
            await db.dispose()

    assert kill_points >= MIN_KILL_POINTS, f"only {kill_points} kill points in {runs} runs"
    # The kills hit every stage: stored, being answered, answered and being delivered.
    assert stages["pending"] and stages["working"] and stages["answered"], stages
    assert set(fired) & {"chat.stopStream", "chat.postMessage", "files.completeUploadExternal"}
    for question in sender.questions:
        assert len(answers_of(slack, question)) == 1, question.message.text
    for thread in {(q.message.channel, q.thread) for q in sender.questions}:
        replies = slack.bot_replies(*thread)
        asked = [q.event_id for q in sender.questions if (q.message.channel, q.thread) == thread]
        told = [answered_event(m) for m in replies if m.text and not m.files]
        assert told == sorted(asked, key=lambda e: float(e.split(":")[1])), "answers out of order"
        assert all(m.text.strip() or m.files for m in replies), "a dead stream was left behind"
        exported = [  # an export of a search that found nothing has no file to share
            q
            for q in sender.questions
            if q.thread == thread[1] and "Exported" in answers_of(slack, q)[0].text
        ]
        assert sum(1 for m in replies if m.files) == len(exported), "a file shared twice or never"
    assert any(f.content for f in slack.files.values()), "no export was ever shared"
