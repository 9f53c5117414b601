"""Messages in the bot's threads: which ones continue a session, and with what text."""

from __future__ import annotations

import logging
import re

import discord

from adapters.discord.gate import RESTARTING, UNCLAIMED_TEXT, Gate, place_of
from adapters.discord.render import error_embed
from adapters.discord.sessions import ThreadSessions

log = logging.getLogger(__name__)

USER_MESSAGE_TYPES = frozenset({discord.MessageType.default, discord.MessageType.reply})
EMPTY_MENTION_HINT = (
    "I'm here. Ask me a follow-up, e.g. *top 5 by engagement*, *compare with TikTok* "
    "or *export those as csv*."
)


def strip_mentions(text: str, user_id: int) -> str:
    return re.sub(rf"<@!?{user_id}>", " ", text).strip()


class ThreadMessages:
    """on_message: follow-ups in the bot's own threads, from people, in allowed places.

    Mentions of the bot need no privileged intent; plain follow-ups need the message-content
    intent (`DISCORD_MESSAGE_CONTENT`), without which Discord sends them with empty content.
    """

    def __init__(
        self, client: discord.Client, gate: Gate, sessions: ThreadSessions, *, plain_text: bool
    ) -> None:
        self.client = client
        self.gate = gate
        self.sessions = sessions
        self.plain_text = plain_text

    async def on_message(self, message: discord.Message) -> None:
        me = self.client.user
        if me is None or message.author.bot or message.type not in USER_MESSAGE_TYPES:
            return
        mentioned = any(user.id == me.id for user in message.mentions)
        if message.guild is None or not (mentioned or self.plain_text):
            return
        text = strip_mentions(message.content, me.id)
        if not text and not mentioned:
            return  # a picture or a sticker among plain follow-ups: not a bare ping
        thread = await self._my_thread(message.channel, me.id)
        if thread is None or self.gate.place_refusal(message.guild.id, place_of(thread)):
            return
        if not await self._claim(message, thread):
            return
        if self.gate.closing:
            # Discord does not deliver it again to the next process: say so, as to a command.
            await thread.send(RESTARTING, reference=message, mention_author=False)
            return
        if not text:
            await thread.send(EMPTY_MENTION_HINT, reference=message, mention_author=False)
            return
        await self.sessions.follow_up(message, thread, text)

    async def _claim(self, message: discord.Message, thread: discord.Thread) -> bool:
        """True when this process answers the message; a database outage is said, not hidden."""
        try:
            first = await self.gate.first_delivery(f"message:{message.id}")
        except Exception:
            # As for commands: without the claim two processes could both answer.
            log.exception("could not claim message %s", message.id)
            embed = error_embed(UNCLAIMED_TEXT)
            await thread.send(embed=embed, reference=message, mention_author=False)
            return False
        if not first:
            log.info("message %s delivered again; already answered", message.id)
        return first

    async def _my_thread(self, channel: object, my_id: int) -> discord.Thread | None:
        """The channel if it is a thread this bot opened; fetched when not cached yet."""
        if isinstance(channel, discord.PartialMessageable):
            try:
                channel = await self.client.fetch_channel(channel.id)
            except discord.HTTPException:
                return None
        if isinstance(channel, discord.Thread) and channel.owner_id == my_id:
            return channel
        return None
