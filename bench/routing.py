"""Routing benchmark: the orchestrator against a monolithic agent, driven by one scripted model.

    python bench/routing.py            # 42 queries, 5 timed 4-platform fan-outs
    python bench/routing.py --quick    # 2 queries per class, 2 timed fan-outs: under a minute
    python bench/routing.py --json     # one JSON object with stable keys (units in the names)

A fixed set of realistic queries is replayed, as one chat session, through the orchestrator
(`viraltracker_bot.agent.orchestrator.answer`, pre-router included) and through the monolith in
`bench/monolith.py` (one agent, every tool). One scripted model plays every agent: for each query
it knows which tools a competent model would call and calls exactly those, so the two
architectures differ only in how many requests they need and how much input each request carries.
Input bytes count what a provider is sent: instructions, tool definitions, and the messages'
contents. Data comes from the offline sandbox, each architecture on its own database.

Then a 4-platform request runs with every actor taking 1 s in the Apify fake: its wall time as a
ratio to 1 s shows whether the specialists ran concurrently (the sum would be 4).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.fakes and bench.*

from pydantic_ai.messages import (
    ModelMessage,
    ModelResponse,
    RetryPromptPart,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel

from bench.monolith import build_monolith
from tests.fakes.apify import ApifyFake
from viraltracker_bot.agent.dependencies import AgentDependencies, ResultCache
from viraltracker_bot.agent.orchestrator import answer
from viraltracker_bot.agent.runs import run_recorded
from viraltracker_bot.agent.session import next_history
from viraltracker_bot.config import Settings
from viraltracker_bot.platforms import facebook, tiktok, twitter, youtube
from viraltracker_bot.platforms.service import PlatformServices
from viraltracker_bot.storage.database import open_database

ANALYSIS = "analysis"
MARKERS = {
    "search_twitter": "twitter",
    "search_tiktok": "tiktok",
    "search_youtube": "youtube",
    "search_facebook_ads": "facebook",
    "compare_platforms": ANALYSIS,
}
ANSWER_CHARS = 600
"""The scripted model's answer quotes each tool result up to this length, on both sides."""


@dataclass(frozen=True)
class Step:
    """One tool call a competent model would make; phase 1 needs phase 0's results."""

    agent: str
    tool: str
    args: dict[str, Any]
    phase: int = 0


@dataclass(frozen=True)
class Query:
    kind: str
    text: str
    steps: tuple[Step, ...]


def tw(keywords: str, **kw: Any) -> Step:
    return Step("twitter", "search_twitter", {"keywords": keywords, **kw})


def tt(keywords: str, **kw: Any) -> Step:
    return Step("tiktok", "search_tiktok", {"keywords": keywords, "min_views": 0, **kw})


def yt(keywords: str, **kw: Any) -> Step:
    return Step("youtube", "search_youtube", {"keywords": keywords, "min_views": 0, **kw})


def fb(keyword: str, **kw: Any) -> Step:
    return Step("facebook", "search_facebook_ads", {"keyword_or_url": keyword, **kw})


def later(agent: str, tool: str, **args: Any) -> Step:
    return Step(agent, tool, args, phase=1)


def compare() -> Step:
    return later(ANALYSIS, "compare_platforms")


def q(kind: str, text: str, *steps: Step) -> Query:
    return Query(kind, text, steps)


SINGLE, FOLLOW, MULTI, ALL, ANALYSE = (
    "single-platform",
    "follow-up",
    "multi-platform",
    "all-platforms",
    "analysis",
)
every = ("twitter", "tiktok", "youtube", "facebook")

