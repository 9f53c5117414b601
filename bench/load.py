"""Sustained load: signed Slack events into bot processes, answers read back from the Slack fake.

    python bench/load.py                 # 120 s at 20 events/s on 2 replicas (SQLite)
    python bench/load.py --quick         # 30 s at 20 events/s: under a minute in all
    python bench/load.py --json          # one JSON object with stable keys
    python bench/load.py --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test

This process plays Slack (the Slack fake: it signs and POSTs `app_mention` and thread `message`
events to the bots' `/slack/events`, and records their Web API calls) and Apify (the Apify fake).
The bots are `python -m viraltracker_bot slack` processes, as deployed: the real core (offline
router model, agents, platform services) behind the durable inbox, sharing one database, each
event sent to the next replica in turn like a load balancer would. Events are offered at a fixed
rate (an open loop: a slow bot does not slow the sender down). Each event is a new question in a
new thread, or (one in ten) an export follow-up in a thread already answered. Latency runs from
the POST until the answer is complete in its thread; errors are refused or failed acks, answers
marked as errors, and events unanswered when the run ends. Peak memory is each bot process's
resident set (psutil), sampled every half second.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import socket
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.fakes

import aiohttp
import psutil

from tests.fakes.apify import ApifyFake
from tests.fakes.slack import FakeMessage, SlackFake

ROOT = Path(__file__).resolve().parent.parent
TOPICS = [
    "cats", "sourdough", "ai tools", "espresso", "budget travel", "lego", "skincare",
    "chess", "home gym", "vinyl", "gardening", "crypto", "k-pop", "woodworking", "meal prep",
]  # fmt: skip
ASKS = [
    "find viral tiktok videos about {topic}",
    "top tweets about {topic} this week",
    "viral youtube shorts about {topic}",
]
FOLLOW_UP = "export those as csv"
CHANNELS = 40
USERS = 600  # spread so that no person reaches the per-minute limit at the offered rate


@dataclass
class Sent:
    """One event and what became of it."""

    channel: str
    thread_ts: str
    sent_at: float
    before: int  # the bot's finished text messages in the thread when the event was sent
    ack_ms: float | None = None
    ack_status: int | None = None
    answered_at: float | None = None
    error: bool = False


@dataclass
class Replica:
    process: asyncio.subprocess.Process
    port: int
    peak_rss: int = 0
    cpu_s: float = 0.0  # CPU time (user + system) spent during the load

    def cpu_now(self) -> float:
        try:
            times = psutil.Process(self.process.pid).cpu_times()
        except psutil.Error:
            return 0.0
        return float(times.user + times.system)

    @property
    def events_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/slack/events"


@dataclass
class Run:
    replicas: list[Replica]
    slack: SlackFake
    sent: list[Sent] = field(default_factory=list)
    answered_threads: list[tuple[str, str]] = field(default_factory=list)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _finished_texts(slack: SlackFake, channel: str, thread_ts: str) -> list[FakeMessage]:
    return [
        m
        for m in slack.bot_replies(channel, thread_ts)
        if m.text and not m.files and not m.streaming
    ]


async def start_replicas(
    count: int, slack: SlackFake, apify: ApifyFake, database_url: str, work: Path
) -> list[Replica]:
    """`viraltracker-bot slack` processes on free ports, one database, healthy before the load."""
    replicas = []
    for i in range(count):
        port = _free_port()
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "SLACK_BOT_TOKEN": slack.bot_token,
            "SLACK_SIGNING_SECRET": slack.signing_secret,
            "SLACK_API_URL": slack.api_url,
            "APIFY_TOKEN": apify.token,
            "APIFY_API_BASE_URL": apify.url,
            "VIRALTRACKER_DATABASE_URL": database_url,
            "VIRALTRACKER_EXPORT_DIR": str(work / "exports"),
            "VIRALTRACKER_DIGEST_POLL_S": "0",
            "VIRALTRACKER_REPLICA_ID": f"load-{i}",
            # One workspace sends minutes of non-stop searches: no daily budget for this run.
            "VIRALTRACKER_DAILY_ACTOR_RUNS": "0",
            "VIRALTRACKER_DAILY_MODEL_TOKENS": "0",
            "PORT": str(port),
        }
        env.pop("ANTHROPIC_API_KEY", None)
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "viraltracker_bot",
            "slack",
            cwd=work,
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=(work / f"replica-{i}.log").open("wb"),
        )
        replicas.append(Replica(process=process, port=port))
    async with aiohttp.ClientSession() as http:
        await asyncio.gather(*(_healthy(http, r) for r in replicas))
    return replicas


async def _healthy(http: aiohttp.ClientSession, replica: Replica, within_s: float = 90.0) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if replica.process.returncode is not None:
            raise RuntimeError(f"a bot process exited with {replica.process.returncode}")
        with contextlib.suppress(aiohttp.ClientError):
            async with http.get(f"http://127.0.0.1:{replica.port}/healthz") as response:
                if response.status == 200:
                    return
        await asyncio.sleep(0.2)
    raise RuntimeError("a bot process did not become healthy")


async def stop_replicas(replicas: list[Replica]) -> None:
    for replica in replicas:
        if replica.process.returncode is None:
            replica.process.terminate()
    for replica in replicas:
        try:
            await asyncio.wait_for(replica.process.wait(), 40)
        except TimeoutError:
            replica.process.kill()
            await replica.process.wait()


async def sample_memory(replicas: list[Replica], stop: asyncio.Event) -> None:
    while not stop.is_set():
        for replica in replicas:
            with contextlib.suppress(psutil.Error):
                rss = psutil.Process(replica.process.pid).memory_info().rss
                replica.peak_rss = max(replica.peak_rss, rss)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)


async def send_one(run: Run, http: aiohttp.ClientSession, i: int, rng: random.Random) -> None:
    slack = run.slack
    channel = f"C{i % CHANNELS:03d}LOAD"
    user = f"U{i % USERS:04d}LOAD"
    if run.answered_threads and i % 10 == 9:
        channel, thread_ts = run.answered_threads.pop(rng.randrange(len(run.answered_threads)))
        message = slack.user_says(channel, FOLLOW_UP, user=user, thread_ts=thread_ts)
        body = slack.message_event(message)
    else:
        text = rng.choice(ASKS).format(topic=rng.choice(TOPICS))
        message = slack.user_says(channel, f"<@{slack.bot_user_id}> {text}", user=user)
        thread_ts = message.ts
        body = slack.mention(message)
    record = Sent(
        channel=channel,
        thread_ts=thread_ts,
        sent_at=time.monotonic(),
        before=len(_finished_texts(slack, channel, thread_ts)),
    )
    run.sent.append(record)
    replica = run.replicas[i % len(run.replicas)]
    raw = json.dumps(body)
    try:
        async with http.post(
            replica.events_url, data=raw.encode(), headers=slack.signed_headers(raw)
        ) as response:
            await response.read()
            record.ack_status = response.status
    except aiohttp.ClientError:
        record.ack_status = None
    record.ack_ms = (time.monotonic() - record.sent_at) * 1000


def check_answers(run: Run, now: float) -> int:
    """Mark the events whose answers are complete; returns how many are still open."""
    still_open = 0
    for record in run.sent:
        if record.answered_at is not None or record.ack_status != 200:
            continue
        texts = _finished_texts(run.slack, record.channel, record.thread_ts)
        if len(texts) > record.before:
            answer = texts[record.before]
            record.answered_at = max(answer.at, record.sent_at)
            record.error = ":warning:" in answer.visible_text()
            if record.before == 0:
                run.answered_threads.append((record.channel, record.thread_ts))
        else:
            still_open += 1
    return still_open


async def watch_answers(run: Run, stop: asyncio.Event) -> None:
    while not stop.is_set():
        check_answers(run, time.monotonic())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.1)


async def offer_load(run: Run, rate: float, duration_s: float, seed: int) -> None:
    """Send `rate` events a second for `duration_s`, on schedule whatever the answers do."""
    rng = random.Random(seed)
    total = int(rate * duration_s)
    start = time.monotonic()
    tasks: set[asyncio.Task[None]] = set()
    connector = aiohttp.TCPConnector(limit=200)
    async with aiohttp.ClientSession(connector=connector) as http:
        for i in range(total):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(send_one(run, http, i, rng))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    duration_s = 30.0 if args.quick and args.duration is None else (args.duration or 120.0)
    rate = args.rate or 20.0
    with tempfile.TemporaryDirectory(prefix="vt-load-") as tmp:
        work = Path(tmp)
        database_url = args.database_url or f"sqlite+aiosqlite:///{work / 'load.db'}"
        async with SlackFake() as slack, ApifyFake(latency_s=args.actor_latency) as apify:
            replicas = await start_replicas(args.replicas, slack, apify, database_url, work)
            run = Run(replicas=replicas, slack=slack)
            stop = asyncio.Event()
            watchers = [
                asyncio.create_task(sample_memory(replicas, stop)),
                asyncio.create_task(watch_answers(run, stop)),
            ]
            began = time.monotonic()
            cpu_before = [r.cpu_now() for r in replicas]
            try:
                await offer_load(run, rate, duration_s, args.seed)
                offered_s = time.monotonic() - began
                deadline = time.monotonic() + args.drain
                # The fake's state is plain data to poll: there is no event to wait on.
                while check_answers(run, time.monotonic()) and time.monotonic() < deadline:  # noqa: ASYNC110
                    await asyncio.sleep(0.1)
                finished_s = time.monotonic() - began
                for replica, before in zip(replicas, cpu_before, strict=True):
                    replica.cpu_s = replica.cpu_now() - before
            finally:
                stop.set()
                await asyncio.gather(*watchers, return_exceptions=True)
                await stop_replicas(replicas)
    return summarise(run, rate, duration_s, offered_s, finished_s, args, database_url)


def summarise(
    run: Run,
    rate: float,
    duration_s: float,
    offered_s: float,
    finished_s: float,
    args: argparse.Namespace,
    database_url: str,
) -> dict[str, Any]:
    answered = [r for r in run.sent if r.answered_at is not None]
    latencies = [(r.answered_at - r.sent_at) * 1000 for r in answered if r.answered_at]
    acks = [r.ack_ms for r in run.sent if r.ack_ms is not None]
    refused = sum(1 for r in run.sent if r.ack_status != 200)
    unanswered = sum(1 for r in run.sent if r.ack_status == 200 and r.answered_at is None)
    error_answers = sum(1 for r in answered if r.error)
    last_answer = max((r.answered_at for r in answered if r.answered_at), default=0.0)
    first_sent = min((r.sent_at for r in run.sent), default=0.0)
    span = max(last_answer - first_sent, 1e-9)
    peaks = [r.peak_rss / 2**20 for r in run.replicas]
    return {
        "events_per_s": round(len(answered) / span, 2),
        "offered_per_s": round(len(run.sent) / max(offered_s, 1e-9), 2),
        "p50_ms": round(statistics.median(latencies), 1) if latencies else 0.0,
        "p95_ms": round(percentile(latencies, 95), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "ack_p95_ms": round(percentile(acks, 95), 1),
        "errors": refused + unanswered + error_answers,
        "refused_acks": refused,
        "unanswered": unanswered,
        "error_answers": error_answers,
        "sent": len(run.sent),
        "answered": len(answered),
        "peak_rss_mb": round(max(peaks, default=0.0), 1),
        "cpu_ms_per_answer": round(
            1000 * sum(r.cpu_s for r in run.replicas) / max(1, len(answered)), 1
        ),
        "total_peak_rss_mb": round(sum(peaks), 1),
        "duration_s": round(finished_s, 1),
        "target_rate": rate,
        "target_duration_s": duration_s,
        "replicas": len(run.replicas),
        "database": "postgresql" if database_url.startswith("postgresql") else "sqlite",
        "actor_latency_s": args.actor_latency,
    }


def print_table(result: dict[str, Any]) -> None:
    rows = [
        ("setup", f"{result['replicas']} bot processes, {result['database']}, actor latency "
                  f"{result['actor_latency_s']:.2f} s"),
        ("offered", f"{result['sent']} events at {result['offered_per_s']:.1f}/s (target "
                    f"{result['target_rate']:.0f}/s for {result['target_duration_s']:.0f} s)"),
        ("answered", f"{result['answered']} ({result['events_per_s']:.1f} answers/s)"),
        ("latency", f"p50 {result['p50_ms']:.0f} ms, p95 {result['p95_ms']:.0f} ms, "
                    f"p99 {result['p99_ms']:.0f} ms (POST to complete answer)"),
        ("ack", f"p95 {result['ack_p95_ms']:.0f} ms"),
        ("errors", f"{result['errors']} (refused acks {result['refused_acks']}, unanswered "
                   f"{result['unanswered']}, error answers {result['error_answers']})"),
        ("peak RSS", f"{result['peak_rss_mb']:.0f} MB per process, "
                     f"{result['total_peak_rss_mb']:.0f} MB in all"),
        ("bot CPU", f"{result['cpu_ms_per_answer']:.0f} ms per answer (all bot processes)"),
        ("wall time", f"{result['duration_s']:.1f} s"),
    ]  # fmt: skip
    width = max(len(name) for name, _ in rows)
    print("viraltracker-bot sustained load (Slack fake -> bots -> Slack fake)")
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="30 s at 20 events/s")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--duration", type=float, default=None, help="seconds of load (120)")
    parser.add_argument("--rate", type=float, default=None, help="events per second (20)")
    parser.add_argument("--replicas", type=int, default=2, help="bot processes (2)")
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    parser.add_argument("--actor-latency", type=float, default=0.05, help="Apify fake run time")
    parser.add_argument("--drain", type=float, default=60.0, help="seconds to wait for answers")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    result = asyncio.run(bench(args))
    if args.json:
        print(json.dumps(result))
    else:
        print_table(result)


if __name__ == "__main__":
    main()
