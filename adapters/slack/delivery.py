"""Putting a Reply into Slack: streamed or posted text, then the files, in the right thread."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from pathlib import Path
from typing import Any

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.markup import defuse_mentions
from adapters.slack.replies import SlackPost, files_note, reply_posts
from viraltracker_bot.conversation import ChatPlatform, Reply

log = logging.getLogger(__name__)

STREAM_LIMIT = 12_000  # chat.startStream/appendStream take up to 12,000 characters a call
MAX_FILES_PER_UPLOAD = 10
PASSING_STREAM_ERRORS = frozenset(
    {
        "ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout",
        "channel_not_found", "not_in_channel", "is_archived", "thread_not_found",
    }
)  # fmt: skip
"""chat.startStream failures that say nothing about the app's right to stream (a hiccup, or
this one conversation): this reply is posted, and the next ones are streamed again."""


class ThreadReplier:
    """Answers in threads for one Slack app (one bot token).

    A reply to a person is streamed (chat.startStream/stopStream, Slack renders the Markdown)
    where Slack allows it; the first refusal (not a hiccup: see PASSING_STREAM_ERRORS)
    switches this process to posting, with the Markdown turned into Block Kit. Digests,
    errors and replies that must replace a placeholder are always posted.
    """

    def __init__(self, *, streaming: bool = True) -> None:
        self.streaming = streaming

    async def reply(
        self,
        client: AsyncWebClient,
        channel: str,
        thread_ts: str | None,
        reply: Reply,
        *,
        recipient: tuple[str, str] | None = None,
        placeholder_ts: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Post the reply's text and attach its files; the text first, so it reads in order.

        `metadata` (Slack message metadata) goes on every message of the text, with its part
        number, so the thread can be read back to see how much of this reply it shows.
        """
        streamed = False
        can_stream = (
            self.streaming
            and thread_ts is not None
            and recipient is not None
            and placeholder_ts is None
            and not reply.error
            and 0 < len(reply.text) <= STREAM_LIMIT
        )
        if can_stream:
            assert thread_ts is not None and recipient is not None
            streamed = await self._stream(
                client, channel, thread_ts, reply.text, recipient, metadata=metadata
            )
        if not streamed:
            await post_text(
                client, channel, thread_ts, reply, placeholder_ts=placeholder_ts, metadata=metadata
            )
        if reply.files:
            await upload_files(client, channel, thread_ts, reply.files)

    async def _stream(
        self,
        client: AsyncWebClient,
        channel: str,
        thread_ts: str,
        markdown: str,
        recipient: tuple[str, str],
        *,
        metadata: dict[str, Any] | None = None,
    ) -> bool:
        team, user = recipient
        try:
            stream = await client.chat_stream(
                channel=channel,
                thread_ts=thread_ts,
                recipient_team_id=team,
                recipient_user_id=user,
                buffer_size=STREAM_LIMIT,
            )
            await stream.append(markdown_text=defuse_mentions(markdown))
            await stream.stop(metadata=tagged(metadata, "all"))
        except SlackApiError as exc:
            if stream_started(exc):
                raise
            error = exc.response.get("error")
            if error in PASSING_STREAM_ERRORS:
                log.info("slack: could not start a stream (%s); posting this reply", error)
            else:
                log.info("slack: streaming refused (%s); posting replies", error)
                self.streaming = False
            return False
        return True


def stream_started(exc: SlackApiError) -> bool:
    """Whether the failed call came after chat.startStream had already shown a message."""
    url = str(getattr(exc.response, "api_url", ""))
    return not url.endswith("chat.startStream")


async def post_text(
    client: AsyncWebClient,
    channel: str,
    thread_ts: str | None,
    reply: Reply,
    *,
    placeholder_ts: str | None = None,
    metadata: dict[str, Any] | None = None,
    skip: Collection[int] = (),
) -> None:
    """The reply as Block Kit messages; the first replaces the placeholder when there is one.

    Parts numbered in `skip` are left out: the thread shows them already (a retried delivery).
    """
    posts = reply_posts(reply.text, error=reply.error)
    for i, post in enumerate(posts):
        if i in skip:
            continue
        if i == 0 and placeholder_ts is not None:
            await client.chat_update(
                channel=channel,
                ts=placeholder_ts,
                text=post.text,
                blocks=post.blocks,
                metadata=tagged(metadata, i),
            )
            continue
        await _post(client, channel, thread_ts, post, metadata=tagged(metadata, i))


