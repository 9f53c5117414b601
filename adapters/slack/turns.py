"""One turn of a Slack conversation: stored before the ack, then answered and delivered once."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select

from adapters.base import ConversationHandler
from adapters.slack.delivery import (
    ThreadReplier,
    note_unattached,
    post_text,
    tagged,
    upload_files,
    why_unattached,
)
from adapters.slack.events import SlackMessage
from adapters.slack.inbox import (
    PLACEHOLDER,
    SOURCE,
    Shown,
    already_shown,
    drop_placeholder,
    message_of,
    payload_of,
    reply_tag,
    written_at,
)
from adapters.slack.priority import AckFirst
from adapters.slack.progress import ThreadStatus
from viraltracker_bot.config import Settings
from viraltracker_bot.conversation import Reply
from viraltracker_bot.inbox import InboxWorker, Lease
from viraltracker_bot.storage.database import Database
from viraltracker_bot.storage.events import claim_event
from viraltracker_bot.storage.inbox import UNDONE, LeaseLost, advance_now, stage_of
from viraltracker_bot.storage.tables import ProcessedEventRow

log = logging.getLogger(__name__)

FIRST_STATUS = "Thinking…"
CRASH_TEXT = (
    "Sorry, something went wrong on my side while answering that. Please try again in a minute."
)
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found", "thread_not_found", "not_in_channel", "is_archived",
        "msg_too_long", "invalid_blocks", "no_permission", "restricted_action",
        "missing_scope", "invalid_auth", "account_inactive", "token_revoked",
    }
)  # fmt: skip
"""Slack errors that another attempt would only meet again: the delivery stops there."""
GAVE_UP_TEXT = (
    "Sorry, I could not answer this message: working on it failed several times. "
    "Please ask again, perhaps in other words."
)


class SlackTurns:
    """Answers people's Slack messages, each exactly once, and keeps count of turns in flight.

    Every path into the core passes here, so the rules hold in one place: a thread message is
    answered only in a thread the bot takes part in; each message (its channel and ts) is
    stored in the durable inbox before bolt acknowledges its event (`store`, run by the
    `StoreFirst` middleware), so a retried event, the second delivery of a mention
    (`app_mention` and `message`), or another replica never answers it again, and a message
    whose process dies is answered by the next one (the `InboxWorker`). An answer is kept with
    the message before it is posted, and each posted message names its event in Slack message
    metadata, so a process taking a message over posts only what its thread does not show yet.
    """

    def __init__(
        self, handler: ConversationHandler, db: Database, replier: ThreadReplier | None = None
    ) -> None:
        self.handler = handler
        self.db = db
        self.replier = replier or ThreadReplier()
        self.ack_first = AckFirst()
        self.client: AsyncWebClient | None = None
        self.worker: InboxWorker | None = None

    def bind(self, settings: Settings, client: AsyncWebClient) -> None:
        """Answer through this app's Web API client, under these inbox settings."""
        self.client = client
        self.worker = InboxWorker(self.db, settings, gate=self.ack_first.quiet)
        self.worker.handle(SOURCE, self._process, self._give_up)

    def _worker(self) -> InboxWorker:
        if self.worker is None:
            raise RuntimeError("SlackTurns.bind() was not called (build_slack_app does it)")
        return self.worker

    @property
    def in_flight(self) -> set[asyncio.Task[None]]:
        return set(self.worker.running) if self.worker is not None else set()

    def start(self) -> None:
        """Keep leases alive and take over what dead processes left (also on the first event)."""
        self._worker().start()

    async def close(self, within_s: float) -> None:
        """Let the turns in flight finish, then hand what is left to the other processes."""
        if self.worker is not None:
            await self.worker.stop(within_s)

    async def drain(self, within_s: float) -> None:
        """Wait for the turns in flight to finish (a graceful shutdown)."""
        for _ in range(3):  # a just-acknowledged event's listener task registers on its first step
            await asyncio.sleep(0)
        pending = [t for t in self.in_flight if t is not asyncio.current_task()]
        if pending:
            await asyncio.wait(pending, timeout=within_s)

    # --- before the acknowledgement ---------------------------------------------------------------

    async def store(self, message: SlackMessage, bot_user_id: str | None) -> bool:
        """Keep a message for the bot in the inbox; True when it is new (so answer it).

        Raises when the database cannot take it: the event must then not be acknowledged.
        """
        if message.kind == "message" and not message.is_direct:
            if message.mentions(bot_user_id) or message.addressed_to_others(bot_user_id):
                return False
            if not message.text.strip():
                return False  # a picture or a file shared among people: not a question
            if not await self._bot_in_thread(message):
                return False
        worker = self._worker()
        stored = await worker.record(
            message.event_id,
            SOURCE,
            message.key().as_string(),
            payload_of(message, bot_user_id),
            at=written_at(message.ts),
        )
        if not stored:
            # Stored before: a copy, or Slack retrying an event this process refused halfway
            # (then it is still this process's to answer).
            stored = await stage_of(self.db, message.event_id) == ("pending", worker.owner)
        if stored and message.kind == "app_mention":
            await self._mark_thread(message)
        return stored

    def submit(self, event_id: str) -> None:
        """After the acknowledgement: answer a stored message (now, or when its turn comes)."""
        worker = self._worker()
        worker.start()
        worker.submit(event_id)

    # --- the turn ------------------------------------------------------------------------------

    async def _process(self, lease: Lease) -> None:
        """Answer (unless an earlier attempt did), then deliver what the thread lacks, then done."""
        message, bot_user_id = message_of(lease.item.payload)
        if lease.item.status == "working":
            asked = await self._ask(message, bot_user_id, lease)
            if asked is None:
                return
            reply, placeholder_ts = asked
            shown = Shown()
        else:  # answered before: deliver the stored answer, minus what the thread shows
            reply = Reply.model_validate(lease.item.payload["reply"])
            shown = await already_shown(self._client(), message, lease.event_id, reply.files)
            placeholder_ts = shown.placeholder_ts
        try:
            await self._deliver(message, reply, lease, shown, placeholder_ts)
        except SlackApiError as exc:
            if exc.response.get("error") not in PERMANENT_ERRORS:
                raise  # rate limits, outages: the inbox retries it, without repeating any part
            log.warning(
                "slack: cannot answer %s (%s); giving up on it",
                lease.event_id,
                exc.response.get("error"),
            )
        await advance_now(
            self.db, lease.event_id, lease.owner, to="done", expect=("answered",), lease_s=0
        )

    async def _ask(
        self, message: SlackMessage, bot_user_id: str | None, lease: Lease
    ) -> tuple[Reply, str | None] | None:
        """The core's answer, kept with the message; None when another process took it over."""
        await self._drop_leftover_placeholder(message, lease)
        progress = ThreadStatus(
            self._client(),
            message.channel,
            message.thread,
            metadata=tagged(reply_tag(lease.event_id), PLACEHOLDER),
        )
        await progress(FIRST_STATUS)
        incoming = message.incoming(bot_user_id).model_copy(update={"lease_owner": lease.owner})
        try:
            reply = await self.handler.handle(incoming, progress)
        except LeaseLost:
            reply = None
        except Exception:
            log.exception("slack: the conversation failed on %s", message.event_id)
            reply = Reply(text=CRASH_TEXT, error=True)
        await progress.settle()
        if reply is not None and await self._keep(reply, lease):
            return reply, progress.placeholder_ts
        log.info("slack: %s was taken over by another process", message.event_id)
        await progress.clear()
        return None

    async def _drop_leftover_placeholder(self, message: SlackMessage, lease: Lease) -> None:
        """Delete the progress message an earlier attempt at this message left in the thread.

        It is deleted, not reused: the process that posted it may still be alive (it lost its
        lease) and would write its status lines over the answer. Only a message taken on
        again reads its thread back, so a first attempt costs no `conversations.replies`
        call (rate-limited for many apps).
        """
        if lease.item.attempts <= 1:
            return
        shown = await already_shown(self._client(), message, lease.event_id, [])
        await drop_placeholder(self._client(), message.channel, shown)

    async def _keep(self, reply: Reply, lease: Lease) -> bool:
        """Keep the answer with the message before posting it; False when the lease was lost.

        The core already did, in the transaction that saved the session (then this is one
        read); a handler without a session (or an error answer) has it written here.
        """
        if await stage_of(self.db, lease.event_id) == ("answered", lease.owner):
            return True
        return await advance_now(
            self.db,
            lease.event_id,
            lease.owner,
            to="answered",
            expect=("working",),
            lease_s=lease.lease_s,
            payload={"reply": reply.model_dump(mode="json")},
        )

    async def _deliver(
        self,
        message: SlackMessage,
        reply: Reply,
        lease: Lease,
        shown: Shown,
        placeholder_ts: str | None,
    ) -> None:
        client = self._client()
        tag = reply_tag(lease.event_id)
        text = reply.model_copy(update={"files": []})
        if shown.whole_text:
            pass
        elif lease.item.status == "working":
            await self.replier.reply(
                client,
                message.channel,
                message.thread,
                text,
                recipient=(message.user_team, message.user),
                placeholder_ts=placeholder_ts,
                metadata=tag,
            )
        else:
            await post_text(
                client,
                message.channel,
                message.thread,
                text,
                placeholder_ts=placeholder_ts,
                metadata=tag,
                skip=shown.parts,
            )
        if reply.files and not shown.files:
            await self._attach(client, message, reply.files)

    async def _attach(
        self, client: AsyncWebClient, message: SlackMessage, files: list[Path]
    ) -> None:
        """Upload the reply's files; a refusal another attempt would meet again is told.

        Transient failures raise, so the inbox tries the upload again; a permanent one (no
        `files:write`, an archived channel) is named in the thread instead of leaving the
        text promising an export that never comes.
        """
        try:
            await upload_files(client, message.channel, message.thread, files)
        except SlackApiError as exc:
            if exc.response.get("error") not in PERMANENT_ERRORS:
                raise
            await note_unattached(
                client, message.channel, message.thread, files, why_unattached(exc)
            )

    async def _give_up(self, lease: Lease) -> None:
        """A message that failed every attempt: say so in its thread (once), and let it go.

        When its answer was shown but its files never got through (Slack's file server kept
        failing), the thread is told which files are missing, or the text's promise of an
        export would be the last word.
        """
        message, _ = message_of(lease.item.payload)
        kept = lease.item.payload.get("reply")
        files = Reply.model_validate(kept).files if kept else []
        try:
            shown = await already_shown(self._client(), message, lease.event_id, files)
            if not (shown.whole_text or shown.parts):
                await post_text(
                    self._client(),
                    message.channel,
                    message.thread,
                    Reply(text=GAVE_UP_TEXT, error=True),
                    placeholder_ts=shown.placeholder_ts,
                    metadata=reply_tag(lease.event_id),
                )
                shown.placeholder_ts = None
            await drop_placeholder(self._client(), message.channel, shown)
            if (shown.whole_text or shown.parts) and files and not shown.files:
                await note_unattached(
                    self._client(),
                    message.channel,
                    message.thread,
                    files,
                    "the upload to Slack kept failing",
                )
        except SlackApiError as exc:
            log.warning("slack: could not say so in the thread (%s)", exc.response.get("error"))
        await advance_now(self.db, lease.event_id, lease.owner, to="done", expect=UNDONE, lease_s=0)

    def _client(self) -> AsyncWebClient:
        if self.client is None:
            raise RuntimeError("SlackTurns.bind() was not called (build_slack_app does it)")
        return self.client

    # --- threads the bot takes part in -----------------------------------------------------------

    async def _bot_in_thread(self, message: SlackMessage) -> bool:
        """A message in a channel continues a conversation only in a thread the bot answered.

        The bot answered a thread when it stored the thread's parent (a mention that started
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
