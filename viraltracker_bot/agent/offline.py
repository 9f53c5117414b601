"""The offline router: a pydantic-ai FunctionModel that reads requests by keywords, no LLM needed.

It plays the model for every agent: as the orchestrator it picks specialists from the request's
platform words; as a specialist it calls its tools in order (fetch, analyse, export), filling
arguments by parameter name; then it answers with what the tools returned. So the same agents
and tools run end to end with no API key, and the replies say so.
"""

from __future__ import annotations

import math
import re
from typing import Any, NamedTuple

from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    RetryPromptPart,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.tools import ToolDefinition

from viraltracker_bot.agent.dependencies import BOUNDS, SEVERAL_PLATFORMS
from viraltracker_bot.agent.intent import Intent, parse_intent

OFFLINE_NOTE = (
    "_Offline router: no ANTHROPIC_API_KEY is set, so I read requests by keywords and answer "
    "from computed metrics._"
)
_CACHED = re.compile(
    r"^- cached (\w+): .*?(?:\(bounds: ([^)]*)\) )?\[(\w+): ([^\]]*)\]$", re.MULTILINE
)
DEFAULT_PLATFORMS = ("twitter", "tiktok", "youtube")
"""Searched when a request names a subject but no platform."""


def offline_router() -> FunctionModel:
    """The model used when no Anthropic key is configured."""
    return FunctionModel(_route_on_the_loop, model_name="offline-router")


