"""Agent runs are stored with the answer's session, and never at the answer's expense."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import select

from tests.agent.support import Script, call, echo, message
from viraltracker_bot.agent import session as agent_session
from viraltracker_bot.storage.database import Database
from viraltracker_bot.storage.sessions import load_session
from viraltracker_bot.storage.tables import AgentRunRow

SEARCH = {"twitter": [call("search_twitter", {"keywords": "bitcoin"}), echo()]}


async def _runs(db: Database) -> list[AgentRunRow]:
    async with db.sessions() as session:
        return list((await session.execute(select(AgentRunRow))).scalars())


async def test_runs_the_database_refuses_leave_the_answer_and_its_session_saved(
    make_conversation, db: Database, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    real_rows = agent_session._run_rows

    def refused(*args: Any) -> list[dict[str, Any]]:
        return [{**row, "agent": None} for row in real_rows(*args)]  # NOT NULL: refused

    monkeypatch.setattr(agent_session, "_run_rows", refused)
    conversation = make_conversation(Script(SEARCH).model)

    with caplog.at_level(logging.ERROR):
        reply = await conversation.handle(message("bitcoin tweets"))

    assert not reply.error and "bitcoin" in reply.text
    async with db.sessions() as session:
        row = await load_session(session, message("").key.as_string())
    assert row is not None and row.turns == 1 and row.result_cache["last_twitter_query"]
    assert await _runs(db) == []
    assert "could not record 1 agent runs" in caplog.text

    monkeypatch.setattr(agent_session, "_run_rows", real_rows)
    again = await make_conversation(Script(SEARCH).model).handle(message("bitcoin tweets"))

    assert not again.error
    assert [r.agent for r in await _runs(db)] == ["twitter"]
