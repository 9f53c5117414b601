"""Which model runs the agents: Anthropic when a key is set, the offline router when not."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic_ai import Agent, RunContext
from pydantic_ai.capabilities.select_model import SelectModel
from pydantic_ai.models import Model, ModelSelectionContext, infer_model

from viraltracker_bot.agent.dependencies import AgentDependencies
from viraltracker_bot.agent.untrusted import UNTRUSTED_RULE
from viraltracker_bot.config import Settings


def build_model(settings: Settings) -> Model:
    """The model for this process: the key is passed explicitly, never read from the environment."""
    if settings.offline_model:
        from viraltracker_bot.agent.offline import offline_router

        return offline_router()
    if settings.model.startswith("anthropic:") and settings.anthropic_api_key is not None:
        from pydantic_ai.models.anthropic import AnthropicModel
        from pydantic_ai.providers.anthropic import AnthropicProvider

        provider = AnthropicProvider(api_key=settings.anthropic_api_key.get_secret_value())
        return AnthropicModel(settings.model.removeprefix("anthropic:"), provider=provider)
    return infer_model(settings.model)


def _model_of_this_message(ctx: ModelSelectionContext[AgentDependencies]) -> Model:
    """Every agent runs on the model its dependencies carry, so one process can serve tests,
    the offline router and Anthropic side by side."""
    return ctx.deps.model


async def _cache_summary(ctx: RunContext[AgentDependencies]) -> str:
    lines = ctx.deps.result_cache.summary_lines()
    if not lines:
        return "Results in this conversation: none yet."
    return "Results in this conversation (newest first):\n" + "\n".join(lines)


def new_agent(
    name: str,
    instructions: str,
    *,
    output_type: Any = str,
    tools: Sequence[Any] = (),
    retries: int = 2,
) -> Agent[AgentDependencies, Any]:
    """An agent of this product: typed deps, the message's model, and the cache in its prompt."""
    agent: Agent[AgentDependencies, Any] = Agent(
        None,
        name=name,
        deps_type=AgentDependencies,
        instructions=[instructions, UNTRUSTED_RULE, _cache_summary],
        output_type=output_type,
        tools=tools,
        retries=retries,
        capabilities=[SelectModel(_model_of_this_message)],
    )
    return agent
