"""Scripted models and fixtures shared by the agent and conversation tests.

A `Script` is a pydantic-ai FunctionModel function that plays each agent from a list of
responses: the agent is told apart by the tools it offers, and the step by how many responses
it has given since the run's prompt. So concurrent specialists each follow their own script.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
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

from tests.fakes.apify import ApifyFake
from viraltracker_bot.agent.dependencies import AgentDependencies, ResultCache
from viraltracker_bot.config import Settings
from viraltracker_bot.conversation import Conversation, ConversationKey, IncomingMessage
from viraltracker_bot.platforms.service import PlatformServices
from viraltracker_bot.storage.database import Database

MARKER_TOOLS = {
    "search_twitter": "twitter",
    "search_tiktok": "tiktok",
    "search_youtube": "youtube",
    "search_facebook_ads": "facebook",
    "compare_platforms": "analysis",
}
_ids = itertools.count(1)

Step = ModelResponse | Callable[[list[ModelMessage], AgentInfo], ModelResponse]


def call(tool: str, args: dict[str, Any] | str | None = None) -> ModelResponse:
    """A response that calls one tool."""
    return ModelResponse(parts=[ToolCallPart(tool, args or {}, tool_call_id=f"c{next(_ids)}")])


def calls(*pairs: tuple[str, dict[str, Any]]) -> ModelResponse:
    """A response that calls several tools at once."""
    return ModelResponse(
        parts=[ToolCallPart(n, a, tool_call_id=f"c{next(_ids)}") for n, a in pairs]
    )


def text(content: str) -> ModelResponse:
    return ModelResponse(parts=[TextPart(content)])


def echo(prefix: str = "") -> Step:
    """A final answer made of what the run's tools returned (what a model would summarise)."""

    def answer(messages: list[ModelMessage], _info: AgentInfo) -> ModelResponse:
        returns = [r.model_response_str() for r in turn_results(messages)]
        return text(prefix + "\n".join(returns))

    return answer


def agent_of(info: AgentInfo) -> str:
    """Which agent is asking: the orchestrator offers handoffs, specialists their marker tool."""
    if any(t.name.startswith("handoff_to_") for t in info.output_tools):
        return "orchestrator"
    names = {t.name for t in info.function_tools}
    for tool, agent in MARKER_TOOLS.items():
        if tool in names:
            return agent
    return "monolith" if len(names) > 8 else "unknown"


def turn_results(messages: list[ModelMessage]) -> list[ToolReturnPart | RetryPromptPart]:
    results: list[ToolReturnPart | RetryPromptPart] = []
    for message in messages:
        if isinstance(message, ModelRequest):
            for part in message.parts:
                if isinstance(part, UserPromptPart):
                    results = []
                elif isinstance(part, ToolReturnPart | RetryPromptPart):
                    results.append(part)
    return results


def _step(messages: list[ModelMessage]) -> int:
    """Responses given since the latest user prompt: where in its script this run is."""
    step = 0
    for message in messages:
        if isinstance(message, ModelRequest) and any(
            isinstance(p, UserPromptPart) for p in message.parts
        ):
            step = 0
        elif isinstance(message, ModelResponse):
            step += 1
    return step


@dataclass
class Script:
    """Responses per agent; `requests` logs (agent, step) of every model request."""

    steps: dict[str, list[Step]]
    requests: list[tuple[str, int]] = field(default_factory=list)
    prompts: list[tuple[str, str]] = field(default_factory=list)

    def __call__(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        agent = agent_of(info)
        step = _step(messages)
        self.requests.append((agent, step))
        prompt = next(
            (
                p.content
                for m in reversed(messages)
                if isinstance(m, ModelRequest)
                for p in m.parts
                if isinstance(p, UserPromptPart)
            ),
            "",
        )
        self.prompts.append((agent, str(prompt)))
        script = self.steps.get(agent)
        if script is None:
            raise AssertionError(f"the {agent} agent was not expected to be asked")
        if step >= len(script):
            raise AssertionError(f"the {agent} agent asked beyond its script (step {step})")
        response = script[step]
        return response(messages, info) if callable(response) else response

    @property
    def model(self) -> FunctionModel:
        return FunctionModel(self, model_name="script")

    def count(self, agent: str) -> int:
        return sum(1 for a, _ in self.requests if a == agent)


def live_settings_for(base: Settings, fake: ApifyFake, **overrides: Any) -> Settings:
    """Live mode against the Apify fake (no Anthropic key), small retries."""
    fields: dict[str, Any] = {
        "database_url": base.database_url,
        "export_dir": base.export_dir,
        "apify_token": fake.token,
        "apify_api_base_url": fake.url,
        "apify_max_retries": 2,
        "apify_retry_base_delay_s": 0.01,
        "apify_run_timeout_s": 30,
    }
    fields.update(overrides)
    return Settings(_env_file=None, **fields)  # type: ignore[call-arg]


@pytest.fixture
async def apify() -> AsyncIterator[ApifyFake]:
    async with ApifyFake() as fake:
        yield fake


@pytest.fixture
def live_settings(settings: Settings, apify: ApifyFake) -> Settings:
    return live_settings_for(settings, apify)


@pytest.fixture
async def services(live_settings: Settings, db: Database) -> AsyncIterator[PlatformServices]:
    service = PlatformServices(live_settings, db)
    try:
        yield service
    finally:
        await service.close()


@pytest.fixture
def make_deps(
    live_settings: Settings, services: PlatformServices, db: Database
) -> Callable[..., AgentDependencies]:
    def make(model: Any, cache: ResultCache | None = None, **kw: Any) -> AgentDependencies:
        return AgentDependencies.for_message(
            kw.pop("settings", live_settings),
            services,
            db,
            model=model,
            result_cache=cache,
            **kw,
        )

    return make


@pytest.fixture
def make_conversation(
    live_settings: Settings, services: PlatformServices, db: Database
) -> Callable[..., Conversation]:
    def make(model: Any, settings: Settings | None = None) -> Conversation:
        return Conversation(settings or live_settings, db, services, model=model)

    return make


def message(text: str, thread: str = "t1", channel: str = "C1") -> IncomingMessage:
    key = ConversationKey(platform="slack", workspace="T1", channel=channel, thread=thread)
    return IncomingMessage(key=key, user="U1", text=text)
