"""Which model runs: Anthropic with the configured key, the offline router without one."""

from __future__ import annotations

import pytest
from pydantic_ai.models.anthropic import AnthropicModel

from viraltracker_bot.agent.models import build_model
from viraltracker_bot.config import Settings


def test_anthropic_gets_the_key_from_settings_not_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "from-the-environment")
    settings = Settings(_env_file=None, anthropic_api_key="from-settings")  # type: ignore[call-arg]

    model = build_model(settings)

    assert isinstance(model, AnthropicModel)
    assert model.model_name == "claude-sonnet-4-5"
    assert model.client.api_key == "from-settings"


def test_without_a_key_the_offline_router_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]

    assert settings.offline_model
    assert build_model(settings).model_name == "offline-router"
