"""Three bot processes on one PostgreSQL: 500 events, each answered exactly once, threads in order.

Slack's side is played by this process: every event goes to one replica (round robin, like a
load balancer), a tenth of them a second time to another replica (Slack's retries), and the
follow-ups of a thread are sent at once to different replicas, so only the database can keep
them in order. Needs VIRALTRACKER_TEST_DATABASE_URL (skipped without it).
"""

from __future__ import annotations

import asyncio
import os
import random
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from tests.fakes.apify import ApifyFake
from tests.fakes.slack import SlackFake
from tests.reliability.bots import Question, Sender, answered_event, answers_of, bot_env, start_bot

PG_URL_ENV = "VIRALTRACKER_TEST_DATABASE_URL"
REPLICAS = 3
THREADS = 125
FOLLOW_UPS = ["top 3 by likes", "export those as csv", "thanks"]
TOPICS = ["cats", "lego", "chess", "espresso", "vinyl", "gardening", "sourdough", "surfing"]

pytestmark = pytest.mark.skipif(
    not os.environ.get(PG_URL_ENV), reason=f"needs PostgreSQL ({PG_URL_ENV})"
)


def _ask(rng: random.Random) -> str:
    return f"find viral tiktok videos about {rng.choice(TOPICS)}"


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """A schema of its own on the test PostgreSQL, dropped afterwards."""
    base = os.environ[PG_URL_ENV]
    schema = f"r_{uuid.uuid4().hex[:16]}"
    admin = create_async_engine(base, poolclass=NullPool)
    try:
        async with admin.begin() as conn:
            await conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        yield (
            make_url(base)
            .update_query_dict({"search_path": schema})
            .render_as_string(hide_password=False)
        )
    finally:
        async with admin.begin() as conn:
            await conn.exec_driver_sql("SET LOCAL lock_timeout = '10s'")
            await conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await admin.dispose()


async def _deliver(sender: Sender, question: Question, url: str) -> None:
    for _ in range(5):  # a refused delivery is retried, as Slack does
        if await sender.deliver(question, url) or question.acked:
            return
        await asyncio.sleep(0.2)


async def _deliver_threads(
    sender: Sender, threads: list[list[tuple[Question, list[str]]]], width: int = 24
) -> None:
    """Threads side by side; in a thread, each message once the one before was acknowledged.

    A message with two URLs goes to both at once: Slack retrying while the first is in flight.
    """
    gate = asyncio.Semaphore(width)

    async def thread(jobs: list[tuple[Question, list[str]]]) -> None:
        for question, urls in jobs:
            async with gate:
                await asyncio.gather(*(_deliver(sender, question, url) for url in urls))

    await asyncio.gather(*(thread(jobs) for jobs in threads))


def _targets(urls: list[str], n: int, rng: random.Random) -> list[str]:
    first = urls[n % len(urls)]
    return [first, urls[(n + 1) % len(urls)]] if rng.random() < 0.1 else [first]


async def test_three_replicas_answer_500_events_once_each_and_in_order(
    tmp_path: Path, pg_url: str
) -> None:
    rng = random.Random(3)
    async with (
        SlackFake() as slack,
        ApifyFake(latency_s=0.05) as apify,
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http,
    ):
        env = bot_env(
            slack,
            apify,
            pg_url,
            tmp_path,
            VIRALTRACKER_DAILY_ACTOR_RUNS="0",
            VIRALTRACKER_INBOX_LEASE_S="20",  # three busy processes, two cores: no false takeovers
        )
        bots = await asyncio.gather(
            *(
                start_bot({**env, "VIRALTRACKER_REPLICA_ID": f"replica-{i}"}, tmp_path, f"r{i}")
                for i in range(REPLICAS)
            )
        )
        urls = [bot.url for bot in bots]
        sender = Sender(slack, http)
        try:
            parents = [
                sender.mention(
                    f"C{t % 10}",
                    f"find viral tiktok videos about {rng.choice(TOPICS)}",
                    user=f"U{t}",
                )
                for t in range(THREADS)
            ]
            follow_ups = [
                [sender.follow_up(parent, text, user=f"U{t}") for text in FOLLOW_UPS]
                for t, parent in enumerate(parents)
            ]
            # Each message to the next replica; a tenth also to another one (Slack's retries).
            turn = iter(range(10**6))
            threads = [
                [(q, _targets(urls, next(turn), rng)) for q in [parent, *rest]]
                for parent, rest in zip(parents, follow_ups, strict=True)
            ]
            await _deliver_threads(sender, threads)
            assert len(sender.questions) == 4 * THREADS and all(q.acked for q in sender.questions)
            await slack.wait_for(
                lambda: all(answers_of(slack, q) for q in sender.questions), within=240
            )
            await asyncio.sleep(1.0)  # time for a second answer, were one on its way
        finally:
            codes = await asyncio.gather(*(bot.stop() for bot in bots))
        assert codes == [0] * REPLICAS, [_tail(bot.log) for bot in bots]

    for question in sender.questions:
        answers = answers_of(slack, question)
        assert len(answers) == 1, (question.event_id, [m.text[:80] for m in answers])
    for parent in parents:
        replies = slack.bot_replies(parent.message.channel, parent.thread)
        told = [answered_event(m) for m in replies if m.text and not m.files]
        asked = [q.event_id for q in sender.questions if q.thread == parent.thread]
        assert told == asked, ("a thread's answers came out of order", told, asked)
        assert sum(1 for m in replies if m.files) == 1  # the one export


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-2000:]
