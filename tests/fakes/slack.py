"""A protocol fake of Slack: the Web API methods the bot calls, Socket Mode, and event delivery.

Tests and benchmarks point the bot's `AsyncWebClient` at `fake.api_url` and talk to the bot the
way Slack does: signed Events API POSTs, or envelopes over the Socket Mode WebSocket. The fake
keeps every channel's messages (threads, streamed messages, shared files), records every call,
answers with Slack's response shapes (`{"ok": false, "error": ...}` with HTTP 200, 429 with
`Retry-After`), and can echo the bot's own posts back as `message` events, as Slack does for an
app subscribed to `message.channels`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from slack_sdk.signature import SignatureVerifier

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]

SECTION_TEXT_LIMIT = 3000
MESSAGE_TEXT_LIMIT = 40_000
MAX_BLOCKS = 50


@dataclass
class RecordedCall:
    """One request the bot made: which method, with which arguments, and how it was answered."""

    method: str
    args: dict[str, Any]
    status: int
    response: dict[str, Any]
    at: float


@dataclass
class FakeFile:
    """A file uploaded through the external upload flow."""

    id: str
    filename: str
    length: int
    content: bytes | None = None
    title: str | None = None


@dataclass
class FakeMessage:
    """A message in a channel, as a user would see it."""

    channel: str
    ts: str
    text: str
    user: str
    bot_id: str | None = None
    thread_ts: str | None = None
    blocks: list[dict[str, Any]] = field(default_factory=list)
    files: list[FakeFile] = field(default_factory=list)
    streaming: bool = False
    edited: bool = False
    metadata: dict[str, Any] | None = None
    """Message metadata (`event_type`, `event_payload`) the bot attached, as Slack keeps it."""
    team: str | None = None
    """The writer's own workspace when it is not the app's (Slack Connect); None: the app's."""
    at: float = field(default_factory=time.monotonic)
    """When it was posted, or when its stream was stopped (time.monotonic)."""

    @property
    def from_bot(self) -> bool:
        return self.bot_id is not None

    def in_thread(self, thread_ts: str) -> bool:
        return self.ts == thread_ts or self.thread_ts == thread_ts

    def visible_text(self) -> str:
        """What a reader sees: the blocks' text when there are blocks, else the text."""
        if not self.blocks:
            return self.text
        parts: list[str] = []
        for block in self.blocks:
            text = block.get("text")
            if isinstance(text, dict):
                parts.append(str(text.get("text", "")))
            for element in block.get("elements", []) or []:
                if isinstance(element, dict) and "text" in element:
                    parts.append(str(element["text"]))
        return "\n".join(parts)


@dataclass
class _Injection:
    remaining: int
    status: int = 200
    error: str | None = None
    retry_after: int = 1