QUERIES: tuple[Query, ...] = (
    q(SINGLE, "find viral bitcoin tweets from the last 48 hours", tw("bitcoin", hours_back=48)),
    q(FOLLOW, "why did #2 do so well?", later("twitter", "analyze_tweet", index=2)),
    q(FOLLOW, "export those as csv", later("twitter", "export_tweets", format="csv")),
    q(SINGLE, "top AI productivity tiktoks this week", tt("AI productivity", max_days=7)),
    q(FOLLOW, "analyze the first one", later("tiktok", "analyze_tiktok_video", index=1)),
    q(FOLLOW, "what do they have in common?", later("tiktok", "analyze_tiktok_batch")),
    q(FOLLOW, "export them as json", later("tiktok", "export_tiktok_videos", format="json")),
    q(SINGLE, "viral sourdough shorts on youtube", yt("sourdough")),
    q(
        FOLLOW,
        "export the top 10 as markdown",
        later("youtube", "export_youtube_videos", format="markdown", limit=10),
    ),
    q(
        SINGLE,
        "facebook ads for meal kits running in the US",
        fb("meal kit", active_status="active", country="US"),
    ),
    q(FOLLOW, "export those ads as csv", later("facebook", "export_facebook_ads")),
    q(
        SINGLE,
        "what is @levelsio tweeting about",
        Step("twitter", "scrape_twitter_user", {"handle": "levelsio"}),
    ),
    q(
        SINGLE,
        "#skincare tiktoks with over 100k views",
        Step("tiktok", "search_tiktok_hashtag", {"hashtag": "skincare", "min_views": 100_000}),
    ),
    q(SINGLE, "youtube shorts about home workouts", yt("home workout")),
    q(
        SINGLE,
        "show me HelloFresh's facebook ads",
        Step("facebook", "scrape_facebook_page_ads", {"page": "HelloFresh"}),
    ),
    q(SINGLE, "trending tweets about the fed rate decision today", tw("fed rate decision")),
    q(
        SINGLE,
        "tiktok videos from @gordonramsay",
        Step("tiktok", "scrape_tiktok_user", {"username": "gordonramsay"}),
    ),
    q(SINGLE, "viral tweets about chatgpt, claude or gemini", tw("chatgpt, claude, gemini")),
    q(
        SINGLE,
        "youtube videos about budget travel in japan from the last month",
        yt("budget travel japan", days_back=30, max_videos=20),
    ),
    q(
        SINGLE,
        "active facebook ads about protein powder",
        fb("protein powder", active_status="active"),
    ),
    q(SINGLE, "tiktoks about morning routines by small creators", tt("morning routine")),
    q(
        SINGLE,
        "tweets about the new iphone with at least 50k views",
        tw("new iphone", min_views=50_000),
    ),
    q(SINGLE, "youtube shorts with python tips", yt("python tips")),
    q(
        SINGLE,
        "the best stored tweets of the week by likes",
        Step("twitter", "get_top_tweets", {"hours_back": 168, "sort": "likes"}),
    ),
    q(MULTI, "compare bitcoin on twitter and tiktok", tw("bitcoin"), tt("bitcoin"), compare()),
    q(
        MULTI,
        "how is the ozempic conversation different on tiktok vs youtube",
        tt("ozempic"),
        yt("ozempic"),
        compare(),
    ),
    q(
        MULTI,
        "AI agents on twitter and youtube: which gets more engagement?",
        tw("AI agents"),
        yt("AI agents"),
        compare(),
    ),
    q(
        MULTI,
        "compare skincare content on tiktok, youtube and twitter",
        tt("skincare"),
        yt("skincare"),
        tw("skincare"),
        compare(),
    ),
    q(
        MULTI,
        "meal prep on tiktok and youtube side by side",
        tt("meal prep"),
        yt("meal prep"),
        compare(),
    ),
    q(
        MULTI,
        "crypto tweets vs crypto tiktoks this week",
        tw("crypto", hours_back=168),
        tt("crypto", max_days=7),
        compare(),
    ),
    q(
        MULTI,
        "compare notion templates on twitter and tiktok",
        tw("notion templates"),
        tt("notion templates"),
        compare(),
    ),
    q(
        MULTI,
        "productivity on youtube vs tiktok: which platform should we focus on?",
        yt("productivity"),
        tt("productivity"),
        later(ANALYSIS, "generate_insights"),
    ),
    q(
        ALL,
        "find viral posts about stanley cups across all platforms",
        tw("stanley cup"),
        tt("stanley cup"),
        yt("stanley cup"),
        fb("stanley cup"),
    ),
    q(
        ALL,
        "everything viral about taylor swift everywhere",
        tw("taylor swift"),
        tt("taylor swift"),
        yt("taylor swift"),
        fb("taylor swift"),
    ),
    q(
        ALL,
        "pickleball content on every platform, compared",
        tw("pickleball"),
        tt("pickleball"),
        yt("pickleball"),
        fb("pickleball"),
        compare(),
    ),
    q(
        ALL,
        "what's viral about electric cars across all platforms",
        tw("electric cars"),
        tt("electric cars"),
        yt("electric cars"),
        fb("electric cars"),
    ),
    q(ANALYSE, "what do the outliers have in common?", later(ANALYSIS, "analyze_viral_content")),
    q(
        ANALYSE,
        "give me insights and recommendations for our content team",
        later(ANALYSIS, "generate_insights"),
    ),
    q(ANALYSE, "compare the platforms we looked at", compare()),
    q(
        ANALYSE,
        "which hooks work best in these results?",
        later(ANALYSIS, "analyze_viral_content", chart=False),
    ),
    q(
        ANALYSE,
        "what should we post next week based on this?",
        later(ANALYSIS, "generate_insights"),
    ),
    q(
        ANALYSE,
        "chart the top posts by engagement rate",
        later(ANALYSIS, "analyze_viral_content", metric="engagement_rate"),
    ),
)
KINDS = (SINGLE, FOLLOW, MULTI, ALL, ANALYSE)


