"""Agent run records, and the per-agent / per-tool figures `viraltracker-bot stats` shows."""

from __future__ import annotations

import functools
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from viraltracker_bot.storage.dialects import as_utc
from viraltracker_bot.storage.sqlite_driver import COMMITS
from viraltracker_bot.storage.tables import AgentRunRow

SUCCESS_OUTCOMES = frozenset({"ok"})


class AgentStat(BaseModel):
    """Figures for one agent, or for one tool across all agents."""

    kind: Literal["agent", "tool"]
    name: str
    runs: int
    successes: int
    success_rate: float
    p50_ms: float
    p95_ms: float
    total_tokens: int


async def record_run(session: AsyncSession, **fields: Any) -> AgentRunRow:
    """Store one agent run; fields are AgentRunRow columns (agent, tools, duration_ms, ...)."""
    if "started_at" in fields:
        fields["started_at"] = as_utc(fields["started_at"])
    row = AgentRunRow(**fields)
    session.add(row)
    await session.flush()
    return row


async def record_runs(
    session: AsyncSession, runs: Sequence[Mapping[str, Any]], *, last: bool = False
) -> None:
    """Store several runs with one executemany; each run gives every column but `id`.

    A core statement built once: what a message's answer writes on every turn, where the
    ORM's unit of work cost more than the insert itself. `last`: the transaction's last
    statement (on SQLite it commits in the same trip).
    """
    if runs:
        rows = [{**run, "started_at": as_utc(run["started_at"])} for run in runs]
        await session.execute(_insert_runs(), rows, execution_options=COMMITS if last else {})


@functools.cache
def _insert_runs() -> Any:
    return insert(AgentRunRow.__table__)


async def agent_stats(session: AsyncSession, since: datetime | None = None) -> list[AgentStat]:
    """Runs, success rate, p50/p95 latency and tokens per agent, then per tool.

    A tool's latency is that of the runs it took part in (runs do not time tools one by one);
    a tool used twice in a run counts once. Agents come first, each group by most runs.
    """
    stmt = select(
        AgentRunRow.agent,
        AgentRunRow.tools,
        AgentRunRow.duration_ms,
        AgentRunRow.input_tokens,
        AgentRunRow.output_tokens,
        AgentRunRow.outcome,
    )
    if since is not None:
        stmt = stmt.where(AgentRunRow.started_at >= as_utc(since))
    by_agent: dict[str, list[tuple[float, int, bool]]] = defaultdict(list)
    by_tool: dict[str, list[tuple[float, int, bool]]] = defaultdict(list)
    for agent, tools, duration_ms, tokens_in, tokens_out, outcome in await session.execute(stmt):
        run = (
            float(duration_ms or 0.0),
            (tokens_in or 0) + (tokens_out or 0),
            outcome in SUCCESS_OUTCOMES,
        )
        by_agent[agent].append(run)
        for tool in {_tool_name(t) for t in tools or []}:
            by_tool[tool].append(run)
    return [_stat("agent", name, runs) for name, runs in _by_size(by_agent)] + [
        _stat("tool", name, runs) for name, runs in _by_size(by_tool)
    ]


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100): an observed latency, never an interpolated one."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def _tool_name(tool: Any) -> str:
    if isinstance(tool, dict):
        return str(tool.get("name") or tool.get("tool") or "?")
    return str(tool)


def _by_size(groups: dict[str, list[tuple[float, int, bool]]]) -> list[tuple[str, list[Any]]]:
    return sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))


def _stat(
    kind: Literal["agent", "tool"], name: str, runs: list[tuple[float, int, bool]]
) -> AgentStat:
    durations = [d for d, _, _ in runs]
    successes = sum(1 for _, _, ok in runs if ok)
    return AgentStat(
        kind=kind,
        name=name,
        runs=len(runs),
        successes=successes,
        success_rate=successes / len(runs),
        p50_ms=percentile(durations, 50),
        p95_ms=percentile(durations, 95),
        total_tokens=sum(t for _, t, _ in runs),
    )
