"""Turning a Reply into Discord messages that fit Discord's limits (text, embeds, attachments)."""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import discord

from viraltracker_bot.conversation import Reply

MESSAGE_LIMIT = 2000
EMBED_DESCRIPTION_LIMIT = 4096
FILES_PER_MESSAGE = 10
DEFAULT_UPLOAD_LIMIT = 10 * 1024 * 1024
ERROR_COLOUR = discord.Colour(0xE74C3C)
FENCE = "```"
# Room kept free in a chunk for closing (and reopening) a code fence cut by the split.
_FENCE_ROOM = 16
NO_MENTIONS = discord.AllowedMentions.none()


@dataclass(frozen=True)
class Attachment:
    """A file to attach, read off the event loop before sending."""

    name: str
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)

    def to_file(self) -> discord.File:
        # A fresh File per send: discord.py consumes (and closes) the ones it uploads.
        return discord.File(io.BytesIO(self.data), filename=self.name)


@dataclass
class Outgoing:
    """One Discord message: text, at most one embed, and up to ten files."""

    content: str = ""
    embed: discord.Embed | None = None
    attachments: list[Attachment] = field(default_factory=list)

    def send_kwargs(self) -> dict[str, Any]:
        """Arguments for `Messageable.send` / `Webhook.send`."""
        kwargs: dict[str, Any] = {"allowed_mentions": NO_MENTIONS}
        if self.content:
            kwargs["content"] = self.content
        if self.embed is not None:
            kwargs["embed"] = self.embed
        if self.attachments:
            kwargs["files"] = [a.to_file() for a in self.attachments]
        return kwargs

    def edit_kwargs(self) -> dict[str, Any]:
        """Arguments for `Message.edit` / `edit_original_response`: replaces everything shown."""
        return {
            "content": self.content or None,
            "embed": self.embed,
            "attachments": [a.to_file() for a in self.attachments],
            "allowed_mentions": NO_MENTIONS,
        }


async def read_attachments(paths: list[Path]) -> list[Attachment]:
    """Read export files and charts in a worker thread (no blocking I/O on the loop)."""

    def read() -> list[Attachment]:
        return [Attachment(path.name, path.read_bytes()) for path in paths if path.is_file()]

    return await asyncio.to_thread(read)


def render_reply(
    reply: Reply, attachments: list[Attachment], *, upload_limit: int = DEFAULT_UPLOAD_LIMIT
) -> list[Outgoing]:
    """The messages that show a Reply: text split at 2,000 characters, files grouped to fit.

    Errors get a red embed so they read as errors, not as an answer. Files over the upload
    limit are named in the text instead of failing the whole message.
    """
    fitting = [a for a in attachments if a.size <= upload_limit]
    too_big = [a for a in attachments if a.size > upload_limit]
    text = reply.text.strip()
    if too_big:
        text = f"{text}\n\n{oversize_note(too_big, upload_limit)}".strip()
    groups = group_files(fitting, upload_limit)
    if reply.error:
        messages = [Outgoing(embed=error_embed(text))]
    else:
        messages = [Outgoing(content=chunk) for chunk in split_text(text)]
    if not messages:
        messages = [Outgoing()] if groups else [Outgoing(content="(no answer)")]
    if groups:
        messages[-1].attachments = groups[0]
        messages.extend(Outgoing(attachments=group) for group in groups[1:])
    return messages


def error_embed(text: str, title: str = "I couldn't finish that") -> discord.Embed:
    description = text or "Something went wrong."
    if len(description) > EMBED_DESCRIPTION_LIMIT:
        description = description[: EMBED_DESCRIPTION_LIMIT - 1] + "…"
    return discord.Embed(title=title, description=description, colour=ERROR_COLOUR)


def oversize_note(files: list[Attachment], upload_limit: int) -> str:
    names = ", ".join(f"`{a.name}` ({megabytes(a.size)})" for a in files)
    return f"⚠️ Not attached, over this server's {megabytes(upload_limit)} upload limit: {names}"


def megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def group_files(files: list[Attachment], upload_limit: int) -> list[list[Attachment]]:
    """At most ten files per message, and no more bytes per message than the upload limit."""
    groups: list[list[Attachment]] = []
    current: list[Attachment] = []
    for attachment in files:
        full = len(current) == FILES_PER_MESSAGE
        if current and (full or sum(a.size for a in current) + attachment.size > upload_limit):
            groups.append(current)
            current = []
        current.append(attachment)
    if current:
        groups.append(current)
    return groups


def split_text(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Split at line boundaries into chunks of at most `limit` characters.

    A code block cut by a split is closed at the end of one chunk and reopened (with its
    language) at the start of the next, so every chunk renders on its own.
    """
    text = text.strip()
    if not text:
        return []
    chunks: list[str] = []
    current = ""
    open_fence: str | None = None
    for line in text.splitlines():
        for piece in wrap_line(line, limit - _FENCE_ROOM * 2):
            candidate = f"{current}\n{piece}" if current else piece
            closing = _closing_room(open_fence, piece)
            if len(candidate) + closing <= limit:
                current = candidate
            else:
                if current.strip():
                    chunks.append(f"{current}\n{FENCE}" if open_fence else current)
                current = f"{open_fence}\n{piece}" if open_fence else piece
            if _toggles(piece):
                open_fence = None if open_fence else piece.strip()[:_FENCE_ROOM]
    if current.strip():
        chunks.append(f"{current}\n{FENCE}" if open_fence else current)
    return chunks


def wrap_line(line: str, width: int) -> list[str]:
    """A line longer than `width` is cut at spaces where it can be, else hard."""
    pieces: list[str] = []
    while len(line) > width:
        cut = line.rfind(" ", width // 2, width)
        cut = cut if cut > 0 else width
        pieces.append(line[:cut])
        line = line[cut:].lstrip(" ")
    pieces.append(line)
    return pieces


def _closing_room(open_fence: str | None, piece: str) -> int:
    """Room to keep for the fence that closes a code block cut after `piece`.

    No room when `piece` is the block's own closing fence: reserving it anyway moved a
    fence that fitted into the next message, which then began with an empty code block.
    """
    if open_fence is not None:
        return 0 if _toggles(piece) else len(FENCE) + 1
    return len(FENCE) + 1 if _toggles(piece) else 0


def _toggles(line: str) -> bool:
    return line.strip().startswith(FENCE)
