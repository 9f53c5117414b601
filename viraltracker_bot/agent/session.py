"""A conversation's stored state between messages: load and save it, and word failures for users."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from pydantic import ValidationError
from pydantic_ai.exceptions import (
    ModelAPIError,
    ModelHTTPError,
    UnexpectedModelBehavior,
    UsageLimitExceeded,
)
from pydantic_ai.messages import (
    ModelMessage,
    ModelMessagesTypeAdapter,
    ModelRequest,
    ModelResponse,
    TextPart,
    UserPromptPart,
)
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from viraltracker_bot.agent.dependencies import AgentRunRecord, ResultCache
from viraltracker_bot.config import Settings
from viraltracker_bot.conversation import ConversationKey, Reply
from viraltracker_bot.platforms.errors import ActorBudgetExceeded, PlatformError
from viraltracker_bot.storage.database import Database

log = logging.getLogger(__name__)

HISTORY_ANSWER_CHARS = 3000
"""An answer is kept in the history up to this length: enough context, bounded cost."""


async def load_turn_state(db: Database, key: str) -> tuple[ResultCache, list[ModelMessage]]:
    """The session's cache and history; a new or unreadable session starts empty."""
    from viraltracker_bot.storage.sessions import load_session

    async with db.sessions() as session:
        row = await load_session(session, key)
    if row is None:
        return ResultCache(), []
    try:
        cache = ResultCache.model_validate(row.result_cache or {})
    except ValidationError:
        log.warning("session %s: unreadable result cache, starting a fresh one", key)
        cache = ResultCache()
    try:
        history = list(ModelMessagesTypeAdapter.validate_python(row.history or []))
    except ValidationError:
        log.warning("session %s: unreadable history, starting a fresh one", key)
        history = []
    return cache, history


def next_history(
    history: Sequence[ModelMessage], prompt: str, answer: str, limit: int
) -> list[ModelMessage]:
    """The history plus this turn as a prompt/answer pair, keeping the newest `limit` messages.

    Only prompts and answers are kept (not tool traffic): the cache carries the data, and a
    history that always starts with a user prompt is valid for every model.
    """
    if len(answer) > HISTORY_ANSWER_CHARS:
        answer = answer[:HISTORY_ANSWER_CHARS] + "…"
    turn: list[ModelMessage] = [
        ModelRequest(parts=[UserPromptPart(prompt)]),
        ModelResponse(parts=[TextPart(answer)]),
    ]
    kept = [*history, *turn]
    keep = max(2, limit - limit % 2)
    return kept[-keep:]


async def save_turn(
    db: Database,
    settings: Settings,
    key: ConversationKey,
    cache: ResultCache,
    history: Sequence[ModelMessage],
    prompt: str,
    answer: str,
    *,
    also: Callable[[AsyncSession], Awaitable[None]] | None = None,
    runs: Sequence[AgentRunRecord] = (),
) -> None:
    """Store the cache and the bounded history in one transaction.

    `also` runs in that transaction (the inbox marks the message answered there), and an
    error it raises leaves the session as it was. The message's agent `runs` are written in
    it too (one commit per answer rather than two), but as observability: runs the database
    refuses are logged, and the turn is saved without them.
    """
    from viraltracker_bot.storage.sessions import save_session

    messages = next_history(history, prompt, answer, settings.session_history_messages)
    result_cache = cache.model_dump(mode="json")
    stored_history = ModelMessagesTypeAdapter.dump_python(messages, mode="json")
    async with db.transaction() as session:
        # `also` first: what it reads comes before this transaction's first write, and on
        # SQLite the write turn (one writer at a time) is held only from that write on.
        if also is not None:
            await also(session)
        await save_session(
            session,
            key.as_string(),
            key.platform,
            result_cache,
            stored_history,
            last=not runs,  # on SQLite, the last statement commits in its own trip
        )
        if runs:
            await _record_runs_within(session, runs, key.as_string(), key.workspace)


async def _record_runs_within(
    session: AsyncSession, runs: Sequence[AgentRunRecord], key: str, workspace: str
) -> None:
    """The runs, in the caller's transaction; a failure to store them does not undo it."""
    from viraltracker_bot.storage import agent_runs
    from viraltracker_bot.storage.dialects import dialect_name

    rows = _run_rows(runs, key, workspace)
    try:
        if dialect_name(session) == "sqlite":
            # SQLite undoes a refused statement alone; the transaction goes on (and is
            # committed by the caller when this, its last statement, fails).
            await agent_runs.record_runs(session, rows, last=True)
        else:
            # PostgreSQL aborts the whole transaction on an error: a savepoint contains it.
            async with session.begin_nested():
                await agent_runs.record_runs(session, rows)
    except Exception:
        log.exception("could not record %d agent runs", len(runs))


async def record_runs(
    db: Database, runs: Sequence[AgentRunRecord], key: str, workspace: str
) -> None:
    """Write the message's agent runs to agent_runs; observability never fails a reply."""
    from viraltracker_bot.storage import agent_runs

    if not runs:
        return
    try:
        async with db.transaction() as session:
            await agent_runs.record_runs(session, _run_rows(runs, key, workspace), last=True)
    except Exception:
        log.exception("could not record %d agent runs", len(runs))


def _run_rows(runs: Sequence[AgentRunRecord], key: str, workspace: str) -> list[dict[str, Any]]:
    return [
        {
            "agent": run.agent,
            "conversation_key": key,
            "workspace": workspace or None,
            "tools": run.tools,
            "started_at": run.started_at,
            "duration_ms": run.duration_ms,
            "requests": run.requests,
            "input_tokens": run.input_tokens,
            "output_tokens": run.output_tokens,
            "actor_runs": run.actor_runs,
            "outcome": run.outcome,
            "error": run.error,
        }
        for run in runs
    ]


def failure_reply(exc: Exception, settings: Settings) -> Reply:
    """Every way a message can fail, in words a chat user can act on."""
    unchanged = "Nothing in this conversation was changed."
    if isinstance(exc, ActorBudgetExceeded):
        text = exc.message
    elif isinstance(exc, PlatformError):
        text = f"{exc.message}"
    elif isinstance(exc, UsageLimitExceeded):
        text = (
            "That request needed more work than one message may use "
            f"(at most {settings.max_model_requests_per_message} model requests and "
            f"{settings.max_tokens_per_message:,} tokens). Try a narrower question, "
            "or one platform at a time."
        )
    elif isinstance(exc, ModelHTTPError) and exc.status_code == 429:
        text = (
            "The AI model is rate-limiting us right now (HTTP 429). Please try again in a minute."
        )
    elif isinstance(exc, ModelHTTPError) and exc.status_code in (503, 529):
        text = (
            f"The AI model is overloaded right now (HTTP {exc.status_code}). "
            "Please try again in a minute."
        )
    elif isinstance(exc, ModelHTTPError):
        text = f"The AI model returned an error (HTTP {exc.status_code}). Please try again."
    elif isinstance(exc, UnexpectedModelBehavior):
        text = (
            "The AI model kept answering in a way I could not use (for example, calling a "
            "tool with invalid arguments). Please rephrase the request."
        )
    elif isinstance(exc, ModelAPIError):
        text = "I could not reach the AI model. Please try again in a minute."
    elif isinstance(exc, OperationalError):  # the database is down, unreachable or locked
        log.warning("database failure while answering", exc_info=exc)
        text = "I could not reach my database. Please try again in a minute."
    else:
        log.exception("unexpected failure while answering", exc_info=exc)
        text = f"Something went wrong on my side ({type(exc).__name__}). Please try again."
    return Reply(text=f"⚠️ {text} {unchanged}", error=True)
