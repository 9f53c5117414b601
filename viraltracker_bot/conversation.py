"""The one door into the core: conversation keys, messages, replies and the Conversation service."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ChatPlatform = Literal["slack", "discord", "console"]


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


class Reply(BaseModel):
    """What the bot answers: Markdown-ish text plus files to attach (exports, charts)."""

    text: str
    files: list[Path] = Field(default_factory=list)
    error: bool = False


Progress = Callable[[str], Awaitable[None]]
"""Called with a short status line ('Searching TikTok...') while agents work."""


async def no_progress(_status: str) -> None:
    """A Progress that shows nothing (scripts, tests)."""


# The Conversation service (load session, run orchestrator, save session) is added below by the
# agents work: `Conversation(settings, db, ...).handle(message, progress) -> Reply`.
