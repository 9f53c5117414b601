"""`viraltracker-bot discord sync`: the /viral commands registered globally or in one server."""

from __future__ import annotations

from typing import Any

import discord
import pytest
from pydantic import SecretStr

from adapters.discord import sync_commands
from tests.discord.conftest import unclosed_sessions
from tests.fakes.discord import DiscordFake, validate_command
from viraltracker_bot.config import Settings

STRING, SUBCOMMAND = 3, 1


def subcommands(payload: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    (viral,) = payload
    return {option["name"]: option for option in viral["options"]}


async def test_global_sync_registers_viral_with_documented_options(
    fake: DiscordFake, discord_settings: Settings
) -> None:
    registered = await sync_commands(discord_settings)

    (call,) = fake.calls_to("PUT", rf"^/applications/{fake.application_id}/commands$")
    assert call.authorization == f"Bot {fake.token}" and call.status == 200
    payload = call.json
    for command in payload:
        validate_command(command)  # Discord's own rules: names, lengths, option order and types
    (viral,) = payload
    assert viral["name"] == "viral" and viral["type"] == 1 and viral["description"]
    assert viral["contexts"] == [0]  # guild only: sessions live in server threads

    subs = subcommands(payload)
    assert set(subs) == {"ask", "export", "usage", "digest"}
    digest = subs.pop("digest")  # a subcommand group (type 2): /viral digest add|list|remove
    assert digest["type"] == 2
    assert {o["name"] for o in digest["options"]} == {"add", "list", "remove"}
    assert all(s["type"] == SUBCOMMAND and s["description"] for s in subs.values())

    (query,) = subs["ask"]["options"]
    assert query["name"] == "query" and query["type"] == STRING and query["required"] is True
    assert query["description"] and query["min_length"] == 1 and query["max_length"] <= 6000

    (fmt,) = subs["export"]["options"]
    assert fmt["name"] == "format" and fmt["type"] == STRING and fmt["required"] is True
    assert [c["value"] for c in fmt["choices"]] == ["csv", "json", "markdown"]
    assert all(c["name"] for c in fmt["choices"])

    assert subs["usage"].get("options", []) == []
    assert [c.name for c in registered] == ["viral"]
    assert fake.global_commands[0]["name"] == "viral"


async def test_guild_sync_registers_the_same_commands_in_one_server(
    fake: DiscordFake, discord_settings: Settings, guild_id: int
) -> None:
    await sync_commands(discord_settings, guild_id=guild_id)

    (call,) = fake.calls_to("PUT", rf"/guilds/{guild_id}/commands$")
    assert subcommands(call.json).keys() == {"ask", "export", "usage", "digest"}
    assert not fake.calls_to("PUT", rf"^/applications/{fake.application_id}/commands$")
    assert fake.guild_commands[guild_id][0]["guild_id"] == str(guild_id)


async def test_a_wrong_token_fails_the_sync_and_leaves_no_connection_open(
    fake: DiscordFake, discord_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = discord_settings.model_copy(update={"discord_token": SecretStr("not-the-token")})
    with pytest.raises(discord.LoginFailure):
        await sync_commands(wrong)
    assert not fake.calls_to("PUT", rf"^/applications/{fake.application_id}/commands$")
    assert not unclosed_sessions(caplog)
