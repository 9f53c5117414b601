"""What the user sees while agents work: the thread's status line, or an updated placeholder."""

from __future__ import annotations

import asyncio
import contextvars
import logging
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.markup import defuse_mentions
from adapters.slack.replies import escape, trim

log = logging.getLogger(__name__)

STATUS_LIMIT = 100


class ThreadStatus:
    """A `Progress` for one Slack thread.

    Calls return at once: the newest status is sent by a single background task, so a slow
    or rate-limited Slack never holds up the agents, and a burst of updates collapses into
    the latest one. `assistant.threads.setStatus` shows the status under the thread (Slack
    clears it when the bot replies); where Slack refuses it (no `chat:write`, an old
    workspace), a placeholder message in the thread is updated instead, and the reply
    later takes its place.
    """

    def __init__(
        self,
        client: AsyncWebClient,
        channel: str,
        thread_ts: str,
        *,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """`metadata` tags the placeholder message, so a later attempt at the same message
        finds it in the thread (to put the answer in its place, or delete it)."""
        self.client = client
        self.channel = channel
        self.thread_ts = thread_ts
        self.metadata = metadata
        self.placeholder_ts: str | None = None
        self._use_placeholder = False
        self._latest: str | None = None
        self._shown: str | None = None
        self._sender: asyncio.Task[None] | None = None
        self.shown: list[str] = []

    async def __call__(self, status: str) -> None:
        self._latest = trim(" ".join(defuse_mentions(status).split()), STATUS_LIMIT)
        if self._sender is None or self._sender.done():
            # An empty context: the caller's (an agent run's) would keep the run, its results
            # and this object alive in a reference cycle only the full GC pass frees.
            self._sender = asyncio.create_task(self._send_latest(), context=contextvars.Context())

    async def settle(self) -> None:
        """Let the status being sent finish (the reply must not land before it)."""
        sender, self._sender = self._sender, None  # a finished task would keep `self` in a cycle
        if sender is not None:
            try:
                await sender
            except Exception:  # a failed status line never fails the answer
                log.warning("slack: status update failed", exc_info=True)

    async def clear(self) -> None:
        """Remove the status line (when no reply was posted to clear it).

        A placeholder message stays: the process that took the message over finds it by
        its metadata and deletes it.
        """
        await self.settle()
        if self._use_placeholder or self._shown is None:
            return
        try:
            await self.client.assistant_threads_setStatus(
                channel_id=self.channel, thread_ts=self.thread_ts, status=""
            )
        except SlackApiError as exc:
            log.info("slack: could not clear the status: %s", exc.response.get("error"))

    async def _send_latest(self) -> None:
        while self._latest is not None and self._latest != self._shown:
            status = self._latest
            if not self._use_placeholder:
                try:
                    await self.client.assistant_threads_setStatus(
                        channel_id=self.channel, thread_ts=self.thread_ts, status=status
                    )
                except SlackApiError as exc:
                    log.info(
                        "slack: setStatus refused (%s); showing progress in a message",
                        exc.response.get("error"),
                    )
                    self._use_placeholder = True
            if self._use_placeholder:
                await self._show_in_placeholder(status)
            self._shown = status
            self.shown.append(status)

    async def _show_in_placeholder(self, status: str) -> None:
        text = f"_{escape(status)}_"
        if self.placeholder_ts is None:
            kwargs: dict[str, Any] = {"channel": self.channel, "thread_ts": self.thread_ts}
            if self.metadata is not None:
                kwargs["metadata"] = self.metadata
            response = await self.client.chat_postMessage(text=text, **kwargs)
            self.placeholder_ts = response["ts"]
        else:
            await self.client.chat_update(channel=self.channel, ts=self.placeholder_ts, text=text)
