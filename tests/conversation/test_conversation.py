"""Conversation.handle: sessions that persist, stay apart, stay bounded, and fail cleanly."""

from __future__ import annotations

import asyncio
import csv
import time

import pytest
from pydantic_ai.exceptions import ModelHTTPError
from pydantic_ai.messages import ModelMessagesTypeAdapter
from pydantic_ai.models.function import FunctionModel
from sqlalchemy import select

from tests.agent.support import Script, call, echo, live_settings_for, message, text
from tests.fakes.apify import ApifyFake
from viraltracker_bot.conversation import Conversation
from viraltracker_bot.storage.database import Database
from viraltracker_bot.storage.sessions import load_session
from viraltracker_bot.storage.tables import AgentRunRow

SEARCH = {"twitter": [call("search_twitter", {"keywords": "bitcoin"}), echo()]}
EXPORT = {"twitter": [call("export_tweets", {"format": "csv"}), echo()]}


async def stored(db: Database, msg) -> tuple[dict, list]:
    async with db.sessions() as session:
        row = await load_session(session, msg.key.as_string())
    return (row.result_cache, row.history) if row else ({}, [])


async def test_results_carry_over_to_the_next_message_and_a_restart(
    make_conversation, live_settings, db, services
) -> None:
    first = await make_conversation(Script(SEARCH).model).handle(message("bitcoin tweets"))
    assert not first.error

    # A new Conversation on the same database: what a process restart looks like.
    restarted = Conversation(live_settings, db, services, model=Script(EXPORT).model)
    reply = await restarted.handle(message("export those tweets as csv"))

    assert not reply.error
    [path] = reply.files
    cache, history = await stored(db, message(""))
    urls = [p["url"] for p in cache["last_twitter_query"]["posts"]]
    assert urls and all(url in path.read_text(encoding="utf-8") for url in urls)
    assert cache["last_twitter_query"]["query"]["terms"] == ["bitcoin"]
    messages = ModelMessagesTypeAdapter.validate_python(history)
    assert len(messages) == 4  # two turns, each a prompt and an answer


async def test_export_those_after_a_comparison_exports_every_platform_compared(
    make_conversation, db
) -> None:
    compared = await make_conversation(None).handle(
        message("compare bitcoin on twitter and tiktok")
    )
    # a restart between the two messages: which platforms "those" are is in the session
    exported = await make_conversation(None).handle(message("export those as csv"))

    assert not compared.error and not exported.error
    [path] = exported.files
    rows = list(csv.DictReader(path.open(encoding="utf-8-sig", newline="")))
    cache, _ = await stored(db, message(""))
    counts = {p: len(cache[f"last_{p}_query"]["posts"]) for p in ("twitter", "tiktok")}
    assert {p: sum(r["platform"] == p for r in rows) for p in counts} == counts
    assert all(counts.values())
    assert f"{counts['twitter']} Twitter/X" in exported.text
    assert f"{counts['tiktok']} TikTok" in exported.text

    # a later single-platform search: "those" is that platform's results alone
    await make_conversation(None).handle(message("find bitcoin tweets"))
    again = await make_conversation(None).handle(message("export those as csv"))
    rows = list(csv.DictReader(again.files[0].open(encoding="utf-8-sig", newline="")))
    assert rows and {r["platform"] for r in rows} == {"twitter"}


async def test_the_orchestrator_sees_the_session_history(make_conversation) -> None:
    seen: list[int] = []

    def count_history(messages, info):
        seen.append(len(messages))
        return text("noted")

    conversation = make_conversation(Script({"orchestrator": [count_history]}).model)
    await conversation.handle(message("hello"))
    await conversation.handle(message("hello again"))

    assert seen == [1, 3]  # the second run got the first prompt and answer too


async def test_two_sessions_never_share_a_cache(make_conversation, db) -> None:
    await make_conversation(Script(SEARCH).model).handle(message("bitcoin tweets", thread="A"))

    reply = await make_conversation(Script(EXPORT).model).handle(
        message("export those tweets", thread="B")
    )

    assert reply.files == []
    assert "no Twitter/X results" in reply.text
    cache_b, _ = await stored(db, message("", thread="B"))
    assert cache_b["last_twitter_query"] is None


