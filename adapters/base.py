"""What an adapter must do: hand incoming messages to the core and deliver Replies to chat."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from viraltracker_bot.conversation import ChatPlatform, IncomingMessage, Progress, Reply


class ConversationHandler(Protocol):
    """The core as an adapter sees it: `viraltracker_bot.conversation.Conversation` fits this."""

    async def handle(self, message: IncomingMessage, progress: Progress) -> Reply: ...


@runtime_checkable
class Deliverer(Protocol):
    """Posts a Reply into a channel (or a thread of it) without a user message to answer.

    Scheduled digests use this: the runner of a `slack:C0123` schedule needs a deliverer whose
    `platform` is `slack`.
    """

    platform: ChatPlatform

    async def deliver(self, channel: str, reply: Reply, *, thread: str | None = None) -> None: ...
