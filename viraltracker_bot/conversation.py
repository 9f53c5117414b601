"""The one door into the core: conversation keys, messages, replies and the Conversation service."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from pydantic_ai.models import Model
    from sqlalchemy.ext.asyncio import AsyncSession

    from viraltracker_bot.agent.dependencies import AgentDependencies
    from viraltracker_bot.config import Settings
    from viraltracker_bot.platforms.service import PlatformServices
    from viraltracker_bot.storage.database import Database

ChatPlatform = Literal["slack", "discord", "console"]

log = logging.getLogger(__name__)


class ConversationKey(BaseModel):
    """One chat thread: a Slack thread, a Discord thread, or a console session."""

    model_config = ConfigDict(frozen=True)

    platform: ChatPlatform
    workspace: str = ""
    channel: str = ""
    thread: str = ""

    def as_string(self) -> str:
        """The stable database key of the session."""
        return f"{self.platform}:{self.workspace}:{self.channel}:{self.thread}"


class IncomingMessage(BaseModel):
    """A user's message, as the adapter received it."""

    key: ConversationKey
    user: str
    text: str
    event_id: str | None = Field(None, description="the platform's id, for exactly-once replies")
    lease_owner: str | None = Field(
        None,
        description="the inbox lease this message is worked under: its answer is saved (and "
        "the message marked answered) only while that lease is still held",
    )


class Reply(BaseModel):
    """What the bot answers: Markdown-ish text plus files to attach (exports, charts)."""

    text: str
    files: list[Path] = Field(default_factory=list)
    error: bool = False


Progress = Callable[[str], Awaitable[None]]
"""Called with a short status line ('Searching TikTok...') while agents work."""


async def no_progress(_status: str) -> None:
    """A Progress that shows nothing (scripts, tests)."""


# --- the Conversation service -----------------------------------------------------------------


class Conversation:
    """Loads a thread's session, runs the orchestrator with fresh dependencies, saves the session.

    Messages of one key are handled one at a time (a lock per key, held by this instance);
    different keys run in parallel and never share a cache. Every failure becomes a clear
    `Reply(error=True)` and leaves the stored session as it was.
    """

    def __init__(
        self,
        settings: Settings,
        db: Database,
        services: PlatformServices,
        *,
        model: Model | None = None,
    ) -> None:
        from viraltracker_bot.agent.models import build_model
        from viraltracker_bot.limits import Limits

        self.settings = settings
        self.db = db
        self.services = services
        self.model = model or build_model(settings)
        self.limits = Limits(settings, db)
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def _lock(self, key: str) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[key] = lock
        return lock

    @staticmethod
    def help_text() -> str:
        """What the bot can do, from the agent catalog."""
        from viraltracker_bot.agent.registry import capabilities_text

        return capabilities_text()

    async def handle(self, message: IncomingMessage, progress: Progress = no_progress) -> Reply:
        """Answer one message; the only door into the core."""
        text = message.text.strip()
        if not text or text.lower().strip("/!?. ") in {"help", "commands", "usage"}:
            return Reply(text=self.help_text())
        if len(text) > self.settings.max_message_chars:
            return Reply(
                text=f"That message is {len(text):,} characters long; I read at most "
                f"{self.settings.max_message_chars:,}. Please shorten it.",
                error=True,
            )
        try:
            refusal = await self.limits.check(message)
        except Exception:  # a guard, not a gate: the turn itself reports a database outage
            log.warning("could not check the limits of %s", message.key.as_string(), exc_info=True)
            refusal = None
        if refusal is not None:
            return refusal
        key = message.key.as_string()
        lock = self._lock(key)
        async with lock:
            return await self._turn(message, text, key, progress)

    async def _turn(
        self, message: IncomingMessage, text: str, key: str, progress: Progress
    ) -> Reply:
        from viraltracker_bot.agent.dependencies import AgentDependencies
        from viraltracker_bot.agent.orchestrator import answer
        from viraltracker_bot.agent.session import (
            failure_reply,
            load_turn_state,
            record_runs,
            save_turn,
        )
        from viraltracker_bot.storage.inbox import LeaseLost

        progress = _never_failing(progress)
        try:
            cache, history = await load_turn_state(self.db, key)
        except Exception as exc:  # a database outage is a reply too, not a crash of the adapter
            return failure_reply(exc, self.settings)
        deps = AgentDependencies.for_message(
            self.settings,
            self.services,
            self.db,
            model=self.model,
            result_cache=cache,
            progress=progress,
            conversation_key=key,
            user=message.user,
        )
        try:
            output = await answer(text, deps, history)
            await deps.settle_writes()  # what the searches found is stored before the turn is
            reply = Reply(text=output, files=list(deps.files))
            await save_turn(
                self.db,
                self.settings,
                message.key,
                deps.result_cache,
                history,
                text,
                output,
                also=self._mark_answered(message, reply),
                runs=deps.run_log,  # stored with the session: one commit per answer
            )
        except LeaseLost:  # another process answers it; what this run spent still counts
            await _settled_quietly(deps)
            await record_runs(self.db, deps.run_log, key, message.key.workspace)
            raise
        except Exception as exc:
            reply = failure_reply(exc, self.settings)
            await _settled_quietly(deps)
            await record_runs(self.db, deps.run_log, key, message.key.workspace)
        return reply

    def _mark_answered(
        self, message: IncomingMessage, reply: Reply
    ) -> Callable[[AsyncSession], Awaitable[None]] | None:
        """For a message from the durable inbox: mark it answered in the session's transaction.

        The answer and the session become durable together, so a process taking the message
        over after a crash delivers this answer instead of running the turn a second time.
        """
        from viraltracker_bot.storage.inbox import LeaseLost, advance

        if message.event_id is None or message.lease_owner is None:
            return None
        event_id, owner = message.event_id, message.lease_owner

        async def mark(session: AsyncSession) -> None:
            held = await advance(
                session,
                event_id,
                owner,
                to="answered",
                expect=("working",),
                lease_s=self.settings.inbox_lease_s,
                payload={"reply": reply.model_dump(mode="json")},
            )
            if not held:
                raise LeaseLost(event_id)

        return mark


async def _settled_quietly(deps: AgentDependencies) -> None:
    """A failed turn still lets its searches' stores finish (their failures are only logged)."""
    try:
        await deps.settle_writes()
    except Exception:
        log.warning("storing a search's results failed", exc_info=True)


def _never_failing(progress: Progress) -> Progress:
    """A status line that cannot be shown (a chat API hiccup) must not fail the answer."""

    async def show(status: str) -> None:
        try:
            await progress(status)
        except Exception:
            logging.getLogger(__name__).warning("progress update failed", exc_info=True)

    return show
