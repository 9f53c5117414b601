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
from viraltracker_bot.agent.agents.toolkit import ad_line, post_line
from viraltracker_bot.agent.dependencies import (
    AgentDependencies,
    CachedResult,
    ResultCache,
    SharedFilters,
)
from viraltracker_bot.agent.intent import parse_intent
from viraltracker_bot.agent.models import new_agent
from viraltracker_bot.agent.offline import OFFLINE_NOTE
from viraltracker_bot.agent.registry import AgentEntry
from viraltracker_bot.agent.runs import run_recorded
from viraltracker_bot.digests.tools import DigestChat, digest_command, digest_outputs
from viraltracker_bot.platforms.errors import PlatformError
from viraltracker_bot.platforms.models import Platform

INSTRUCTIONS = f"""\
You are the front desk of a bot that finds and analyses viral social media content for content
teams. You never search yourself: you hand each request to the right specialist.
- One platform, or a follow-up on one platform's results: call handoff_to_<name>.
- Several platforms ("compare X on twitter and tiktok", "everywhere"): call ask_specialists once
  with one task per platform; set then_analyze when the user wants a comparison or insights.
  Every platform is then searched with the same filters, which you set there (not in the
  tasks): a window, and view or follower minimums only when the user asked for them.
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


def _merge(sections: Sequence[tuple[str, str]], lead: str | None = None) -> str:
    """Sections under headings; the offline router's note once at the end, not per section."""
    offline = any(OFFLINE_NOTE in body for _, body in sections)
    parts = [f"*{title}*\n{body.replace(OFFLINE_NOTE, '').strip()}" for title, body in sections]
    text = "\n\n".join(([lead] if lead else []) + parts)
    return text + (f"\n\n{OFFLINE_NOTE}" if offline else "")


DEFAULT_WINDOW_H = 168
"""A multi-platform search's window when the user names none: a week suits every platform
(a day is too short for videos, TikTok's ten days too long for tweets)."""


def shared_filters(
    deps: AgentDependencies,
    platforms: Sequence[str],
    comparing: bool,
    *,
    hours_back: int | None = None,
    limit: int | None = None,
    min_views: int | None = None,
    max_followers: int | None = None,
    viral: bool = False,
    micro_creators: bool = False,
) -> SharedFilters:
    """The filters every platform of the request is searched with. What the user did not set
    comes from the results it is compared with ("now compare with TikTok" after a Twitter
    search), else a week, 50 posts each and no minimums: viral filters only when asked for."""
    base = None
    if comparing and len(platforms) == 1:
        base = next(
            (r.query for p, r in deps.result_cache.filled().items() if p.value not in platforms),
            None,
        )
    settings = deps.settings
    if viral and min_views is None:
        min_views = settings.viral_min_views
    if micro_creators and max_followers is None:
        max_followers = settings.micro_max_followers
    explicit = viral or micro_creators or min_views is not None or max_followers is not None
    return SharedFilters(
        hours_back=hours_back or (base.hours_back if base else None) or DEFAULT_WINDOW_H,
        limit=limit or (base.limit if base else 50),
        min_views=min_views if explicit or base is None else base.min_views,
        max_followers=max_followers if explicit or base is None else base.max_followers,
    )


async def fan_out(
    tasks: Sequence[SpecialistTask],
    deps: AgentDependencies,
    usage: RunUsage | None,
    then_analyze: str | None = None,
    filters: SharedFilters | None = None,
) -> str:
    """Run the specialists concurrently (wall time near the slowest, not the sum), each
    searching with the same `filters`, then the analysis specialist on what they cached.
    A platform that fails is reported, not fatal."""
    entries = [registry.entry(t.agent) for t in tasks]
    before, deps.shared_filters = deps.shared_filters, filters
    try:
        outcomes = await asyncio.gather(
            *(delegate(e, t.request, deps, usage) for e, t in zip(entries, tasks, strict=True)),
            return_exceptions=True,
        )
    finally:
        deps.shared_filters = before
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
    lead = None
    if filters is not None:
        alike = "on every platform" if len(tasks) > 1 else "as the results it is compared with"
        lead = f"Searched with the same filters {alike}: {filters.describe()}."
    return _merge(sections, lead)


