"""The seed's import path: `from viraltracker_bot.agent.agent import agent` is the orchestrator."""

from __future__ import annotations

from viraltracker_bot.agent.dependencies import AgentDependencies, ResultCache
from viraltracker_bot.agent.orchestrator import answer, orchestrator

agent = orchestrator
"""`await agent.run(prompt, deps=deps)` routes to the specialists as the one-agent design did."""

__all__ = ["AgentDependencies", "ResultCache", "agent", "answer"]
