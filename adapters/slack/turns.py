"""One turn of a Slack conversation, after the event is acknowledged: claim, answer, reply."""

from __future__ import annotations

import asyncio
import logging

from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select

from adapters.base import ConversationHandler
from adapters.slack.delivery import ThreadReplier
from adapters.slack.events import SlackMessage
from adapters.slack.priority import AckFirst
from adapters.slack.progress import ThreadStatus
from viraltracker_bot.conversation import Reply
from viraltracker_bot.storage.database import Database
from viraltracker_bot.storage.events import claim_event
from viraltracker_bot.storage.tables import ProcessedEventRow

log = logging.getLogger(__name__)

FIRST_STATUS = "Thinking…"
CRASH_TEXT = (
    "Sorry, something went wrong on my side while answering that. Please try again in a minute."
)
NO_DATABASE_TEXT = "Sorry, I can't reach my database right now, so I can't answer. Please retry."


class SlackTurns:
    """Answers people's Slack messages, each exactly once, and keeps count of turns in flight.

    Every path into the core passes here, so the rules hold in one place: a thread message
    is answered only in a thread the bot already answered in; each message (its
    channel and ts) is claimed in `processed_events` before any work, so a retried event,
    the second delivery of a mention (`app_mention` and `message`), or another replica
    never answers it again, also after a restart.
    """

    def __init__(
        self, handler: ConversationHandler, db: Database, replier: ThreadReplier | None = None
    ) -> None:
        self.handler = handler
        self.db = db
        self.replier = replier or ThreadReplier()
        self.ack_first = AckFirst()
        self.in_flight: set[asyncio.Task[None]] = set()

    async def answer(
        self, message: SlackMessage, client: AsyncWebClient, bot_user_id: str | None
    ) -> None:
        """Run one turn (called by a listener after bolt acknowledged the event)."""
        task = asyncio.current_task()
        if task is not None:
            self.in_flight.add(task)
        try:
            await self._answer(message, client, bot_user_id)
        except Exception:
            log.exception("slack: turn failed (channel %s, ts %s)", message.channel, message.ts)
        finally:
            if task is not None:
                self.in_flight.discard(task)

    async def drain(self, within_s: float) -> None:
        """Wait for the turns in flight to finish (a graceful shutdown)."""
        for _ in range(3):  # a just-acknowledged event's listener task registers on its first step
            await asyncio.sleep(0)
        pending = [t for t in self.in_flight if t is not asyncio.current_task()]
        if pending:
            await asyncio.wait(pending, timeout=within_s)

    async def _answer(
        self, message: SlackMessage, client: AsyncWebClient, bot_user_id: str | None
    ) -> None:
        await self.ack_first.quiet()
        if message.kind == "message" and not message.is_direct:
            if message.mentions(bot_user_id) or not await self._bot_in_thread(message):
                return
        key = message.key()
        try:
            claimed = await claim_event(self.db, message.event_id, "slack", key.as_string())
        except Exception:
            log.exception("slack: could not claim %s", message.event_id)
            await self.replier.reply(
                client, message.channel, message.thread, Reply(text=NO_DATABASE_TEXT, error=True)
            )
            return
        if not claimed:
            log.debug("slack: %s already answered", message.event_id)
            return
        if message.kind == "app_mention":
            await self._mark_thread(message)
        progress = ThreadStatus(client, message.channel, message.thread)
        await progress(FIRST_STATUS)
        reply = await self._ask(message, bot_user_id, progress)
        await progress.settle()
        try:
            await self.replier.reply(
                client,
                message.channel,
                message.thread,
                reply,
                recipient=(message.user_team, message.user),
                placeholder_ts=progress.placeholder_ts,
            )
        except Exception:
            await progress.clear()  # do not leave "Thinking…" under a thread that got no answer
            raise

    async def _ask(
        self, message: SlackMessage, bot_user_id: str | None, progress: ThreadStatus
    ) -> Reply:
        try:
            return await self.handler.handle(message.incoming(bot_user_id), progress)
        except Exception:
            log.exception("slack: the conversation failed on %s", message.event_id)
            return Reply(text=CRASH_TEXT, error=True)

    async def _bot_in_thread(self, message: SlackMessage) -> bool:
        """A message in a channel continues a conversation only in a thread the bot answered.

        The bot answered a thread when it claimed the thread's parent (a mention that started
        it) or left its mark there (a mention inside someone else's thread): both are primary
        key lookups in `processed_events`, shared by every replica and kept across restarts,
        and they hold even when the first answer was an error and saved no session.
        """
        if message.thread_ts is None:
            return False
        ids = [f"{message.channel}:{message.thread_ts}", thread_mark(message)]
        async with self.db.sessions() as session:
            found = await session.execute(
                select(ProcessedEventRow.event_id).where(ProcessedEventRow.event_id.in_(ids))
            )
            return found.first() is not None

    async def _mark_thread(self, message: SlackMessage) -> None:
        """Remember that the bot now takes part in a thread it did not start."""
        if message.thread_ts is not None and not message.is_direct:
            await claim_event(self.db, thread_mark(message), "slack", message.key().as_string())


def thread_mark(message: SlackMessage) -> str:
    return f"thread:{message.channel}:{message.thread}"