async def ask_specialists(
    ctx: RunContext[AgentDependencies],
    tasks: list[SpecialistTask],
    then_analyze: str | None = None,
    hours_back: int | None = None,
    limit: int | None = None,
    min_views: int | None = None,
    max_followers: int | None = None,
    viral: bool = False,
    micro_creators: bool = False,
) -> str:
    """Several specialists at once, for requests that span platforms; their answers are combined.
    Every platform is searched with the same filters (set here, not in the tasks), so the
    results compare like for like.

    Args:
        tasks: one task per specialist; they run at the same time.
        then_analyze: afterwards, ask the analysis specialist this (e.g. "compare the platforms").
        hours_back: the window for every platform, in hours (default 168, a week).
        limit: posts per platform (default 50).
        min_views: a view minimum, only if the user gave one ("100k+ views").
        max_followers: an author follower maximum, only if the user gave one.
        viral: the user asked for viral/trending posts: the viral view minimum (100K) everywhere.
        micro_creators: the user asked for micro-influencers / small creators (<= 50K followers).
    """
    if not tasks:
        raise ModelRetry("Give at least one task.")
    if len(tasks) == 1 and then_analyze is None:  # one platform, nothing to line up with
        return await fan_out(tasks, ctx.deps, ctx.usage)
    filters = shared_filters(
        ctx.deps,
        [t.agent for t in tasks],
        then_analyze is not None,
        hours_back=hours_back,
        limit=limit,
        min_views=min_views,
        max_followers=max_followers,
        viral=viral,
        micro_creators=micro_creators,
    )
    return await fan_out(tasks, ctx.deps, ctx.usage, then_analyze, filters)


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
        if intent.wants_export and len(cache.shown_last()) > 1:
            return registry.entry("analysis")  # "export those": every platform shown last
        if intent.index is not None and not intent.wants_export:
            shown = numbered(cache, intent.index)
            if len(shown) > 1:
                return None  # several lists had a #2: `answer` asks which (which_list)
            if shown:
                return registry.entry_for(next(iter(shown)))
        latest = next(iter(cache.filled()), None)
        return registry.entry_for(latest) if latest is not None else None
    return None


def numbered(cache: ResultCache, index: int) -> dict[Platform, CachedResult]:
    """The lists of the latest search that showed an item `index`, in platform order. A reply
    covering several platforms numbers each platform's list from 1, so "#2" is in each."""
    latest = cache.latest_turn()
    return {p: latest[p] for p in Platform if p in latest and latest[p].count >= index}


def which_list(text: str, cache: ResultCache) -> str | None:
    """A question back when "#2" names no platform and the latest reply listed several, each
    from 1: guessing would explain a post the user did not mean. Shows each candidate."""
    if len(cache.latest_turn()) < 2:
        return None
    intent = parse_intent(text, registry.platform_words())
    index = intent.index
    if index is None or intent.agents or intent.has_subject or intent.wants_export:
        return None
    if intent.compare or intent.insights or intent.all_platforms:
        return None
    shown = numbered(cache, index)
    if len(shown) < 2:
        return None
    lines = [f"The last results numbered each platform's list from 1: which #{index}?"]
    for platform, cached in shown.items():
        item = (
            post_line(index, cached.posts[index - 1])
            if cached.posts
            else ad_line(index, cached.ads[index - 1])
        )
        lines.append(f"• *{platform.label}* {item}")
    names = [entry.name for p in shown if (entry := registry.entry_for(p)) is not None]
    examples = " or ".join(f"“{name} #{index}”" for name in names)
    lines.append(f"Name the platform, e.g. {examples}.")
    return "\n".join(lines)


async def answer(
    prompt: str,
    deps: AgentDependencies,
    message_history: Sequence[ModelMessage] | None = None,
) -> str:
    """One message's answer: straight to the named specialist, or through the orchestrator."""
    usage = RunUsage()
    deps.result_cache.begin_turn()
    digest = digest_command(prompt)
    if digest is not None and digest.action in ("pause", "resume"):
        return await digest.run(DigestChat.from_deps(deps))  # nothing for a model to decide
    # A digest request names platforms too ("post the top TikToks ..."): the orchestrator's
    # digest tools take it, not the platform's specialist.
    if digest is None and (question := which_list(prompt, deps.result_cache)) is not None:
        return question  # "#2" after a multi-platform reply: whose #2?
    entry = None if digest is not None else pre_route(prompt, deps.result_cache)
    if entry is not None:
        return await delegate(entry, prompt, deps, usage)
    output: Any = await run_recorded(
        orchestrator, prompt, deps, usage=usage, message_history=message_history
    )
    return str(output)
