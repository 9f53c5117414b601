"""The Discord side of the durable inbox: every turn stored before the core sees it, answered once.

A turn (a `/viral` command, a follow-up in a thread) is stored with where its answer goes, then
worked under a lease. If its process dies, another one (or its restart) takes the turn over and
answers in the thread with the bot token: an interaction's token belongs to the process that
deferred it and dies after 15 minutes, the thread does not. Messages go out with nonces derived
from the turn (discord.py asks Discord to enforce them), so a message the dead process already
posted is returned, not posted again; Discord keeps nonces for a few minutes only, so a takeover
after that may repeat a part the dead process had posted.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import datetime

import discord
from pydantic import BaseModel

from adapters.base import ConversationHandler
from adapters.discord.responders import InteractionResponder, Responder, ThreadResponder
from viraltracker_bot.config import Settings
from viraltracker_bot.conversation import ConversationKey, IncomingMessage, Progress, Reply
from viraltracker_bot.inbox import InboxWorker, Lease
from viraltracker_bot.storage.database import Database
from viraltracker_bot.storage.inbox import UNDONE, LeaseLost, advance_now, stage_of

log = logging.getLogger(__name__)

SOURCE = "discord"
CRASH_TEXT = (
    "Something went wrong on my side while answering. "
    "Your question is safe in this thread; please ask again in a minute."
)
GAVE_UP_TEXT = (
    "Sorry, I could not answer this: working on it failed several times. Please ask again."
)
# How long a turn taken here waits for the earlier turns of its thread (a scrape can take
# minutes). The person waits on this process: only it can turn a command's "thinking" message
# into the answer, and a turn it let go is answered by a sweep a lease later, in the thread.
# An interaction token lasts this long; a turn still waiting then is left to the sweeps.
TURN_WAIT_S = 15 * 60.0


class Where(BaseModel):
    """Where a turn's answer goes when the process that took the question is gone."""

    guild_id: int
    channel_id: int = 0  # the thread (or the channel) to answer in; 0 while there is none
    reply_to: int | None = None  # the message the answer replies to (follow-ups)
    upload_limit: int = discord.utils.DEFAULT_FILE_SIZE_LIMIT_BYTES


class StoredTurn(BaseModel):
    key: ConversationKey
    user: str
    text: str
    where: Where


def turn_id(event_id: str) -> str:
    return f"discord:turn:{event_id}"


def nonce_for(turn: str, part: int | str) -> int:
    """The same 63-bit nonce for the same part of the same turn, in any process."""
    digest = hashlib.sha256(f"{turn}:{part}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def turn_nonces(event_id: str) -> Callable[[int | str], int]:
    """The nonces of a turn's messages, for the responder that answers it (live or taken over)."""
    turn = turn_id(event_id)
    return lambda part: nonce_for(turn, part)


def where_of(responder: Responder, guild_id: int) -> Where:
    """Where a live responder answers, as a takeover would need it."""
    thread = responder.fallback if isinstance(responder, InteractionResponder) else responder
    if not isinstance(thread, ThreadResponder):
        return Where(guild_id=guild_id)
    reply_to = thread.reply_to.id if thread.reply_to is not None else None
    return Where(
        guild_id=guild_id,
        channel_id=int(getattr(thread.channel, "id", 0) or 0),
        reply_to=reply_to,
        upload_limit=thread.upload_limit,
    )


class DiscordTurns:
    """Runs turns through the durable inbox, here, and takes over the turns of dead processes."""

    def __init__(
        self,
        conversation: ConversationHandler,
        db: Database,
        settings: Settings,
        client: discord.Client,
    ) -> None:
        self.conversation = conversation
        self.db = db
        self.client = client
        self.worker = InboxWorker(db, settings)
        self.worker.handle(SOURCE, self._take_over, self._give_up)

    def start(self) -> None:
        """Take over what dead processes (this one's last life too) left, then keep sweeping."""
        self.worker.start()

    async def close(self, within_s: float) -> None:
        await self.worker.stop(within_s)

    async def run(
        self, event_id: str, stored: StoredTurn, responder: Responder, *, at: datetime | None
    ) -> None:
        """One turn in this process: stored, claimed in its thread's turn, answered, done.

        `at` is when the person asked (the snowflake's time): it orders a thread's turns.
        """
        turn = turn_id(event_id)
        if not await self.worker.record(
            turn, SOURCE, stored.key.as_string(), stored.model_dump(mode="json"), at=at
        ):
            log.info("turn %s is stored already; whoever holds it answers", turn)
            return
        async with self.worker.working_on(turn, wait_s=TURN_WAIT_S) as lease:
            if lease is None:
                log.info("turn %s went to another process", turn)
                return
            reply = await self._answer(lease, stored, responder.progress)
            if reply is None:
                return
            await responder.answer(reply)
            await self._done(lease)

    async def _take_over(self, lease: Lease) -> None:
        """A turn whose process died: answer (again, if it never got that far) in its thread."""
        stored = StoredTurn.model_validate(lease.item.payload)
        if not stored.where.channel_id:
            log.warning("turn %s has nowhere to answer (its thread was never made)", lease.event_id)
            await self._done(lease)
            return
        responder = self.thread_responder(stored.where, lease.event_id)
        await responder.reclaim_status()
        if lease.item.status == "working":
            reply = await self._answer(lease, stored, responder.progress)
            if reply is None:
                return
        else:
            reply = Reply.model_validate(lease.item.payload["reply"])
        await responder.answer(reply)
        await self._done(lease)

    async def _give_up(self, lease: Lease) -> None:
        stored = StoredTurn.model_validate(lease.item.payload)
        if stored.where.channel_id:
            responder = self.thread_responder(stored.where, lease.event_id)
            await responder.reclaim_status()
            try:
                await responder.answer(Reply(text=GAVE_UP_TEXT, error=True))
            except discord.HTTPException as exc:
                log.warning("could not say so in %s: %s", stored.where.channel_id, exc)
        await advance_now(self.db, lease.event_id, lease.owner, to="done", expect=UNDONE, lease_s=0)

    def thread_responder(self, where: Where, turn: str) -> ThreadResponder:
        """Answers with the bot token in the turn's thread; every message has its turn's nonce."""
        channel = self.client.get_partial_messageable(where.channel_id, guild_id=where.guild_id)
        reply_to = channel.get_partial_message(where.reply_to) if where.reply_to else None
        return ThreadResponder(
            channel,
            upload_limit=where.upload_limit,
            reply_to=reply_to,
            nonce=lambda part: nonce_for(turn, part),
        )

    async def _answer(self, lease: Lease, stored: StoredTurn, progress: Progress) -> Reply | None:
        """The core's answer, kept with the turn; None when another process took it over."""
        message = IncomingMessage(
            key=stored.key,
            user=stored.user,
            text=stored.text,
            event_id=lease.event_id,
            lease_owner=lease.owner,
        )
        try:
            reply = await self.conversation.handle(message, progress)
        except LeaseLost:
            return None
        except Exception:
            log.exception("the conversation failed on %s", stored.key.as_string())
            reply = Reply(text=CRASH_TEXT, error=True)
        if await stage_of(self.db, lease.event_id) == ("answered", lease.owner):
            return reply
        kept = await advance_now(
            self.db,
            lease.event_id,
            lease.owner,
            to="answered",
            expect=("working",),
            lease_s=lease.lease_s,
            payload={"reply": reply.model_dump(mode="json")},
        )
        return reply if kept else None

    async def _done(self, lease: Lease) -> None:
        await advance_now(
            self.db, lease.event_id, lease.owner, to="done", expect=("answered",), lease_s=0
        )