async def test_one_key_at_a_time_different_keys_in_parallel(make_conversation) -> None:
    spans: dict[str, list[tuple[float, float]]] = {}

    async def slow(messages, info):
        prompt = messages[-1].parts[-1].content
        start = time.perf_counter()
        await asyncio.sleep(0.3)
        spans.setdefault(prompt[0], []).append((start, time.perf_counter()))
        return text("done")

    conversation = make_conversation(FunctionModel(slow))
    await asyncio.gather(
        conversation.handle(message("A1 hello", thread="A")),
        conversation.handle(message("A2 hello", thread="A")),
        conversation.handle(message("B1 hello", thread="B")),
    )

    (a1, a2) = sorted(spans["A"])
    assert a2[0] >= a1[1], "two messages of one thread overlapped"
    (b1,) = spans["B"]
    assert b1[0] < a1[1], "a different thread waited for thread A"


async def test_runaway_tool_loops_hit_the_request_limit(
    make_conversation, settings, apify: ApifyFake, db
) -> None:
    looping = Script({"orchestrator": [text("ok")]})
    await make_conversation(looping.model).handle(message("hello"))
    before = await stored(db, message(""))

    def again(messages, info):
        return call("search_twitter", {"keywords": "bitcoin"})

    limited = live_settings_for(settings, apify, max_model_requests_per_message=3)
    conversation = make_conversation(FunctionModel(again), settings=limited)
    reply = await conversation.handle(message("bitcoin tweets forever"))

    assert reply.error
    assert "at most 3 model requests" in reply.text
    assert await stored(db, message("")) == before  # the session is left as it was


async def test_actor_budget_per_message(make_conversation, settings, apify: ApifyFake) -> None:
    tasks = [{"agent": "twitter", "request": "bitcoin"}, {"agent": "youtube", "request": "bitcoin"}]
    script = Script(
        {
            "orchestrator": [call("ask_specialists", {"tasks": tasks})],
            "twitter": [call("search_twitter", {"keywords": "bitcoin"}), echo()],
            "youtube": [call("search_youtube", {"keywords": "bitcoin"}), echo()],
        }
    )
    limited = live_settings_for(settings, apify, max_actor_runs_per_message=1)

    reply = await make_conversation(script.model, settings=limited).handle(
        message("bitcoin on twitter and youtube")
    )

    assert apify.run_count == 1
    assert "already used its 1 scraper runs" in reply.text


@pytest.mark.parametrize(
    ("status", "words"), [(429, "rate-limiting"), (529, "overloaded"), (500, "HTTP 500")]
)
async def test_model_http_errors_become_clear_replies(
    make_conversation, db, status: int, words: str
) -> None:
    await make_conversation(Script({"orchestrator": [text("ok")]}).model).handle(message("hi"))
    before = await stored(db, message(""))

    def failing(messages, info):
        raise ModelHTTPError(status, "anthropic:claude-sonnet-4-5", {"error": "nope"})

    reply = await make_conversation(FunctionModel(failing)).handle(message("what is viral"))

    assert reply.error and words in reply.text
    assert "Nothing in this conversation was changed" in reply.text
    assert await stored(db, message("")) == before
    async with db.sessions() as session:
        outcomes = (await session.execute(select(AgentRunRow.outcome))).scalars().all()
    assert f"model_http_{status}" in outcomes  # failed runs are recorded too


async def test_malformed_tool_arguments_become_a_clear_reply(make_conversation) -> None:
    def malformed(messages, info):
        return call("search_twitter", '{"keywords": ')  # truncated JSON, every time

    reply = await make_conversation(FunctionModel(malformed)).handle(message("bitcoin tweets"))

    assert reply.error
    assert "could not use" in reply.text


async def test_actor_failure_becomes_a_clear_reply(make_conversation, apify: ApifyFake) -> None:
    apify.end_runs_with("FAILED")

    reply = await make_conversation(Script(SEARCH).model).handle(message("bitcoin tweets"))

    assert reply.error
    assert "scraper run failed" in reply.text


