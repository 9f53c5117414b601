"""The orchestrator: routes a request to one specialist, or to several at once, from the catalog.

Routing tools are output functions, so a specialist's answer is the run's output: the user gets it
without another orchestrator round trip. Several platforms run concurrently in `ask_specialists`.
A request that plainly names one platform skips the orchestrator's model call (`pre_route`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field
from pydantic_ai import ModelRetry, RunContext, ToolOutput
from pydantic_ai.messages import ModelMessage
from pydantic_ai.usage import RunUsage

from viraltracker_bot.agent import registry
from viraltracker_bot.agent.dependencies import AgentDependencies, ResultCache
from viraltracker_bot.agent.intent import parse_intent
from viraltracker_bot.agent.models import new_agent
from viraltracker_bot.agent.offline import OFFLINE_NOTE
from viraltracker_bot.agent.registry import AgentEntry
from viraltracker_bot.agent.runs import run_recorded
from viraltracker_bot.digests.tools import DigestChat, digest_command, digest_outputs
from viraltracker_bot.platforms.errors import PlatformError

INSTRUCTIONS = f"""\
You are the front desk of a bot that finds and analyses viral social media content for content
teams. You never search yourself: you hand each request to the right specialist.
- One platform, or a follow-up on one platform's results: call handoff_to_<name>.
- Several platforms ("compare X on twitter and tiktok", "everywhere"): call ask_specialists once
  with one task per platform; set then_analyze when the user wants a comparison or insights.
- Analysis of results already fetched: handoff_to_analysis.
- Recurring posts ("every weekday at 9am post the top TikToks about X here"), listing or
  removing them: schedule_digest, list_digests, remove_digest.
- Greetings and questions about what you can do: answer in text, briefly.
Restate the request fully for a specialist: it does not see this conversation's history, only
its cached results. The specialists are:
{chr(10).join(f"- {e.name}: {e.description}" for e in registry.CATALOG)}"""


async def delegate(
    entry: AgentEntry, request: str, deps: AgentDependencies, usage: RunUsage | None
) -> str:
    """Run one specialist on the message's dependencies, counting its usage with the rest."""
    await deps.progress(entry.progress)
    return str(await run_recorded(entry.agent, request, deps, usage=usage))


def _handoff(entry: AgentEntry) -> ToolOutput[str]:
    async def handoff(ctx: RunContext[AgentDependencies], request: str) -> str:
        return await delegate(entry, request, ctx.deps, ctx.usage)

    handoff.__doc__ = """Args:
        request: the user's request restated in full for the specialist."""
    return ToolOutput(
        handoff,
        name=f"handoff_to_{entry.name}",
        description=f"{entry.description} Its answer goes to the user as is.",
    )


SpecialistName = Literal[tuple(registry.names())]  # type: ignore[valid-type]
"""The catalog's names, so the model's schema offers exactly these."""


class SpecialistTask(BaseModel):
    """One specialist's share of a multi-platform request."""

    agent: SpecialistName  # type: ignore[valid-type]
    request: str = Field(description="what this specialist should do, in full")


def _merge(sections: Sequence[tuple[str, str]]) -> str:
    """Sections under headings; the offline router's note once at the end, not per section."""
    offline = any(OFFLINE_NOTE in body for _, body in sections)
    parts = [f"*{title}*\n{body.replace(OFFLINE_NOTE, '').strip()}" for title, body in sections]
    return "\n\n".join(parts) + (f"\n\n{OFFLINE_NOTE}" if offline else "")


async def fan_out(
    tasks: Sequence[SpecialistTask],
    deps: AgentDependencies,
    usage: RunUsage | None,
    then_analyze: str | None = None,
) -> str:
    """Run the specialists concurrently (wall time near the slowest, not the sum), then the
    analysis specialist on what they cached. A platform that fails is reported, not fatal."""
    entries = [registry.entry(t.agent) for t in tasks]
    outcomes = await asyncio.gather(
        *(delegate(e, t.request, deps, usage) for e, t in zip(entries, tasks, strict=True)),
        return_exceptions=True,
    )
    sections: list[tuple[str, str]] = []
    for e, outcome in zip(entries, outcomes, strict=True):
        title = e.platform.label if e.platform else e.name.capitalize()
        if isinstance(outcome, PlatformError):
            sections.append((title, f"Could not get results: {outcome.message}"))
        elif isinstance(outcome, BaseException):
            raise outcome
        else:
            sections.append((title, str(outcome)))
    failures = [o for o in outcomes if isinstance(o, PlatformError)]
    if failures and len(failures) == len(outcomes):
        raise failures[0]
    if then_analyze:
        analysis = registry.entry("analysis")
        sections.append(("Analysis", await delegate(analysis, then_analyze, deps, usage)))
    return _merge(sections)


async def ask_specialists(
    ctx: RunContext[AgentDependencies],
    tasks: list[SpecialistTask],
    then_analyze: str | None = None,
) -> str:
    """Several specialists at once, for requests that span platforms; their answers are combined.

    Args:
        tasks: one task per specialist; they run at the same time.
        then_analyze: afterwards, ask the analysis specialist this (e.g. "compare the platforms").
    """
    if not tasks:
        raise ModelRetry("Give at least one task.")
    return await fan_out(tasks, ctx.deps, ctx.usage, then_analyze)


orchestrator = new_agent(
    "orchestrator",
    INSTRUCTIONS,
    output_type=[
        *(_handoff(e) for e in registry.CATALOG),
        ToolOutput(ask_specialists, name="ask_specialists"),
        *digest_outputs(),
        str,
    ],
)


def pre_route(text: str, cache: ResultCache | None = None) -> AgentEntry | None:
    """The one specialist a request plainly concerns, when no model is needed to decide:
    it names exactly one platform, or it exports or points into ("#2") the latest results."""
    intent = parse_intent(text, registry.platform_words())
    if intent.compare or intent.insights or intent.all_platforms:
        return None
    if len(intent.agents) == 1:
        return registry.entry(intent.agents[0])
    follow_up = intent.wants_export or (intent.index is not None and not intent.has_subject)
    if not intent.agents and follow_up and cache is not None:
        latest = next(iter(cache.filled()), None)
        return registry.entry_for(latest) if latest is not None else None
    return None


async def answer(
    prompt: str,
    deps: AgentDependencies,
    message_history: Sequence[ModelMessage] | None = None,
) -> str:
    """One message's answer: straight to the named specialist, or through the orchestrator."""
    usage = RunUsage()
    digest = digest_command(prompt)
    if digest is not None and digest.action in ("pause", "resume"):
        return await digest.run(DigestChat.from_deps(deps))  # nothing for a model to decide
    # A digest request names platforms too ("post the top TikToks ..."): the orchestrator's
    # digest tools take it, not the platform's specialist.
    entry = None if digest is not None else pre_route(prompt, deps.result_cache)
    if entry is not None:
        return await delegate(entry, prompt, deps, usage)
    output: Any = await run_recorded(
        orchestrator, prompt, deps, usage=usage, message_history=message_history
    )
    return str(output)