class SlackFake:
    """The fake Slack workspace: `async with SlackFake() as slack: slack.api_url ...`."""

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-fake-bot-token",
        app_token: str = "xapp-fake-app-token",
        signing_secret: str = "fake-signing-secret",
        team_id: str = "T0FAKE",
        app_id: str = "A0FAKE",
        bot_user_id: str = "U0BOT",
        bot_id: str = "B0BOT",
        latency_s: float = 0.0,
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.signing_secret = signing_secret
        self.team_id = team_id
        self.app_id = app_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.latency_s = latency_s
        self.calls: list[RecordedCall] = []
        self.messages: dict[str, list[FakeMessage]] = {}
        self.files: dict[str, FakeFile] = {}
        self.statuses: dict[tuple[str, str], list[str]] = {}
        self.socket_acks: dict[str, dict[str, Any]] = {}
        self.echo_bot_messages = False
        self._channel_types: dict[str, str] = {}
        self._by_ts: dict[tuple[str, str], FakeMessage] = {}
        self._by_thread: dict[tuple[str, str], list[FakeMessage]] = {}
        self._thread_changed: dict[tuple[str, str], asyncio.Event] = {}
        self._injections: dict[str, list[_Injection]] = {}
        self._ids = itertools.count(1)
        self._clock = itertools.count(1)
        self._base_time = int(time.time())
        self._runner: web.AppRunner | None = None
        self._port = 0
        self._sockets: list[web.WebSocketResponse] = []
        self._socket_connected = asyncio.Event()
        self._changed = asyncio.Condition()
        self._events_url: str | None = None
        self._http: aiohttp.ClientSession | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self.observers: list[Callable[[RecordedCall], None]] = []
        """Called with each Web API call once carried out, before the bot gets its response."""
        self._handlers: dict[str, Handler] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "files.getUploadURLExternal": self._files_get_upload_url,
            "files.completeUploadExternal": self._files_complete_upload,
            "assistant.threads.setStatus": self._set_status,
            "chat.startStream": self._chat_start_stream,
            "chat.appendStream": self._chat_append_stream,
            "chat.stopStream": self._chat_stop_stream,
            "apps.connections.open": self._apps_connections_open,
            "conversations.replies": self._conversations_replies,
            "chat.delete": self._chat_delete,
        }

    # ---- lifecycle ----------------------------------------------------------------------

    async def __aenter__(self) -> SlackFake:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        app = web.Application(client_max_size=1024**3)
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)
        app.router.add_post("/upload/v1/{file_id}", self._upload)
        app.router.add_get("/link/", self._socket)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._http = aiohttp.ClientSession()

    async def close(self) -> None:
        for task in list(self._background):
            task.cancel()
        for ws in list(self._sockets):
            await ws.close()
        if self._http is not None:
            await self._http.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    @property
    def api_url(self) -> str:
        """What the bot's `SLACK_API_URL` should be."""
        return f"{self.url}/api/"

    # ---- fault injection -----------------------------------------------------------------

    def rate_limit(self, method: str, *, times: int = 1, retry_after: int = 1) -> None:
        """Answer the next `times` calls of `method` with HTTP 429 and `Retry-After`."""
        self._injections.setdefault(method, []).append(
            _Injection(remaining=times, status=429, error="ratelimited", retry_after=retry_after)
        )

    def fail(self, method: str, error: str, *, times: int = 1) -> None:
        """Answer the next `times` calls of `method` with `{"ok": false, "error": error}`."""
        self._injections.setdefault(method, []).append(_Injection(remaining=times, error=error))

    def fail_uploads(self, *, status: int = 500, times: int = 1) -> None:
        """Answer the next `times` POSTs of file bytes to an upload URL with HTTP `status`
        (Slack's file servers do fail now and then; slack-sdk then raises SlackRequestError)."""
        self._injections.setdefault("upload", []).append(
            _Injection(remaining=times, status=status, error="upload_failed")
        )

    def _take_injection(self, method: str) -> _Injection | None:
        queue = self._injections.get(method) or []
        while queue:
            head = queue[0]
            if head.remaining > 0:
                head.remaining -= 1
                return head
            queue.pop(0)
        return None

    # ---- Web API ---------------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await _request_args(request)
        token = _bearer(request) or str(args.pop("token", "") or "")
        args.pop("token", None)
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        status, body, headers = 200, {"ok": False, "error": "unknown_method"}, {}
        injection = self._take_injection(method)
        if injection is not None and injection.status == 429:
            status, body = 429, {"ok": False, "error": "ratelimited"}
            headers = {"Retry-After": str(injection.retry_after)}
        elif injection is not None:
            body = {"ok": False, "error": injection.error}
        elif method not in self._handlers:
            pass
        elif not token:
            body = {"ok": False, "error": "not_authed"}
        elif method == "apps.connections.open" and token != self.app_token:
            body = {"ok": False, "error": "not_allowed_token_type"}
        elif method != "apps.connections.open" and token != self.bot_token:
            body = {"ok": False, "error": "invalid_auth"}
        else:
            body = await self._handlers[method](args)
        call = RecordedCall(method, args, status, body, time.monotonic())
        self.calls.append(call)
        for observe in list(self.observers):
            observe(call)
        await self._notify()
        return web.json_response(body, status=status, headers=headers)

    async def _auth_test(self, _args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://fake-workspace.slack.com/",
            "team": "Fake Workspace",
            "user": "viraltracker",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    async def _chat_post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel") or "")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        text = str(args.get("text") or args.get("markdown_text") or "")
        blocks = _json_list(args.get("blocks"))
        if not text and not blocks:
            return {"ok": False, "error": "no_text"}
        if len(text) > MESSAGE_TEXT_LIMIT:
            return {"ok": False, "error": "msg_too_long"}
        problem = _block_problem(blocks)
        if problem:
            return {"ok": False, "error": "invalid_blocks", "errors": [problem]}
        thread_ts = args.get("thread_ts") or None
        if thread_ts and not self._find(channel, str(thread_ts)):
            # Slack posts to the channel when the parent is unknown; tests want to know.
            return {"ok": False, "error": "thread_not_found"}
        message = self._add_bot_message(channel, text, thread_ts=thread_ts, blocks=blocks)
        message.metadata = _json_dict(args.get("metadata"))
        return {"ok": True, "channel": channel, "ts": message.ts, "message": self._wire(message)}

    async def _chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(args.get("channel") or ""), str(args.get("ts") or "")
        message = self._find(channel, ts)
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        if not message.from_bot:
            return {"ok": False, "error": "cant_update_message"}
        blocks = _json_list(args.get("blocks"))
        problem = _block_problem(blocks)
        if problem:
            return {"ok": False, "error": "invalid_blocks", "errors": [problem]}
        text = str(args.get("text") or args.get("markdown_text") or "")
        if len(text) > MESSAGE_TEXT_LIMIT:
            return {"ok": False, "error": "msg_too_long"}
        if text:
            message.text = text
        if "blocks" in args:
            message.blocks = blocks
        if "metadata" in args:
            message.metadata = _json_dict(args.get("metadata"))
        message.edited = True
        self._touch(message)
        return {
            "ok": True,
            "channel": channel,
            "ts": ts,
            "text": message.text,
            "message": self._wire(message),
        }

    async def _set_status(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, thread_ts = str(args.get("channel_id") or ""), str(args.get("thread_ts") or "")
        if not channel or not thread_ts or "status" not in args:
            return {"ok": False, "error": "invalid_arguments"}
        self.statuses.setdefault((channel, thread_ts), []).append(str(args["status"]))
        return {"ok": True}

    async def _chat_start_stream(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, thread_ts = str(args.get("channel") or ""), str(args.get("thread_ts") or "")
        if not channel or not thread_ts:
            return {"ok": False, "error": "invalid_arguments"}
        if not self._find(channel, thread_ts):
            return {"ok": False, "error": "thread_not_found"}
        missing = self._missing_recipient(channel, args)
        if missing:
            return {"ok": False, "error": missing}
        text = str(args.get("markdown_text") or "") + _chunk_text(args.get("chunks"))
        message = self._add_bot_message(channel, text, thread_ts=thread_ts, streaming=True)
        return {"ok": True, "channel": channel, "ts": message.ts}

    def _missing_recipient(self, channel: str, args: dict[str, Any]) -> str | None:
        """Slack's refusal of a stream outside a DM that does not name who it is for.

        In channels (and group DMs) Slack requires `recipient_team_id` and
        `recipient_user_id`; only a direct message may go without them.
        """
        if self._channel_types.get(channel) == "im":
            return None
        if not args.get("recipient_team_id"):
            return "missing_recipient_team_id"
        if not args.get("recipient_user_id"):
            return "missing_recipient_user_id"
        return None

    async def _chat_append_stream(self, args: dict[str, Any]) -> dict[str, Any]:
        message = self._find(str(args.get("channel") or ""), str(args.get("ts") or ""))
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        if not message.streaming:
            return {"ok": False, "error": "message_not_in_streaming_state"}
        message.text += str(args.get("markdown_text") or "") + _chunk_text(args.get("chunks"))
        return {"ok": True, "channel": message.channel, "ts": message.ts}

    async def _chat_stop_stream(self, args: dict[str, Any]) -> dict[str, Any]:
        message = self._find(str(args.get("channel") or ""), str(args.get("ts") or ""))
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        if not message.streaming:
            return {"ok": False, "error": "message_not_in_streaming_state"}
        message.text += str(args.get("markdown_text") or "") + _chunk_text(args.get("chunks"))
        blocks = _json_list(args.get("blocks"))
        if blocks:
            message.blocks = blocks
        message.metadata = _json_dict(args.get("metadata")) or message.metadata
        message.streaming = False
        message.at = time.monotonic()
        self._touch(message)
        return {
            "ok": True,
            "channel": message.channel,
            "ts": message.ts,
            "message": self._wire(message),
        }

    async def _files_get_upload_url(self, args: dict[str, Any]) -> dict[str, Any]:
        filename, length = args.get("filename"), args.get("length")
        if not filename or length in (None, ""):
            return {"ok": False, "error": "invalid_arguments"}
        file = FakeFile(id=f"F{next(self._ids):08d}", filename=str(filename), length=int(length))
        self.files[file.id] = file
        return {"ok": True, "upload_url": f"{self.url}/upload/v1/{file.id}", "file_id": file.id}

    async def _upload(self, request: web.Request) -> web.Response:
        file = self.files.get(request.match_info["file_id"])
        data = await request.read()
        self.calls.append(
            RecordedCall("upload", {"file_id": request.match_info["file_id"]}, 200, {}, 0.0)
        )
        if file is None:
            return web.Response(status=404, text="Not Found", content_type="text/plain")
        injection = self._take_injection("upload")
        if injection is not None:
            return web.Response(status=injection.status, text="Error", content_type="text/plain")
        file.content = data
        return web.Response(text=f"OK - {len(data)}", content_type="text/plain")

    async def _files_complete_upload(self, args: dict[str, Any]) -> dict[str, Any]:
        entries = _json_list(args.get("files"))
        if not entries:
            return {"ok": False, "error": "invalid_arguments"}
        uploaded: list[FakeFile] = []
        for entry in entries:
            file = self.files.get(str(entry.get("id")))
            if file is None or file.content is None:
                return {"ok": False, "error": "file_not_found"}
            file.title = entry.get("title") or file.filename
            uploaded.append(file)
        channel = args.get("channel_id")
        if channel:
            thread_ts = args.get("thread_ts") or None
            comment = str(args.get("initial_comment") or "")
            message = self._add_bot_message(str(channel), comment, thread_ts=thread_ts)
            message.files = uploaded
        return {"ok": True, "files": [{"id": f.id, "title": f.title} for f in uploaded]}

    async def _conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        """A thread, parent first; metadata only with `include_all_metadata`; cursor paging."""
        channel, ts = str(args.get("channel") or ""), str(args.get("ts") or "")
        if self._find(channel, ts) is None:
            return {"ok": False, "error": "thread_not_found"}
        with_metadata = str(args.get("include_all_metadata", "")).lower() in ("1", "true")
        limit = max(1, min(int(args.get("limit") or 100), 1000))
        start = int(args.get("cursor") or 0)
        thread = self.thread(channel, ts)
        page = thread[start : start + limit]
        messages = []
        for message in page:
            wire = self._wire(message)
            if message.files:
                wire["files"] = [
                    {"id": f.id, "name": f.filename, "title": f.title} for f in message.files
                ]
            if with_metadata and message.metadata:
                wire["metadata"] = message.metadata
            messages.append(wire)
        more = start + limit < len(thread)
        return {
            "ok": True,
            "messages": messages,
            "has_more": more,
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }

    async def _chat_delete(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(args.get("channel") or ""), str(args.get("ts") or "")
        message = self._find(channel, ts)
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        if not message.from_bot:
            return {"ok": False, "error": "cant_delete_message"}
        self.messages[channel].remove(message)
        del self._by_ts[(channel, ts)]
        self._by_thread[(channel, message.thread_ts or message.ts)].remove(message)
        self._touch(message)
        return {"ok": True, "channel": channel, "ts": ts}

    async def _apps_connections_open(self, _args: dict[str, Any]) -> dict[str, Any]:
        ticket = uuid.uuid4().hex
        url = f"ws://127.0.0.1:{self._port}/link/?ticket={ticket}&app_id={self.app_id}"
        return {"ok": True, "url": url}

    # ---- the workspace's messages ------------------------------------------------------------

    def _next_ts(self) -> str:
        return f"{self._base_time}.{next(self._clock):06d}"

    def _find(self, channel: str, ts: str) -> FakeMessage | None:
        return self._by_ts.get((channel, ts))

    def _store(self, message: FakeMessage) -> None:
        self.messages.setdefault(message.channel, []).append(message)
        self._by_ts[(message.channel, message.ts)] = message
        thread = message.thread_ts or message.ts
        self._by_thread.setdefault((message.channel, thread), []).append(message)
        self._touch(message)

    def _touch(self, message: FakeMessage) -> None:
        """Wake whoever waits on the message's thread."""
        event = self._thread_changed.pop((message.channel, message.thread_ts or message.ts), None)
        if event is not None:
            event.set()

    def _add_bot_message(
        self,
        channel: str,
        text: str,
        *,
        thread_ts: Any = None,
        blocks: list[dict[str, Any]] | None = None,
        streaming: bool = False,
    ) -> FakeMessage:
        message = FakeMessage(
            channel=channel,
            ts=self._next_ts(),
            text=text,
            user=self.bot_user_id,
            bot_id=self.bot_id,
            thread_ts=str(thread_ts) if thread_ts else None,
            blocks=blocks or [],
            streaming=streaming,
        )
        self._store(message)
        if self.echo_bot_messages:
            self._spawn(self.send_event(self.message_event(message)))
        return message

    def _wire(self, message: FakeMessage) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "type": "message",
            "text": message.text,
            "user": message.user,
            "ts": message.ts,
            "team": self.team_id,
            "app_id": self.app_id,
        }
        if message.bot_id:
            wire["bot_id"] = message.bot_id
        if message.blocks:
            wire["blocks"] = message.blocks
        if message.thread_ts:
            wire["thread_ts"] = message.thread_ts
        return wire

    def thread(self, channel: str, thread_ts: str) -> list[FakeMessage]:
        """Every message of a thread, the parent first, in posting order."""
        return list(self._by_thread.get((channel, thread_ts), []))

    def bot_replies(self, channel: str, thread_ts: str) -> list[FakeMessage]:
        """This bot's messages in a thread (text replies and file shares)."""
        return [
            m
            for m in self.thread(channel, thread_ts)
            if m.bot_id == self.bot_id and m.ts != thread_ts
        ]

    def calls_to(self, method: str) -> list[RecordedCall]:
        return [call for call in self.calls if call.method == method]

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_for(self, predicate: Callable[[], bool], *, within: float = 60.0) -> None:
        """Wait until `predicate()` holds (re-checked on every call the fake receives)."""

        async def check() -> None:
            async with self._changed:
                while not predicate():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._changed.wait(), 0.5)

        await asyncio.wait_for(check(), within)

    async def wait_for_reply(
        self,
        channel: str,
        thread_ts: str,
        *,
        count: int = 1,
        files: int = 0,
        within: float = 60.0,
    ) -> list[FakeMessage]:
        """Wait until the bot has finished `count` text replies and shared `files` files there."""

        def done() -> bool:
            replies = self.bot_replies(channel, thread_ts)
            texts = [m for m in replies if m.text and not m.files and not m.streaming]
            shared = sum(len(m.files) for m in replies)
            return len(texts) >= count and shared >= files

        async def watch() -> None:
            while not done():
                event = self._thread_changed.setdefault((channel, thread_ts), asyncio.Event())
                await event.wait()

        await asyncio.wait_for(watch(), within)
        return self.bot_replies(channel, thread_ts)

    # ---- users talking: events -----------------------------------------------------------------

    def user_says(
        self,
        channel: str,
        text: str,
        *,
        user: str = "U0ALICE",
        thread_ts: str | None = None,
        channel_type: str = "channel",
        team: str | None = None,
    ) -> FakeMessage:
        """A person posts a message; returns it (its `ts` names the thread it starts).

        `team`: the person's own workspace, for someone from another organisation writing in
        a Slack Connect channel shared with the app's workspace.
        """
        message = FakeMessage(
            channel=channel,
            ts=self._next_ts(),
            text=text,
            user=user,
            thread_ts=thread_ts,
            team=team,
        )
        self._store(message)
        self._channel_types[channel] = channel_type
        return message

    def mention(self, message: FakeMessage) -> dict[str, Any]:
        """The `app_mention` event Slack sends for a message that @mentions the bot."""
        event = self._event_fields(message)
        event["type"] = "app_mention"
        event.pop("channel_type", None)
        return self.envelope(event)

    def message_event(self, message: FakeMessage) -> dict[str, Any]:
        """The `message` event Slack sends to an app subscribed to the channel's messages."""
        event = self._event_fields(message)
        event["type"] = "message"
        return self.envelope(event)

    def _event_fields(self, message: FakeMessage) -> dict[str, Any]:
        event: dict[str, Any] = {
            "user": message.user,
            "text": message.text,
            "ts": message.ts,
            "team": self.team_id,
            "channel": message.channel,
            "event_ts": message.ts,
            "channel_type": self._channel_types.get(message.channel, "channel"),
        }
        if message.team is not None and message.team != self.team_id:
            # Slack Connect: the event names the writer's workspace (the envelope's team_id
            # stays the app's) and the envelope says the channel is shared.
            event.update(team=message.team, user_team=message.team, source_team=message.team)
        if message.bot_id:
            event["bot_id"] = message.bot_id
            event["app_id"] = self.app_id
            event["bot_profile"] = {"id": message.bot_id, "app_id": self.app_id, "name": "bot"}
        else:
            event["client_msg_id"] = str(uuid.uuid4())
        if message.thread_ts:
            event["thread_ts"] = message.thread_ts
            parent = self._find(message.channel, message.thread_ts)
            if parent is not None:
                event["parent_user_id"] = parent.user
        return event

    def envelope(self, event: dict[str, Any], *, event_id: str | None = None) -> dict[str, Any]:
        """The Events API `event_callback` body around an event."""
        return {
            "token": "legacy-verification-token",
            "team_id": self.team_id,
            "context_team_id": self.team_id,
            "context_enterprise_id": None,
            "api_app_id": self.app_id,
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": self.team_id,
                    "user_id": self.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": event.get("user_team", self.team_id) != self.team_id,
            "event_context": f"4-{uuid.uuid4().hex}",
        }

    def signed_headers(
        self, body: str, *, timestamp: int | None = None, secret: str | None = None
    ) -> dict[str, str]:
        """The `X-Slack-Signature` and `X-Slack-Request-Timestamp` Slack adds to a request."""
        ts = str(int(time.time()) if timestamp is None else timestamp)
        verifier = SignatureVerifier(secret or self.signing_secret)
        signature = verifier.generate_signature(timestamp=ts, body=body)
        return {
            "Content-Type": "application/json",
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": signature,
        }

    def deliver_to(self, events_url: str) -> None:
        """Send events to the bot's HTTP endpoint (HTTP mode)."""
        self._events_url = events_url

    async def post_event(
        self,
        body: dict[str, Any] | str,
        *,
        url: str | None = None,
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
        headers: dict[str, str] | None = None,
    ) -> tuple[int, str]:
        """POST one signed event to the app, as Slack does; returns (status, response body)."""
        raw = body if isinstance(body, str) else json.dumps(body)
        target = url or self._events_url
        assert target, "call deliver_to(url) or pass url="
        sent = headers if headers is not None else self.signed_headers(raw)
        if retry_num is not None:
            sent = {
                **sent,
                "X-Slack-Retry-Num": str(retry_num),
                "X-Slack-Retry-Reason": retry_reason,
            }
        assert self._http is not None
        async with self._http.post(target, data=raw.encode(), headers=sent) as response:
            return response.status, await response.text()

    async def send_event(self, body: dict[str, Any]) -> None:
        """Deliver an event over whichever transport the bot uses (HTTP or Socket Mode)."""
        if self._sockets:
            await self.push_envelope(body)
        elif self._events_url:
            await self.post_event(body)

    async def settle(self) -> None:
        """Wait until the events the fake sent on its own (echoes) were delivered."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # ---- Socket Mode ---------------------------------------------------------------------------

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": len(self._sockets),
                "debug_info": {"host": "fake-socket", "approximate_connection_time": 18060},
                "connection_info": {"app_id": self.app_id},
            }
        )
        self._socket_connected.set()
        try:
            async for frame in ws:
                if frame.type == aiohttp.WSMsgType.TEXT:
                    ack = json.loads(frame.data)
                    if "envelope_id" in ack:
                        self.socket_acks[ack["envelope_id"]] = ack
                        await self._notify()
        finally:
            self._sockets.remove(ws)
            if not self._sockets:
                self._socket_connected.clear()
        return ws

    async def wait_for_socket(self, within: float = 30.0) -> None:
        await asyncio.wait_for(self._socket_connected.wait(), within)

    async def push_envelope(
        self,
        body: dict[str, Any],
        *,
        envelope_id: str | None = None,
        retry_attempt: int = 0,
        retry_reason: str = "",
    ) -> str:
        """Send an Events API envelope over the open Socket Mode connection; returns its id."""
        envelope_id = envelope_id or str(uuid.uuid4())
        frame = {
            "envelope_id": envelope_id,
            "payload": body,
            "type": "events_api",
            "accepts_response_payload": False,
            "retry_attempt": retry_attempt,
            "retry_reason": retry_reason,
        }
        await self.wait_for_socket()
        await self._sockets[-1].send_str(json.dumps(frame))
        return envelope_id

    async def wait_for_ack(self, envelope_id: str, within: float = 30.0) -> dict[str, Any]:
        await self.wait_for(lambda: envelope_id in self.socket_acks, within=within)
        return self.socket_acks[envelope_id]


# ---- request parsing ------------------------------------------------------------------------


async def _request_args(request: web.Request) -> dict[str, Any]:
    """Slack reads arguments from the query string, a form body or a JSON body alike."""
    args: dict[str, Any] = dict(request.query)
    if request.can_read_body:
        if request.content_type == "application/json":
            payload = await request.json()
            if isinstance(payload, dict):
                args.update(payload)
        else:
            form = await request.post()
            args.update({k: v for k, v in form.items() if isinstance(v, str)})
    return args


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    return header[7:] if header.startswith("Bearer ") else None


def _json_list(value: Any) -> list[dict[str, Any]]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        value = json.loads(value)
    return list(value)


def _json_dict(value: Any) -> dict[str, Any] | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = json.loads(value)
    return dict(value) if isinstance(value, dict) else None


def _chunk_text(chunks: Any) -> str:
    return "".join(
        str(c.get("text", "")) for c in _json_list(chunks) if c.get("type") == "markdown_text"
    )


def _block_problem(blocks: list[dict[str, Any]]) -> str | None:
    """Slack refuses a message whose blocks break its limits; say which rule broke."""
    if len(blocks) > MAX_BLOCKS:
        return f"must provide no more than {MAX_BLOCKS} items [json-pointer:/blocks]"
    for i, block in enumerate(blocks):
        kind = block.get("type")
        text = block.get("text")
        if kind == "section":
            if not isinstance(text, dict) or not text.get("text"):
                return f"section needs text [json-pointer:/blocks/{i}/text]"
            if len(str(text["text"])) > SECTION_TEXT_LIMIT:
                return f"must be less than {SECTION_TEXT_LIMIT + 1} characters "
        if kind == "header" and (not isinstance(text, dict) or len(str(text["text"])) > 150):
            return f"header text must be less than 151 characters [json-pointer:/blocks/{i}]"
    return None
