"""Discord threads as sessions: a thread per question, each turn run through the core there."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

import discord

from adapters.base import ConversationHandler
from adapters.discord.inbox import DiscordTurns, StoredTurn, turn_nonces, where_of
from adapters.discord.render import NO_MENTIONS, error_embed
from adapters.discord.responders import (
    WORKING,
    InteractionResponder,
    Responder,
    ThreadResponder,
)
from viraltracker_bot.conversation import ConversationKey, IncomingMessage, Reply

log = logging.getLogger(__name__)

THREAD_NAME_LIMIT = 100
THREAD_ARCHIVE_MINUTES = 1440
HEADER_QUERY_LIMIT = 1500
CRASH_TEXT = (
    "Something went wrong on my side while answering. "
    "Your question is safe in this thread; please ask again in a minute."
)
NO_THREAD_TEXT = (
    "I couldn't start a thread for this question: I need the **Create Public Threads** and "
    "**Send Messages in Threads** permissions in this channel. A server admin can grant them, "
    "or you can ask me inside an existing thread."
)


def session_key(guild_id: int, channel: discord.abc.Messageable) -> ConversationKey:
    """One session per thread; outside a thread, the channel itself is the session."""
    if isinstance(channel, discord.Thread):
        return ConversationKey(
            platform="discord",
            workspace=str(guild_id),
            channel=str(channel.parent_id),
            thread=str(channel.id),
        )
    channel_id = getattr(channel, "id", "")
    return ConversationKey(platform="discord", workspace=str(guild_id), channel=str(channel_id))


def thread_name(query: str) -> str:
    name = " ".join(query.split()) or "viral question"
    if len(name) > THREAD_NAME_LIMIT:
        name = name[: THREAD_NAME_LIMIT - 1] + "…"
    return name


def upload_limit_of(channel: discord.abc.Messageable) -> int:
    guild = getattr(channel, "guild", None)
    return (
        guild.filesize_limit if guild is not None else discord.utils.DEFAULT_FILE_SIZE_LIMIT_BYTES
    )


class ThreadSessions:
    """Runs each turn of a thread's conversation through the core and answers in the thread.

    With `turns` (the durable inbox, as the bot runs), each turn is stored first and answered
    once even if this process dies on the way (another one answers in the thread).
    """

    def __init__(
        self, conversation: ConversationHandler, *, turns: DiscordTurns | None = None
    ) -> None:
        self.conversation = conversation
        self.turns = turns
        self._working: set[asyncio.Task[object]] = set()

    @asynccontextmanager
    async def _in_flight(self) -> AsyncIterator[None]:
        """Marks a command or follow-up as running, so shutdown can let it finish."""
        task = asyncio.current_task()
        if task is not None:
            self._working.add(task)
        try:
            yield
        finally:
            self._working.discard(task)  # type: ignore[arg-type]

    async def drain(self, within: float) -> None:
        """Wait (at most `within` seconds) for answers being worked on to be posted."""
        pending = self._working - {asyncio.current_task()}
        if pending:
            log.info("waiting for %d answer(s) in flight before closing", len(pending))
            await asyncio.wait(pending, timeout=within)

    async def ask_in_channel(
        self, interaction: discord.Interaction, channel: discord.TextChannel, query: str
    ) -> None:
        """`/viral ask` in a channel: defer at once, open a thread, answer there."""
        async with self._in_flight():
            await self._ask_in_channel(interaction, channel, query)

    async def _ask_in_channel(
        self, interaction: discord.Interaction, channel: discord.TextChannel, query: str
    ) -> None:
        await interaction.response.defer(thinking=True)
        thread = await self._open_thread(interaction, channel, query)
        if thread is None:
            return
        await interaction.edit_original_response(content=f"🧵 Answering in {thread.mention}")
        user = interaction.user
        responder = ThreadResponder(
            thread,
            upload_limit=upload_limit_of(thread),
            nonce=turn_nonces(f"interaction:{interaction.id}"),
        )
        key = session_key(channel.guild.id, thread)
        await self.run_turn(key, user, query, f"interaction:{interaction.id}", responder)

    async def _open_thread(
        self, interaction: discord.Interaction, channel: discord.TextChannel, query: str
    ) -> discord.Thread | None:
        """The question's thread, headed by who asked what; None once the refusal is explained.

        Opening a thread and posting in it are two permissions: without the second the thread
        opens but the header is refused, and the answer could not be posted there either.
        """
        user = interaction.user
        try:
            thread = await channel.create_thread(
                name=thread_name(query),
                type=discord.ChannelType.public_thread,
                auto_archive_duration=THREAD_ARCHIVE_MINUTES,
                reason=f"/viral ask by {user.id}",
            )
            await thread.send(
                f"{user.mention} asked: {query[:HEADER_QUERY_LIMIT]}",
                allowed_mentions=discord.AllowedMentions(users=[user], everyone=False, roles=False),
            )
        except discord.HTTPException as exc:
            log.warning("could not start a thread in %s: %s", channel.id, exc)
            await interaction.edit_original_response(embed=error_embed(NO_THREAD_TEXT))
            return None
        return thread

    async def ask_in_place(
        self, interaction: discord.Interaction, channel: discord.abc.Messageable, text: str
    ) -> None:
        """A slash command in a thread (or a channel without threads): the place is the session."""
        async with self._in_flight():
            await interaction.response.defer(thinking=True)
            fallback = ThreadResponder(
                channel,
                upload_limit=upload_limit_of(channel),
                nonce=turn_nonces(f"interaction:{interaction.id}"),
            )
            responder = InteractionResponder(interaction, fallback=fallback)
            key = session_key(interaction.guild_id or 0, channel)
            event_id = f"interaction:{interaction.id}"
            await self.run_turn(key, interaction.user, text, event_id, responder)

    async def follow_up(self, message: discord.Message, thread: discord.Thread, text: str) -> None:
        """A message in one of the bot's threads continues its session."""
        async with self._in_flight():
            limit = upload_limit_of(thread)
            responder = ThreadResponder(
                thread,
                upload_limit=limit,
                reply_to=message,
                nonce=turn_nonces(f"message:{message.id}"),
            )
            await responder.progress(WORKING)
            key = session_key(thread.guild.id, thread)
            await self.run_turn(key, message.author, text, f"message:{message.id}", responder)

    async def run_turn(
        self,
        key: ConversationKey,
        user: discord.abc.User,
        text: str,
        event_id: str,
        responder: Responder,
    ) -> None:
        """One turn: the core answers (it turns its own failures into Replies), we show it."""
        if self.turns is not None:
            await self._durable_turn(key, user, text, event_id, responder)
            return
        message = IncomingMessage(key=key, user=str(user.id), text=text, event_id=event_id)
        try:
            reply = await self.conversation.handle(message, responder.progress)
        except Exception:
            log.exception("the conversation failed on %s", key.as_string())
            reply = Reply(text=CRASH_TEXT, error=True)
        try:
            await responder.answer(reply)
        except discord.HTTPException:
            log.exception("could not post the answer in %s", key.as_string())

    async def _durable_turn(
        self,
        key: ConversationKey,
        user: discord.abc.User,
        text: str,
        event_id: str,
        responder: Responder,
    ) -> None:
        assert self.turns is not None
        stored = StoredTurn(
            key=key,
            user=str(user.id),
            text=text,
            where=where_of(responder, int(key.workspace or 0)),
        )
        try:
            await self.turns.run(event_id, stored, responder, at=asked_at(event_id))
        except discord.HTTPException:
            log.exception("could not post the answer in %s; it is retried", key.as_string())


def asked_at(event_id: str) -> datetime | None:
    """When the person asked: the time in the interaction's or message's snowflake id."""
    try:
        return discord.utils.snowflake_time(int(event_id.rsplit(":", 1)[-1]))
    except ValueError:
        return None


async def refuse_in_place(interaction: discord.Interaction, text: str) -> None:
    """A short answer only the user sees (for commands used in the wrong place)."""
    await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