# --- the scripted model ---------------------------------------------------------------------


def input_bytes(messages: list[ModelMessage], info: AgentInfo) -> int:
    """What a provider is sent: instructions, tool definitions, and the conversation's contents."""
    size = len((info.instructions or "").encode())
    for tool in [*info.function_tools, *info.output_tools]:
        definition = {
            "name": tool.name,
            "description": tool.description,
            "input_schema": tool.parameters_json_schema,
        }
        size += len(json.dumps(definition).encode())
    for message in messages:
        for part in message.parts:
            if isinstance(part, UserPromptPart | TextPart):
                size += len(str(part.content).encode())
            elif isinstance(part, ToolCallPart):
                size += len(part.tool_name) + len(part.args_as_json_str().encode())
            elif isinstance(part, ToolReturnPart | RetryPromptPart):
                size += len(part.model_response_str().encode())
    return size


def _run_state(messages: list[ModelMessage]) -> tuple[int, list[str]]:
    """Responses given since the run's prompt, and the tool results since then."""
    step, results = 0, []
    for message in messages:
        if isinstance(message, ModelResponse):
            step += 1
        for part in message.parts:
            if isinstance(part, UserPromptPart):
                step, results = 0, []
            elif isinstance(part, ToolReturnPart | RetryPromptPart):
                results.append(part.model_response_str())
    return step, results


def _calls(steps: list[Step], first_id: int) -> ModelResponse:
    return ModelResponse(
        parts=[
            ToolCallPart(s.tool, dict(s.args), tool_call_id=f"b{first_id + i}")
            for i, s in enumerate(steps)
        ]
    )


def _final(results: list[str]) -> ModelResponse:
    quoted = "\n\n".join(r[:ANSWER_CHARS] for r in results)
    return ModelResponse(parts=[TextPart(f"Here is what I found.\n\n{quoted}")])


