"""A finished answer is freed at once, not left for the garbage collector's full pass.

The Slack app keeps a few hundred conversations in flight, and a full collection walks every
object that survived earlier ones while all of them wait. The status line's background task
used to keep the agent run that showed a status (its results, their raw items) in a reference
cycle: every answer became garbage only a full pass could free, and on a busy bot those passes
stalled every conversation for 0.2-0.3 s (bench/slack_ack.py).
"""

from __future__ import annotations

import contextvars
import gc
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.progress import ThreadStatus
from tests.fakes.slack import SlackFake

# Where an agent run sits while it works (pydantic-ai keeps its RunContext in a ContextVar).
CURRENT_RUN: contextvars.ContextVar[object] = contextvars.ContextVar("current_run")


class AgentRun:
    """Stands for an agent run: it holds the message's progress (as AgentDependencies do)."""

    def __init__(self, progress: ThreadStatus) -> None:
        self.progress = progress


@contextmanager
def no_collector() -> Iterator[None]:
    """Only reference counting frees objects meanwhile: what lives in a cycle stays."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


async def show_statuses_within_a_run(client: AsyncWebClient, thread_ts: str) -> weakref.ref:
    status = ThreadStatus(client, "C1", thread_ts)
    run = AgentRun(status)
    token = CURRENT_RUN.set(run)
    try:
        await status("Searching TikTok…")  # starts the sender task inside the run's context
    finally:
        CURRENT_RUN.reset(token)
    await status.settle()  # what the Slack turn does before it replies
    return weakref.ref(run)


async def test_a_status_shown_during_an_agent_run_does_not_keep_the_run_alive(
    slack: SlackFake,
) -> None:
    client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
    with no_collector():
        run = await show_statuses_within_a_run(client, "1700000000.000100")
        assert slack.statuses[("C1", "1700000000.000100")] == ["Searching TikTok…"]
        assert run() is None  # freed as soon as nothing used it