def tagged(metadata: dict[str, Any] | None, part: int | str) -> dict[str, Any] | None:
    """The metadata of one message of a reply: which part of it this is."""
    if metadata is None:
        return None
    payload = {**(metadata.get("event_payload") or {}), "part": part}
    return {**metadata, "event_payload": payload}


async def _post(
    client: AsyncWebClient,
    channel: str,
    thread_ts: str | None,
    post: SlackPost,
    *,
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"channel": channel, "text": post.text, "blocks": post.blocks}
    if thread_ts is not None:
        kwargs["thread_ts"] = thread_ts
    if metadata is not None:
        kwargs["metadata"] = metadata
    response = await client.chat_postMessage(**kwargs)
    return dict(response.data) if isinstance(response.data, dict) else {}


async def upload_files(
    client: AsyncWebClient, channel: str, thread_ts: str | None, files: list[Path]
) -> None:
    """Share exports and charts in the thread (files.getUploadURLExternal -> upload -> complete).

    The bytes are read off the event loop; a file that vanished is named in the thread
    rather than failing the whole reply.
    """
    readable: list[dict[str, Any]] = []
    missing: list[str] = []
    for path in files:
        try:
            content = await asyncio.to_thread(Path(path).read_bytes)
        except OSError:
            missing.append(Path(path).name)
            continue
        readable.append({"content": content, "filename": path.name, "title": path.name})
    for start in range(0, len(readable), MAX_FILES_PER_UPLOAD):
        batch = readable[start : start + MAX_FILES_PER_UPLOAD]
        kwargs: dict[str, Any] = {
            "file_uploads": batch,
            "channel": channel,
            "initial_comment": files_note([f["filename"] for f in batch]),
        }
        if thread_ts is not None:
            kwargs["thread_ts"] = thread_ts
        await client.files_upload_v2(**kwargs)
    if missing:
        text = "I could not attach " + ", ".join(missing) + " (the file is gone)."
        await post_text(client, channel, thread_ts, Reply(text=text, error=True))


class SlackDeliverer:
    """Delivers digests (Replies without a user message) into Slack channels."""

    platform: ChatPlatform = "slack"

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client

    async def deliver(self, channel: str, reply: Reply, *, thread: str | None = None) -> None:
        """The text, then the files. Once the text is in the channel the digest is posted: a
        refused upload (no files:write, say) or one whose bytes Slack's file server did not
        take (slack-sdk raises SlackRequestError then) is noted there rather than raised,
        since raising retries the whole digest and posts its text again on every retry."""
        channel = channel.removeprefix("slack:")
        await post_text(self.client, channel, thread, reply)
        if not reply.files:
            return
        try:
            await upload_files(self.client, channel, thread, reply.files)
        except SlackClientError as exc:  # refused, or the bytes' upload URL failed
            await note_unattached(self.client, channel, thread, reply.files, why_unattached(exc))


def why_unattached(exc: SlackClientError) -> str:
    """The reason an upload failed, as the note in the thread gives it."""
    if isinstance(exc, SlackApiError):
        return f"Slack said: {exc.response.get('error') or 'upload failed'}"
    return "the upload to Slack failed"


async def note_unattached(
    client: AsyncWebClient,
    channel: str,
    thread_ts: str | None,
    files: list[Path],
    because: str,
) -> None:
    """Say in the thread which files Slack refused, and why (a missing `files:write`, say).

    Without it the person reads "Exported 3 posts." and finds nothing attached. A note that
    cannot be posted either is logged: there is nowhere left to say it.
    """
    log.warning("slack: could not attach %s to %s: %s", len(files), channel, because)
    names = ", ".join(Path(f).name for f in files)
    note = Reply(text=f"I could not attach {names} ({because}).", error=True)
    try:
        await post_text(client, channel, thread_ts, note)
    except SlackApiError:
        log.exception("slack: could not say so in %s either", channel)