@dataclass
class Brain:
    """Plays every agent for the query being replayed, and logs each request's input size."""

    architecture: str = ""
    query: Query | None = None
    log: list[tuple[str, str, str, int]] = field(default_factory=list)
    measure: bool = True
    """Off while timing: sizing each request is the bench's own work, not the product's."""

    @property
    def model(self) -> FunctionModel:
        """The brain as a pydantic-ai model (async, so it answers on the loop, not in a thread)."""
        return FunctionModel(self.respond, model_name="bench-script")

    async def respond(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        assert self.query is not None
        agent = self._agent(info)
        size = input_bytes(messages, info) if self.measure else 0
        self.log.append((self.architecture, self.query.text, agent, size))
        step, results = _run_state(messages)
        if agent == "orchestrator":
            return self._route()
        if agent == "monolith":
            phases = sorted({s.phase for s in self.query.steps})
            if step < len(phases):
                return _calls([s for s in self.query.steps if s.phase == phases[step]], step * 10)
            return _final(results)
        mine = [s for s in self.query.steps if s.agent == agent]
        return _calls([mine[step]], step) if step < len(mine) else _final(results)

    @staticmethod
    def _agent(info: AgentInfo) -> str:
        if any(t.name.startswith("handoff_to_") for t in info.output_tools):
            return "orchestrator"
        names = {t.name for t in info.function_tools}
        found = {agent for tool, agent in MARKERS.items() if tool in names}
        return found.pop() if len(found) == 1 else "monolith"

    def _route(self) -> ModelResponse:
        assert self.query is not None
        platforms = list(dict.fromkeys(s.agent for s in self.query.steps if s.agent != ANALYSIS))
        analysis = any(s.agent == ANALYSIS for s in self.query.steps)
        if len(platforms) == 1 and not analysis:
            return _calls([Step("", f"handoff_to_{platforms[0]}", {"request": self.query.text})], 0)
        if not platforms:
            return _calls([Step("", "handoff_to_analysis", {"request": self.query.text})], 0)
        tasks = [{"agent": p, "request": f"{self.query.text} (your part: {p})"} for p in platforms]
        args = {"tasks": tasks, "then_analyze": self.query.text if analysis else None}
        return _calls([Step("", "ask_specialists", args)], 0)


# --- replaying the queries -------------------------------------------------------------------


def bench_settings(workdir: Path, name: str, **overrides: Any) -> Settings:
    fields: dict[str, Any] = {
        "database_url": f"sqlite+aiosqlite:///{workdir / name}.db",
        "export_dir": workdir / "exports",
        "anthropic_api_key": None,
        "apify_token": None,
        "max_model_requests_per_message": 50,
        "max_actor_runs_per_message": 8,
    }
    fields.update(overrides)
    return Settings(_env_file=None, **fields)  # type: ignore[call-arg]


async def replay(
    architecture: str, queries: tuple[Query, ...], brain: Brain, workdir: Path
) -> None:
    """All queries as one session: the cache and the (bounded) history carry over."""
    settings = bench_settings(workdir, architecture)
    db = await open_database(settings.database_url)
    services = PlatformServices(settings, db)
    monolith = build_monolith()
    model = brain.model
    cache, history = ResultCache(), []
    brain.architecture = architecture
    try:
        for query in queries:
            brain.query = query
            deps = AgentDependencies.for_message(
                settings, services, db, model=model, result_cache=cache
            )
            if architecture == "orchestrator":
                reply = await answer(query.text, deps, history)
            else:
                reply = str(await run_recorded(monolith, query.text, deps, message_history=history))
            cache = deps.result_cache
            history = next_history(history, query.text, reply, settings.session_history_messages)
    finally:
        await services.close()
        await db.dispose()


def per_kind(brain: Brain, queries: tuple[Query, ...]) -> dict[str, dict[str, float]]:
    counts: dict[tuple[str, str], list[int]] = defaultdict(list)
    for architecture, text, _agent, size in brain.log:
        counts[(architecture, text)].append(size)
    table: dict[str, dict[str, float]] = {}
    for kind in KINDS:
        texts = [query.text for query in queries if query.kind == kind]
        if not texts:
            continue
        row: dict[str, float] = {"queries": len(texts)}
        for arch in ("orchestrator", "monolith"):
            requests = [len(counts[(arch, t)]) for t in texts]
            sizes = [sum(counts[(arch, t)]) for t in texts]
            row[f"{arch}_requests_per_query"] = statistics.mean(requests)
            row[f"{arch}_input_bytes_per_query"] = statistics.mean(sizes)
        row["requests_ratio"] = row["orchestrator_requests_per_query"] / max(
            row["monolith_requests_per_query"], 1e-9
        )
        row["input_bytes_ratio"] = row["orchestrator_input_bytes_per_query"] / max(
            row["monolith_input_bytes_per_query"], 1e-9
        )
        table[kind] = row
    return table


# --- the timed fan-out -----------------------------------------------------------------------


@dataclass
class FanOutRunner:
    """One way of answering the 4-platform request, on its own database, against the fake."""

    name: str
    settings: Settings
    services: PlatformServices | None = None
    db: Any = None
    brain: Brain = field(default_factory=lambda: Brain(measure=False))
    monolith: Any = None

    async def start(self) -> None:
        self.db = await open_database(self.settings.database_url)
        self.services = PlatformServices(self.settings, self.db)
        self.brain.architecture = self.name
        self.monolith = build_monolith()

    async def once(self, topic: str) -> float:
        """Wall time of one request about a new topic (so no result cache can answer it)."""
        assert self.services is not None
        text = f"what's viral about {topic} across all platforms"
        self.brain.query = q(ALL, text, tw(topic), tt(topic), yt(topic), fb(topic))
        deps = AgentDependencies.for_message(
            self.settings, self.services, self.db, model=self.brain.model
        )
        started = time.perf_counter()
        if self.name == "orchestrator":
            await answer(text, deps)
        elif self.name == "monolith":
            await run_recorded(self.monolith, text, deps)
        else:  # the same four searches straight through the services: no agents at all
            queries = [
                twitter.search_query(topic),
                tiktok.search_query(topic, min_views=None),
                youtube.search_query(topic, min_views=None),
                facebook.search_query(topic),
            ]
            await asyncio.gather(*(self.services.run(query) for query in queries))
        return time.perf_counter() - started

    async def close(self) -> None:
        if self.services is not None:
            await self.services.close()
        if self.db is not None:
            await self.db.dispose()


async def timed_fan_out(workdir: Path, repetitions: int) -> dict[str, float]:
    """A 4-platform request with every actor taking 1 s: wall time as a ratio to 1 s.

    The orchestrator, the monolith and the bare services take turns within each repetition,
    so a busy machine slows them alike; the bare services are the floor to read the others by.
    """
    latency_s = 1.0
    async with ApifyFake(latency_s=latency_s) as fake:
        runners = [
            FanOutRunner(
                name,
                bench_settings(
                    workdir, f"fanout-{name}", apify_token=fake.token, apify_api_base_url=fake.url
                ),
            )
            for name in ("orchestrator", "monolith", "services")
        ]
        walls: dict[str, list[float]] = {r.name: [] for r in runners}
        try:
            for runner in runners:
                await runner.start()
                await runner.once(f"warm-up {runner.name}")  # clients, imports: untimed
            for i in range(repetitions):
                for runner in runners:
                    walls[runner.name].append(await runner.once(f"topic {runner.name} {i}"))
        finally:
            for runner in runners:
                await runner.close()
    median = {name: statistics.median(values) for name, values in walls.items()}
    return {
        "platforms": 4,
        "actor_latency_s": latency_s,
        "repetitions": repetitions,
        "orchestrator_wall_time_s": median["orchestrator"],
        "orchestrator_wall_time_ratio": median["orchestrator"] / latency_s,
        "monolith_wall_time_s": median["monolith"],
        "monolith_wall_time_ratio": median["monolith"] / latency_s,
        "services_only_wall_time_s": median["services"],
        "services_only_wall_time_ratio": median["services"] / latency_s,
        "sequential_sum_s": 4 * latency_s,
    }


# --- report ----------------------------------------------------------------------------------


def targets(table: dict[str, dict[str, float]], fan_out: dict[str, float]) -> dict[str, Any]:
    single = table.get(SINGLE, {})
    return {
        "single_platform_requests_ratio_max": 1.0,
        "single_platform_input_bytes_ratio_max": 0.6,
        "fan_out_wall_time_ratio_max": 1.25,
        "single_platform_requests_met": single.get("requests_ratio", 99) <= 1.0,
        "single_platform_input_bytes_met": single.get("input_bytes_ratio", 99) <= 0.6,
        "fan_out_wall_time_met": fan_out["orchestrator_wall_time_ratio"] <= 1.25,
    }


def print_table(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(110, Console().width))
    table = Table(
        title=f"Routing: orchestrator vs monolith, {result['queries']} queries, one scripted model",
        title_justify="left",
    )
    for column in (
        "query class",
        "n",
        "req/q orch",
        "req/q mono",
        "req ratio",
        "input B/q orch",
        "input B/q mono",
        "bytes ratio",
    ):
        table.add_column(column, justify="left" if column == "query class" else "right")
    for kind, row in result["classes"].items():
        table.add_row(
            kind,
            str(int(row["queries"])),
            f"{row['orchestrator_requests_per_query']:.2f}",
            f"{row['monolith_requests_per_query']:.2f}",
            f"{row['requests_ratio']:.2f}",
            f"{row['orchestrator_input_bytes_per_query']:,.0f}",
            f"{row['monolith_input_bytes_per_query']:,.0f}",
            f"{row['input_bytes_ratio']:.2f}",
        )
    console.print(table)
    fan = result["fan_out"]
    console.print(
        f"4-platform fan-out, actors {fan['actor_latency_s']:.0f} s each "
        f"(median of {fan['repetitions']}): orchestrator {fan['orchestrator_wall_time_s']:.2f} s "
        f"= {fan['orchestrator_wall_time_ratio']:.2f}x the slowest actor; monolith "
        f"{fan['monolith_wall_time_s']:.2f} s; the four searches alone, without agents, "
        f"{fan['services_only_wall_time_s']:.2f} s; sequential would be "
        f"{fan['sequential_sum_s']:.0f} s."
    )
    t = result["targets"]
    marks = {True: "met", False: "MISSED"}
    console.print(
        "Targets: single-platform requests ratio <= 1.0 "
        f"{marks[t['single_platform_requests_met']]}; "
        f"input bytes ratio <= 0.6 {marks[t['single_platform_input_bytes_met']]}; "
        f"fan-out wall ratio <= 1.25 {marks[t['fan_out_wall_time_met']]}."
    )


async def main(quick: bool) -> dict[str, Any]:
    queries = QUERIES
    if quick:
        keep = {kind: 0 for kind in KINDS}
        chosen = []
        for query in QUERIES:
            # follow-ups and analyses need the searches before them: keep the session's order
            if query.kind in (FOLLOW, ANALYSE) or keep[query.kind] < 2:
                chosen.append(query)
                keep[query.kind] += 1
        queries = tuple(chosen)
    brain = Brain()
    with tempfile.TemporaryDirectory(prefix="vt-bench-routing-") as tmp:
        workdir = Path(tmp)
        for architecture in ("orchestrator", "monolith"):
            await replay(architecture, queries, brain, workdir)
        fan_out = await timed_fan_out(workdir, 2 if quick else 5)
    table = per_kind(brain, queries)
    return {
        "queries": len(queries),
        "classes": table,
        "fan_out": fan_out,
        "targets": targets(table, fan_out),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer queries: under a minute")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    outcome = asyncio.run(main(args.quick))
    if args.json:
        print(json.dumps(outcome, indent=2, sort_keys=True))
    else:
        print_table(outcome)