async def _route_on_the_loop(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    """Routing takes microseconds: run it on the loop (a plain function would go to a thread)."""
    return route(messages, info)


def route(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    """Answer one model request of whichever agent is asking, told apart by the tools it offers."""
    prompt, results = _this_turn(messages)
    if any(t.name.startswith("handoff_to_") for t in info.output_tools):
        return _orchestrate(prompt, results, info)
    return _specialise(prompt, results, info)


def _words() -> dict[str, tuple[str, ...]]:
    from viraltracker_bot.agent import registry

    return registry.platform_words()


def _this_turn(
    messages: list[ModelMessage],
) -> tuple[str, list[ToolReturnPart | RetryPromptPart]]:
    """The latest user prompt and the tool results that came after it."""
    prompt, results = "", []
    for message in messages:
        if not isinstance(message, ModelRequest):
            continue
        for part in message.parts:
            if isinstance(part, UserPromptPart):
                prompt = part.content if isinstance(part.content, str) else str(part.content)
                results = []
            elif isinstance(part, ToolReturnPart | RetryPromptPart):
                results.append(part)
    return prompt, results


ASK_FOR_SUBJECT = (
    "Tell me what to look for: keywords, a #hashtag or an @account "
    "(or ask to export or analyse the results you already have)."
)


def _say(text: str) -> ModelResponse:
    return ModelResponse(parts=[TextPart(f"{text.strip()}\n\n{OFFLINE_NOTE}")])


def _call(name: str, args: dict[str, Any], step: int) -> ModelResponse:
    return ModelResponse(parts=[ToolCallPart(name, args, tool_call_id=f"offline-{step}")])


def _refused(result: ToolReturnPart | RetryPromptPart) -> bool:
    """A tool call that did not work: a retry part, or (pydantic-ai's newer form) a return
    whose outcome is 'retried' or 'failed', whose content is the error, not a result."""
    if isinstance(result, RetryPromptPart):
        return True
    return getattr(result, "outcome", "success") in ("retried", "failed")


def _failure(results: list[ToolReturnPart | RetryPromptPart]) -> str | None:
    retry = next((r for r in results if _refused(r)), None)
    if retry is None:
        return None
    detail = retry.content if isinstance(retry.content, str) else "the request did not fit the tool"
    return f"I couldn't do that: {detail}"


# --- the orchestrator's turn --------------------------------------------------------------------


class Cached(NamedTuple):
    """One cached result as the instructions list it (`ResultCache.summary_lines`)."""

    platform: str
    kind: str
    terms: list[str]
    bounds: dict[str, int | None]


def _cached(instructions: str | None) -> list[Cached]:
    """Each cached result, newest first, from the instructions."""
    found = []
    for name, bounds, kind, terms in _CACHED.findall(instructions or ""):
        split = [t.strip() for t in terms.split(";") if t.strip()]
        found.append(Cached(name, kind, split, _bounds(bounds)))
    return found


def _bounds(text: str) -> dict[str, int | None]:
    """'hours_back=72 min_views=none' -> {'hours_back': 72, 'min_views': None}."""
    pairs = (pair.split("=", 1) for pair in text.split() if "=" in pair)
    return {k: None if v == "none" else int(v) for k, v in pairs if k in BOUNDS}


def _narrowed(intent: Intent, previous: Cached) -> Intent:
    """A narrowing follow-up with the latest search's bounds where it sets none: "now only the
    last 3 days" after "cats over 500k views" still wants 500k+ views. A view or follower
    bound the search had none of is 0 ("any"), else the platform's viral default would apply."""
    if previous.kind not in ("search", "hashtag"):
        return intent
    kept: dict[str, int | None] = {}
    for name in BOUNDS:
        if getattr(intent, name) is not None or name not in previous.bounds:
            continue
        value = previous.bounds[name]
        if value is None and name in ("min_views", "max_followers"):
            value = 0
        kept[name] = value
    return intent.model_copy(update=kept)


def _subject_request(intent: Intent, cached: list[Cached]) -> str:
    """A request a specialist can act on; a follow-up borrows the latest search's subject."""
    if intent.has_subject or not cached:
        return intent.request_text()
    _, kind, terms, _ = cached[0]
    if kind == "hashtag":
        intent = intent.model_copy(update={"hashtags": terms})
        return intent.request_text(terms=[])
    if kind == "user":
        return intent.model_copy(update={"handles": terms}).request_text(terms=[])
    return intent.request_text(terms=terms)


def _digest_call(prompt: str, info: AgentInfo) -> ModelResponse | None:
    """'every weekday at 9am post ... here', 'list digests', 'remove digest 3': digest tools."""
    from viraltracker_bot.digests.tools import digest_command

    command = digest_command(prompt)
    offered = {t.name for t in info.output_tools}
    if command is None or not {"schedule_digest", "list_digests", "remove_digest"} <= offered:
        return None
    if command.action in ("pause", "resume"):
        return None  # answered before any model is asked (orchestrator.answer)
    if command.action == "list":
        return _call("list_digests", {}, 0)
    if command.action == "remove" and command.schedule_id is not None:
        return _call("remove_digest", {"schedule_id": command.schedule_id}, 0)
    return _call("schedule_digest", {"request": prompt}, 0)


def _orchestrate(
    prompt: str, results: list[ToolReturnPart | RetryPromptPart], info: AgentInfo
) -> ModelResponse:
    from viraltracker_bot.agent import registry

    if (failure := _failure(results)) is not None:
        return _say(failure)
    if (digest := _digest_call(prompt, info)) is not None:
        return digest
    intent = parse_intent(prompt, _words())
    cached = _cached(info.instructions)
    names = list(intent.agents)
    if intent.all_platforms:
        names = [e.name for e in registry.platform_entries()]
    elif not names and intent.has_subject and not (intent.follow_up or intent.wants_export):
        names = list(DEFAULT_PLATFORMS)
    analysis = None
    if intent.insights:
        analysis = "generate insights and recommendations from these results"
    elif intent.compare:
        analysis = "compare the platforms"
    elif intent.analyze and len(names) > 1:  # one platform's specialist analyses its own
        analysis = "what do the outliers share"
    if names and intent.wants_export and (len(names) > 1 or analysis):  # one file for all
        export = f"export the results as {intent.export_format or 'csv'}"
        analysis = f"{analysis}, then {export}" if analysis else export

    if names and (len(names) > 1 or analysis):
        if not (intent.has_subject or cached):  # "compare Twitter vs TikTok": about what?
            return _say(ASK_FOR_SUBJECT)
        request = _subject_request(intent, cached)
        tasks = [{"agent": name, "request": request} for name in names]
        args = {"tasks": tasks, "then_analyze": analysis, **_shared_filters(intent)}
        return _call("ask_specialists", args, 0)
    if names:
        return _call(f"handoff_to_{names[0]}", {"request": prompt}, 0)
    several = SEVERAL_PLATFORMS in (info.instructions or "")
    if intent.compare or intent.insights or intent.analyze or intent.chart:
        return _call("handoff_to_analysis", {"request": prompt}, 0)
    if several and intent.wants_export:  # "export those": every platform of the latest search
        return _call("handoff_to_analysis", {"request": prompt}, 0)
    # "only those from this week" says "those" too: it narrows, it does not point at a post
    pointing = intent.wants_export or intent.index is not None
    if cached and _refines(intent) and not pointing:
        return _search_again(intent, cached, info)
    if cached and _reranks(intent) and not pointing:  # "top 3 by likes": the cached results
        return _call("handoff_to_analysis", {"request": prompt}, 0)
    if cached and (intent.follow_up or intent.wants_export or intent.index):
        return _call(f"handoff_to_{cached[0].platform}", {"request": prompt}, 0)
    return _say(registry.capabilities_text())


def _search_again(intent: Intent, cached: list[Cached], info: AgentInfo) -> ModelResponse:
    """'Only the ones from this week': the latest search's subject and bounds again, with the
    ones the follow-up sets, on every platform that search covered, alike."""
    intent = _narrowed(intent, cached[0])
    request = _subject_request(intent, cached)
    latest = _latest_platforms(info.instructions) or [cached[0].platform]
    if len(latest) > 1:
        tasks = [{"agent": name, "request": request} for name in latest]
        return _call("ask_specialists", {"tasks": tasks, **_shared_filters(intent)}, 0)
    return _call(f"handoff_to_{latest[0]}", {"request": request}, 0)


def _latest_platforms(instructions: str | None) -> list[str]:
    """The platforms of the latest search, when it covered several (from the instructions)."""
    match = re.search(rf"^{re.escape(SEVERAL_PLATFORMS)}: (.+)$", instructions or "", re.MULTILINE)
    return [name.strip() for name in match.group(1).split(",")] if match else []


def _refines(intent: Intent) -> bool:
    """A request that only narrows the latest search: a window or a bound, no subject.

    A count alone ("top 3 by likes") is not searched again: the count is how many items a
    search fetches before its filters, so three fetched often left none that passed, and the
    thread's next "export those" then found nothing to export. It re-ranks the cached
    results instead (`_reranks`).
    """
    bounds = (intent.hours_back, intent.min_views, intent.min_likes, intent.max_followers)
    return not intent.has_subject and any(b is not None for b in bounds)


def _reranks(intent: Intent) -> bool:
    """A request that only re-ranks or cuts the latest results: a count or a ranking, no
    subject, no bound ("top 3 by likes", "just the top 5"). It lists the cached results again
    (rank_results) instead of a new paid search, which fetched only that many before its
    filters and often kept none."""
    ranking = intent.limit is not None or intent.sort is not None
    wishes = intent.compare or intent.insights or intent.analyze or intent.chart
    return ranking and not (intent.has_subject or _refines(intent) or wishes)


def _shared_filters(intent: Intent) -> dict[str, Any]:
    """The filters the request sets for every platform; left out, the orchestrator's defaults."""
    values = {
        "hours_back": intent.hours_back,
        "limit": intent.limit,
        "min_views": intent.min_views,
        "max_followers": intent.max_followers,
        "viral": intent.viral or None,
        "micro_creators": intent.micro or None,
    }
    return {name: value for name, value in values.items() if value is not None}


# --- a specialist's turn -----------------------------------------------------------------------


def _specialise(
    prompt: str, results: list[ToolReturnPart | RetryPromptPart], info: AgentInfo
) -> ModelResponse:
    if (failure := _failure(results)) is not None:
        return _say("\n\n".join([*_contents(results), failure]))
    intent = parse_intent(prompt, _words())
    tools = {t.name: t for t in info.function_tools}
    plan = _plan(intent, tools)
    if len(results) < len(plan):
        name = plan[len(results)]
        return _call(name, _arguments(tools[name], intent), len(results))
    if plan:
        notes = _unapplied(intent, tools, plan)
        return _say("\n\n".join([*_contents(results), *notes]))
    return _say(ASK_FOR_SUBJECT)


def _unapplied(intent: Intent, tools: dict[str, ToolDefinition], plan: list[str]) -> list[str]:
    """What the request asked for that the tool that fetched could not apply, said plainly:
    silently left out, 'over 10k likes' would read as done."""
    fetched = next((tools[name] for name in plan if _is_fetch(name)), None)
    if fetched is None or not intent.min_likes:
        return []
    if "min_likes" in fetched.parameters_json_schema.get("properties", {}):
        return []
    return [
        f"Not applied: over {intent.min_likes:,} likes. This search cannot filter by likes "
        '(only Twitter/X searches can); ask "top 10 by likes" to rank these by likes instead.'
    ]


def _is_fetch(name: str) -> bool:
    return name.startswith(("search_", "scrape_", "get_top_"))


def _contents(results: list[ToolReturnPart | RetryPromptPart]) -> list[str]:
    return [r.model_response_str() for r in results if not _refused(r)]


def _first(tools: dict[str, ToolDefinition], test: Any) -> str | None:
    return next((name for name in tools if test(name)), None)


def _plan(intent: Intent, tools: dict[str, ToolDefinition]) -> list[str]:
    """Which tools to call, in order: fetch something, then analyse it, then export it."""
    if "compare_platforms" in tools:  # the analysis specialist: analyse, export, or both
        exporting = intent.wants_export and "export_results" in tools
        plan = []
        if _reranks(intent) and not exporting and "rank_results" in tools:
            plan.append("rank_results")
        elif intent.insights:
            plan.append("generate_insights")
        elif intent.compare:
            plan.append("compare_platforms")
        elif intent.analyze or not exporting:
            plan.append("analyze_viral_content")
        return plan + (["export_results"] if exporting else [])
    plan: list[str] = []
    fetch = _fetch_tool(intent, tools)
    if fetch:
        plan.append(fetch)
    # "tiktok #2" (the answer to "which #2?"): a pointer into the results is a wish to explain
    pointing = intent.index is not None and not (intent.has_subject or intent.wants_export)
    if intent.analyze or pointing:
        single = _first(tools, lambda n: n.startswith("analyze_") and not n.endswith("_batch"))
        batch = _first(tools, lambda n: n.startswith("analyze_") and n.endswith("_batch"))
        pick = single if (intent.index or intent.urls or not batch) else batch
        if pick:
            plan.append(pick)
    if intent.wants_export and (export := _first(tools, lambda n: n.startswith("export_"))):
        plan.append(export)
    return plan


def _fetch_tool(intent: Intent, tools: dict[str, ToolDefinition]) -> str | None:
    stored = _first(tools, lambda n: n.startswith("get_top_"))
    if intent.from_database and stored:
        return stored
    if intent.handles:
        found = _first(tools, lambda n: n.endswith("_user") or n.endswith("_page_ads"))
        if found:
            return found
    if intent.hashtags and (tagged := _first(tools, lambda n: "hashtag" in n)):
        return tagged
    searching = intent.terms or intent.hashtags or intent.handles
    fresh = intent.analyze or intent.wants_export or intent.index is not None  # on the cache
    if searching or (intent.urls and not intent.analyze):
        return _first(tools, lambda n: n.startswith("search_") and "hashtag" not in n)
    if not fresh and stored:
        return stored  # "top tweets this week": what is stored already
    return None


def _arguments(tool: ToolDefinition, intent: Intent) -> dict[str, Any]:
    """Fill a tool's parameters, by name, from what the request said; defaults for the rest."""
    properties: dict[str, Any] = tool.parameters_json_schema.get("properties", {})
    days = math.ceil(intent.hours_back / 24) if intent.hours_back else None
    subject = intent.terms or intent.hashtags or intent.handles or intent.urls
    values: dict[str, Any] = {
        "keywords": ", ".join(intent.urls[:1] or subject),
        "keyword_or_url": (intent.urls or subject or [None])[0],
        "keyword": (intent.terms or [None])[0],
        "hashtag": ", ".join(intent.hashtags or intent.terms),
        "handle": (intent.handles or [None])[0],
        "username": (intent.handles or [None])[0],
        "page": (intent.handles or intent.urls or intent.terms or [None])[0],
        "hours_back": intent.hours_back,
        "max_days": days,
        "days_back": days,
        "limit": intent.limit,
        "count": intent.limit,
        "max_shorts": intent.limit,
        "min_views": intent.min_views,
        "min_likes": intent.min_likes,
        "max_followers": intent.max_followers,
        "max_subscribers": intent.max_followers,
        "format": intent.export_format or "csv",
        "index": intent.index,
        "url": (intent.urls or [None])[0],
        "sort": intent.sort,
        "viral": intent.viral or None,
        "active_status": "active" if intent.active_only else None,
        "country": intent.country,
        "period": f"last{days}d" if days else None,
    }
    args = {}
    for name, schema in properties.items():
        value = values.get(name)
        if value in (None, ""):
            continue
        if isinstance(value, int) and not isinstance(value, bool):
            value = _bounded(value, schema)
        allowed = _enum(schema)
        if allowed is not None and value not in allowed:
            value = _nearest_period(value, allowed) if name == "period" else None
        if value is not None:
            args[name] = value
    return args


def _bounded(value: int, schema: dict[str, Any]) -> int:
    """A number within the parameter's bounds ('the last 6 months' for a tool that looks back
    90 days at most: 90 days): the search runs, and its description shows the window used."""
    for option in [schema, *schema.get("anyOf", [])]:
        if option.get("type") == "integer":
            value = min(value, option.get("maximum", value))
            value = max(value, option.get("minimum", value))
    return value


def _enum(schema: dict[str, Any]) -> list[Any] | None:
    if "enum" in schema:
        return list(schema["enum"])
    for option in schema.get("anyOf", []):
        if "enum" in option:
            return list(option["enum"])
    return None


def _nearest_period(value: str, allowed: list[Any]) -> str | None:
    """'last10d' -> the shortest offered period that covers it ('last14d'); longer than all
    of them, any time ("") when offered, as `facebook.period_covering` does."""
    wanted = int(re.sub(r"\D", "", value) or 0)
    spans = sorted(
        (int(re.sub(r"\D", "", p)), p)
        for p in allowed
        if isinstance(p, str) and p.startswith("last")
    )
    longest = "" if "" in allowed else (spans[-1][1] if spans else None)
    return next((p for days, p in spans if days >= wanted), longest)
