"""Where an answer goes while agents work and when they finish: a thread, or an interaction."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Protocol

import discord

from adapters.discord.render import (
    MESSAGE_LIMIT,
    NO_MENTIONS,
    Outgoing,
    read_attachments,
    render_reply,
)
from viraltracker_bot.conversation import Reply

log = logging.getLogger(__name__)

# Status edits closer together than this are skipped: the next one (or the answer) shows anyway.
PROGRESS_MIN_INTERVAL_S = 1.0
# Stop using an interaction token this long before its 15 minutes are up.
TOKEN_MARGIN = timedelta(seconds=60)
# What Discord answers on a webhook call with an expired or unknown interaction token.
TOKEN_GONE_STATUSES = frozenset({401, 404})
# The status shown before the agents say what they are doing.
WORKING = "Working on it…"
# What a command's "thinking" message says when its answer goes to the channel instead.
ANSWERED_BELOW = "This took longer than Discord lets me answer here: the answer is posted below."


class Responder(Protocol):
    """Shows progress while the core works, then the Reply."""

    async def progress(self, status: str) -> None: ...

    async def answer(self, reply: Reply) -> None: ...


def status_line(status: str) -> str:
    return f"⏳ {status}"[:MESSAGE_LIMIT]


class _Throttle:
    """Lets a status edit through at most once per interval."""

    def __init__(self) -> None:
        self._last = 0.0

    def ready(self) -> bool:
        now = time.monotonic()
        if now - self._last < PROGRESS_MIN_INTERVAL_S:
            return False
        self._last = now
        return True


class ThreadResponder:
    """Answers in a thread (or channel) with the bot token, however long the agents take.

    The first progress posts a status message; later ones edit it; the answer replaces it (so
    the thread reads question, answer) and continues in new messages if it is long.
    """

    def __init__(
        self,
        channel: discord.abc.Messageable,
        *,
        upload_limit: int,
        reply_to: discord.Message | discord.PartialMessage | None = None,
        nonce: Callable[[int | str], int] | None = None,
    ) -> None:
        self.channel = channel
        self.upload_limit = upload_limit
        self.reply_to = reply_to
        # The nonce of each message ("status", then the answer's parts 0, 1, ...): the same in
        # every process, so Discord returns a message posted before instead of posting it twice.
        self.nonce = nonce
        self._status: discord.Message | None = None
        self._throttle = _Throttle()

    async def progress(self, status: str) -> None:
        try:
            if self._status is None:
                self._throttle.ready()
                self._status = await self._send(Outgoing(content=status_line(status)), "status")
            elif self._throttle.ready():
                await self._status.edit(content=status_line(status), allowed_mentions=NO_MENTIONS)
        except discord.HTTPException as exc:
            log.warning("could not show progress in %s: %s", getattr(self.channel, "id", "?"), exc)

    async def reclaim_status(self) -> None:
        """Take over the status message an earlier attempt at this turn posted, if any.

        A turn taken over (its process died, or its answer could not be shown) would otherwise
        post its answer beside that status, left reading "⏳" for good. The status has the
        same nonce in every process, so Discord returns it (within its nonce window) instead
        of posting another; when there was none, this one is posted and the answer replaces it.
        """
        if self._status is None and self.nonce is not None:
            await self.progress(WORKING)

    async def answer(self, reply: Reply) -> None:
        attachments = await read_attachments(reply.files)
        messages = render_reply(reply, attachments, upload_limit=self.upload_limit)
        await self.post(messages)

    async def post(self, messages: list[Outgoing]) -> None:
        first, rest = messages[0], messages[1:]
        if self._status is not None:
            await self._status.edit(**first.edit_kwargs())
        else:
            await self._send(first, 0)
        for part, message in enumerate(rest, 1):
            await self.channel.send(**message.send_kwargs(), **self._nonce(part))

    async def _send(self, message: Outgoing, part: int | str) -> discord.Message:
        kwargs = message.send_kwargs()
        if self.reply_to is not None:
            kwargs["reference"] = self.reply_to.to_reference(fail_if_not_exists=False)
        return await self.channel.send(**kwargs, **self._nonce(part))

    def _nonce(self, part: int | str) -> dict[str, int]:
        return {"nonce": self.nonce(part)} if self.nonce is not None else {}


class InteractionResponder:
    """Answers a deferred slash command by turning its 'thinking' message into the answer.

    The interaction token lasts 15 minutes. Past that (minus a margin), or if Discord says the
    token is gone, the answer goes to the thread through `fallback`, with the bot token.
    """

    def __init__(self, interaction: discord.Interaction, *, fallback: ThreadResponder) -> None:
        self.interaction = interaction
        self.fallback = fallback
        self._throttle = _Throttle()
        self._handed_over = False

    def token_usable(self) -> bool:
        return discord.utils.utcnow() < self.interaction.expires_at - TOKEN_MARGIN

    async def progress(self, status: str) -> None:
        if not self.token_usable():
            await self._hand_over()
            await self.fallback.progress(status)
            return
        if not self._throttle.ready():
            return
        try:
            await self.interaction.edit_original_response(content=status_line(status))
        except discord.HTTPException as exc:
            log.warning("could not show progress for interaction %s: %s", self.interaction.id, exc)

    async def answer(self, reply: Reply) -> None:
        attachments = await read_attachments(reply.files)
        if not self.token_usable():
            log.info(
                "interaction %s token near expiry; answering in the thread", self.interaction.id
            )
            upload_limit = self.fallback.upload_limit
            await self._hand_over()
            await self.fallback.post(render_reply(reply, attachments, upload_limit=upload_limit))
            return
        upload_limit = self.interaction.filesize_limit
        messages = render_reply(reply, attachments, upload_limit=upload_limit)
        for index, message in enumerate(messages):
            try:
                await self._deliver(index, message)
            except discord.HTTPException as exc:
                if exc.status not in TOKEN_GONE_STATUSES:
                    raise
                log.info(
                    "interaction %s token refused (%s); answering in the thread",
                    self.interaction.id,
                    exc,
                )
                await self.fallback.post(messages[index:])
                return

    async def _hand_over(self) -> None:
        """Once, as the answer moves to the channel: say so in the command's own message.

        Left alone it would keep "thinking" until Discord calls the command failed. The token
        still works in its margin; past its 15 minutes the edit is refused, and skipped.
        """
        if self._handed_over or self.interaction.is_expired():
            return
        self._handed_over = True
        try:
            await self.interaction.edit_original_response(content=ANSWERED_BELOW)
        except discord.HTTPException as exc:
            log.info("could not point interaction %s to its answer: %s", self.interaction.id, exc)

    async def _deliver(self, index: int, message: Outgoing) -> None:
        if index == 0:
            await self.interaction.edit_original_response(**message.edit_kwargs())
        else:
            await self.interaction.followup.send(**message.send_kwargs(), wait=True)
