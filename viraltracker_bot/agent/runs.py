"""Running one agent and noting what it did (tools, requests, tokens, time, outcome)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic_ai import Agent
from pydantic_ai.exceptions import (
    ModelAPIError,
    ModelHTTPError,
    UnexpectedModelBehavior,
    UsageLimitExceeded,
)
from pydantic_ai.messages import ModelMessage, ModelResponse, ToolCallPart
from pydantic_ai.usage import RunUsage

from viraltracker_bot.agent.dependencies import AgentDependencies, AgentRunRecord
from viraltracker_bot.platforms.errors import PlatformError


def outcome_of(exc: BaseException) -> str:
    """A short label for how a run ended, the way `stats` groups them."""
    if isinstance(exc, UsageLimitExceeded):
        return "usage_limit"
    if isinstance(exc, ModelHTTPError):
        return f"model_http_{exc.status_code}"
    if isinstance(exc, UnexpectedModelBehavior | ModelAPIError):
        return "model_error"
    if isinstance(exc, PlatformError):
        return "platform_error"
    if isinstance(exc, TimeoutError):
        return "timeout"
    if not isinstance(exc, Exception):
        return "cancelled"
    return "error"


def _tally(messages: Sequence[ModelMessage]) -> tuple[list[str], int, int, int]:
    tools: list[str] = []
    requests = tokens_in = tokens_out = 0
    for message in messages:
        if isinstance(message, ModelResponse):
            requests += 1
            tokens_in += message.usage.input_tokens or 0
            tokens_out += message.usage.output_tokens or 0
            tools += [p.tool_name for p in message.parts if isinstance(p, ToolCallPart)]
    return tools, requests, tokens_in, tokens_out


async def run_recorded(
    agent: Agent[AgentDependencies, Any],
    prompt: str,
    deps: AgentDependencies,
    *,
    usage: RunUsage | None = None,
    message_history: Sequence[ModelMessage] | None = None,
) -> Any:
    """Run `agent` to its output, sharing `usage` (so limits count every agent of the message),
    and append what happened to `deps.run_log`, whether it ended well or not."""
    started = datetime.now(UTC)
    clock = time.perf_counter()
    messages: list[ModelMessage] = []
    actor_runs_before = deps.budget.used
    outcome, error = "ok", None
    try:
        async with agent.iter(
            prompt,
            deps=deps,
            usage=usage,
            usage_limits=deps.usage_limits,
            message_history=message_history,
        ) as run:
            try:
                async for _node in run:
                    pass
            finally:
                messages = run.new_messages()
        assert run.result is not None
        return run.result.output
    except BaseException as exc:
        outcome, error = outcome_of(exc), f"{type(exc).__name__}: {exc}"[:1000]
        raise
    finally:
        tools, requests, tokens_in, tokens_out = _tally(messages)
        deps.run_log.append(
            AgentRunRecord(
                agent=agent.name or "agent",
                started_at=started,
                duration_ms=(time.perf_counter() - clock) * 1000,
                tools=tools,
                requests=requests,
                input_tokens=tokens_in,
                output_tokens=tokens_out,
                actor_runs=max(0, deps.budget.used - actor_runs_before),
                outcome=outcome,
                error=error,
            )
        )