async def test_long_and_empty_messages(make_conversation, live_settings) -> None:
    conversation = make_conversation(Script({}).model)  # no model request may happen

    long = await conversation.handle(message("x" * (live_settings.max_message_chars + 1)))
    empty = await conversation.handle(message("   "))
    helped = await conversation.handle(message("help"))

    assert long.error and "shorten" in long.text
    assert not empty.error and "Ask me things like" in empty.text
    assert helped.text == empty.text


async def test_history_is_bounded(make_conversation, settings, apify: ApifyFake, db) -> None:
    small = live_settings_for(settings, apify, session_history_messages=4)
    replies = [text(f"answer {i}") for i in range(3)]
    conversation = make_conversation(
        FunctionModel(lambda m, i: replies[(len(m) - 1) // 2]), settings=small
    )
    for i in range(3):
        await conversation.handle(message(f"question {i}"))

    _, history = await stored(db, message(""))
    messages = ModelMessagesTypeAdapter.validate_python(history)
    assert len(messages) == 4
    assert messages[0].parts[0].content == "question 1"


async def test_every_agent_run_is_recorded(make_conversation, db) -> None:
    script = Script(
        {
            "orchestrator": [call("handoff_to_twitter", {"request": "bitcoin tweets"})],
            **SEARCH,
        }
    )
    await make_conversation(script.model).handle(message("what is viral about bitcoin"))

    async with db.sessions() as session:
        rows = (await session.execute(select(AgentRunRow))).scalars().all()
    by_agent = {r.agent: r for r in rows}
    assert set(by_agent) == {"orchestrator", "twitter"}
    assert by_agent["twitter"].tools == ["search_twitter"]
    assert by_agent["twitter"].requests == 2 and by_agent["twitter"].actor_runs == 1
    assert by_agent["orchestrator"].tools == ["handoff_to_twitter"]
    assert all(r.outcome == "ok" and r.duration_ms > 0 for r in rows)
    assert all(r.conversation_key == "slack:T1:C1:t1" for r in rows)


async def test_a_failing_progress_display_does_not_fail_the_answer(make_conversation) -> None:
    async def broken(_status: str) -> None:
        raise ConnectionError("chat API is down")

    reply = await make_conversation(Script(SEARCH).model).handle(
        message("top tweets about bitcoin"), broken
    )

    assert not reply.error and "Twitter/X search 'bitcoin'" in reply.text


async def test_a_turns_searches_are_stored_by_the_time_its_answer_is(
    make_conversation, db, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store overlaps the model's next request; the answer still waits for it."""
    from tests.platforms.conftest import table_counts
    from viraltracker_bot.storage import searches as search_store

    store_may_go = asyncio.Event()
    store_search = search_store.store_search

    async def slow_store(*args, **kwargs):  # a store slower than the model's next request
        await store_may_go.wait()
        return await store_search(*args, **kwargs)

    monkeypatch.setattr(search_store, "store_search", slow_store)
    conversation = make_conversation(Script(SEARCH).model)
    turn = asyncio.create_task(conversation.handle(message("bitcoin tweets")))
    await asyncio.sleep(0.5)  # ample for the rest of the turn
    assert not turn.done()
    store_may_go.set()
    reply = await asyncio.wait_for(turn, 60)

    assert not reply.error
    counts = await table_counts(db)
    assert counts["queries"] == 1 and counts["posts"] > 0 and counts["post_queries"] > 0


async def test_a_database_that_cannot_be_reached_becomes_a_clear_reply(
    live_settings, services, tmp_path
) -> None:
    unreachable = Database(f"sqlite+aiosqlite:///{tmp_path}/no-such-dir/bot.db")
    try:
        conversation = Conversation(
            live_settings, unreachable, services, model=Script(SEARCH).model
        )
        reply = await conversation.handle(message("bitcoin tweets"))
    finally:
        await unreachable.dispose()

    assert reply.error
    assert "I could not reach my database. Please try again in a minute." in reply.text
