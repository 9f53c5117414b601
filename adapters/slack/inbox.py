"""The Slack side of the durable inbox: storing a message before its ack, reading threads back.

Every message the bot posts as an answer carries message metadata naming the event it answers
(`viraltracker_reply`, with the event id and the part). A process that takes a message over after
a crash reads the thread back (`conversations.replies`, which needs the `*:history` scopes) and
delivers only what is missing: the text parts not shown, the files not shared. A streamed answer
whose process died between `chat.startStream` and `chat.stopStream` is left as an empty bot
message without metadata; those are deleted, as the answer is posted again in full.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.events import SlackMessage, read_message

log = logging.getLogger(__name__)

SOURCE = "slack"
REPLY_EVENT = "viraltracker_reply"
PLACEHOLDER = "placeholder"
"""The `part` of the progress message posted where the thread status is refused."""
THREAD_PAGE = 200
MAX_PAGES = 10


def payload_of(message: SlackMessage, bot_user_id: str | None) -> dict[str, Any]:
    """What the inbox stores: enough to answer the message in any process, later."""
    return {"message": message.model_dump(mode="json"), "bot_user_id": bot_user_id}


def message_of(payload: dict[str, Any]) -> tuple[SlackMessage, str | None]:
    return SlackMessage.model_validate(payload["message"]), payload.get("bot_user_id")


def written_at(ts: str) -> datetime | None:
    """When the person wrote it, from Slack's `ts` (orders a thread's messages)."""
    try:
        return datetime.fromtimestamp(float(ts), UTC)
    except (ValueError, OverflowError, OSError):
        return None


def reply_tag(event_id: str) -> dict[str, Any]:
    """The message metadata of every answer posted for this event."""
    return {"event_type": REPLY_EVENT, "event_payload": {"event_id": event_id}}


@dataclass
class Shown:
    """What a thread already shows of one event's answer."""

    whole_text: bool = False
    parts: set[int] = field(default_factory=set)
    files: bool = False
    placeholder_ts: str | None = None
    """A progress message an earlier attempt left, for the answer's first part to replace."""


def _tagged_part(message: dict[str, Any], event_id: str) -> int | str | None:
    metadata = message.get("metadata")
    if not isinstance(metadata, dict) or metadata.get("event_type") != REPLY_EVENT:
        return None
    payload = metadata.get("event_payload")
    if not isinstance(payload, dict) or payload.get("event_id") != event_id:
        return None
    part = payload.get("part", "all")
    return part if isinstance(part, int | str) else None


def _is_dead_stream(message: dict[str, Any]) -> bool:
    """A bot message with nothing in it: a stream whose process died before stopping it."""
    return (
        bool(message.get("bot_id"))
        and not (message.get("text") or "").strip()
        and not message.get("blocks")
        and not message.get("files")
        and not message.get("metadata")
    )


async def thread_messages(
    client: AsyncWebClient, channel: str, thread_ts: str
) -> list[dict[str, Any]]:
    """Every message of a thread with its metadata (a few pages at most)."""
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        response = await client.conversations_replies(
            channel=channel,
            ts=thread_ts,
            include_all_metadata=True,
            limit=THREAD_PAGE,
            cursor=cursor,
        )
        found.extend(m for m in response.get("messages") or [] if isinstance(m, dict))
        cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
        if not cursor:
            break
    return found


async def already_shown(
    client: AsyncWebClient,
    message: SlackMessage,
    event_id: str,
    files: list[Path],
) -> Shown:
    """Read the thread back after a crash: which parts of this event's answer are there.

    Dead streams are deleted on the way. When the thread cannot be read, nothing counts as
    shown: a person may then see an answer twice, but never none.
    """
    shown = Shown()
    try:
        messages = await thread_messages(client, message.channel, message.thread)
    except SlackApiError as exc:
        log.warning(
            "slack: could not read thread %s back (%s); answering in full",
            message.thread,
            exc.response.get("error"),
        )
        return shown
    names = {Path(f).name for f in files}
    placeholders: list[str] = []
    for posted in messages:
        part = _tagged_part(posted, event_id)
        if part == "all":
            shown.whole_text = True
        elif part == PLACEHOLDER:
            placeholders.append(str(posted.get("ts")))
        elif isinstance(part, int):
            shown.parts.add(part)
        if names and _shares(posted, names, after=message.ts):
            shown.files = True
        if _is_dead_stream(posted):
            await _delete(client, message.channel, str(posted.get("ts")))
    await _keep_one_placeholder(client, message.channel, shown, placeholders)
    return shown


async def _keep_one_placeholder(
    client: AsyncWebClient, channel: str, shown: Shown, placeholders: list[str]
) -> None:
    """Earlier attempts' progress messages: the first stays for the answer to replace (when
    its first part is still to come), the others go, so none is left saying 'Searching…'."""
    if placeholders and not shown.whole_text and 0 not in shown.parts:
        shown.placeholder_ts = placeholders.pop(0)
    for ts in placeholders:
        await _delete(client, channel, ts)


def _shares(posted: dict[str, Any], names: set[str], *, after: str) -> bool:
    """A bot message after the person's that shares exactly these files."""
    if not posted.get("bot_id") or not _later(str(posted.get("ts") or ""), after):
        return False
    shared = {str(f.get("name") or f.get("title") or "") for f in posted.get("files") or []}
    return bool(shared) and names <= shared


def _later(ts: str, than: str) -> bool:
    try:
        return float(ts) > float(than)
    except ValueError:
        return False


async def _delete(client: AsyncWebClient, channel: str, ts: str) -> None:
    try:
        await client.chat_delete(channel=channel, ts=ts)
    except SlackApiError as exc:
        log.info("slack: could not delete a leftover message (%s)", exc.response.get("error"))


async def drop_placeholder(client: AsyncWebClient, channel: str, shown: Shown) -> None:
    """Delete the leftover progress message when nothing is posted to replace it."""
    if shown.placeholder_ts is not None:
        await _delete(client, channel, shown.placeholder_ts)
        shown.placeholder_ts = None


Store = Callable[[SlackMessage, str | None], Awaitable[bool]]
Submit = Callable[[str], None]


class StoreFirst(AsyncMiddleware):
    """Keeps a person's message in the durable inbox before bolt acknowledges its event.

    It runs after the bot and allowlist filters, hands a stored message to the inbox worker and
    acknowledges the event itself: the worker, not a bolt listener, answers it, and bolt's
    listener dispatch after the ack (matching, argument injection, a task per event) cost about
    40 us of CPU per event, near half of what bolt spends on the rest of it. A message that
    cannot be stored (the database is down) is answered with a 503 rather than acknowledged, so
    Slack delivers it again instead of it being lost. Events that are not a person's message go
    on to bolt.
    """

    def __init__(self, store: Store, submit: Submit) -> None:
        self.store = store
        self.submit = submit

    async def async_process(
        self,
        *,
        req: AsyncBoltRequest,
        resp: BoltResponse,
        next: Callable[[], Awaitable[BoltResponse]],
    ) -> BoltResponse:
        message = _message_in(req.body)
        if message is None:
            return await next()
        try:
            stored = await self.store(message, req.context.bot_user_id)
        except Exception:
            log.exception("slack: could not store %s; not acknowledged", message.event_id)
            return BoltResponse(status=503, body="")
        if stored:
            self.submit(message.event_id)  # its turn starts once the acks are done
        return BoltResponse(status=200, body="")


def _message_in(body: Any) -> SlackMessage | None:
    if not isinstance(body, dict):
        return None
    try:
        return read_message(body)
    except ValidationError:
        log.info("slack: ignored a message event of an unexpected shape")
        return None
