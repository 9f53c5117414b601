"""A protocol fake of Discord (REST API + gateway WebSocket) that a real discord.py client talks to.

The fake speaks Discord's wire format: REST answers carry `Content-Type: application/json` exactly
(discord.py reads anything else as text), the gateway says HELLO, takes IDENTIFY, sends READY
(with `resume_gateway_url`) and GUILD_CREATE, acknowledges heartbeats, and dispatches
INTERACTION_CREATE / MESSAGE_CREATE / THREAD_CREATE with the payload shapes Discord sends. It keeps
what a user would see (messages per channel, threads, attachments), records every REST call, and
enforces the rules a real bot trips over: the 3-second first response, the 15-minute interaction
token, one acknowledgement per interaction, message and embed limits, attachment size limits, and
the message-content intent. Faults (HTTP errors, 429s) can be injected per route.

    async with DiscordFake() as fake:
        settings = Settings(discord_token=fake.token, discord_api_url=fake.api_url,
                            discord_gateway_url=fake.gateway_url, ...)
        ...
        interaction = await fake.slash("viral", "ask", {"query": "bitcoin"})
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import WSMsgType, web

DISCORD_EPOCH_MS = 1420070400000
API_PREFIX = "/api/v10"
JSON_TYPE = "application/json"
INTERACTION_TOKEN_TTL_S = 15 * 60
NONCE_WINDOW = timedelta(minutes=5)  # how long Discord enforces a message nonce
FIRST_RESPONSE_DEADLINE_S = 3.0
DEFAULT_ATTACHMENT_LIMIT = 10 * 1024 * 1024
HEARTBEAT_INTERVAL_MS = 41250

# Gateway opcodes and intents (the subset this fake needs).
OP_DISPATCH, OP_HEARTBEAT, OP_IDENTIFY, OP_RESUME = 0, 1, 2, 6
OP_INVALID_SESSION, OP_HELLO, OP_HEARTBEAT_ACK = 9, 10, 11
INTENT_GUILDS, INTENT_GUILD_MESSAGES, INTENT_MESSAGE_CONTENT = 1 << 0, 1 << 9, 1 << 15

# Channel, message and interaction types.
GUILD_TEXT, PUBLIC_THREAD, PRIVATE_THREAD, GUILD_FORUM = 0, 11, 12, 15
MESSAGE_DEFAULT, MESSAGE_CHAT_INPUT_COMMAND = 0, 20
FLAG_EPHEMERAL, FLAG_LOADING = 1 << 6, 1 << 7
INTERACTION_APPLICATION_COMMAND = 2
CALLBACK_MESSAGE, CALLBACK_DEFERRED = 4, 5

ALL_PERMISSIONS = str((1 << 50) - 1)
COMMAND_NAME = re.compile(r"^[-_\w]{1,32}$")
OPTION_TYPES = set(range(1, 12))


def snowflake_at(moment: datetime, sequence: int) -> int:
    """A Discord id: milliseconds since the Discord epoch in the high bits, a counter below."""
    ms = int(moment.timestamp() * 1000)
    return ((ms - DISCORD_EPOCH_MS) << 22) | (sequence & 0xFFF)


def snowflake_time(value: int) -> datetime:
    return datetime.fromtimestamp(((value >> 22) + DISCORD_EPOCH_MS) / 1000, tz=UTC)


def iso(moment: datetime) -> str:
    return moment.isoformat()


class DiscordError(Exception):
    """An error answer in Discord's JSON shape: HTTP status, numeric code, message."""

    def __init__(self, status: int, code: int, message: str, errors: Any = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.errors = status, code, message, errors

    def body(self) -> dict[str, Any]:
        data: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors is not None:
            data["errors"] = self.errors
        return data


def invalid_form(reason: str) -> DiscordError:
    return DiscordError(400, 50035, "Invalid Form Body", {"_errors": [{"message": reason}]})


@dataclass
class Upload:
    """A file part of a multipart request (`files[n]`)."""

    field: str
    filename: str
    data: bytes


@dataclass
class Call:
    """One REST request the client made, as the fake received it."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    uploads: list[Upload]
    content_type: str
    authorization: str | None
    status: int = 0

    def route(self) -> str:
        return f"{self.method} {self.path}"


CALL = web.RequestKey("call", Call)


@dataclass
class Fault:
    """An injected answer for the next matching request(s)."""

    method: str
    pattern: re.Pattern[str]
    status: int
    body: dict[str, Any]
    headers: dict[str, str]
    times: int


@dataclass
class FakeInteraction:
    """An interaction the fake dispatched, and what the bot did with it."""

    payload: dict[str, Any]
    dispatched_at: float
    callbacks: list[dict[str, Any]] = field(default_factory=list)
    original_message_id: int | None = None
    followup_ids: list[int] = field(default_factory=list)

    @property
    def id(self) -> int:
        return int(self.payload["id"])

    @property
    def token(self) -> str:
        return str(self.payload["token"])

    @property
    def channel_id(self) -> int:
        return int(self.payload["channel_id"])


@dataclass
class GatewaySession:
    """One gateway connection (one shard) of the client."""

    ws: web.WebSocketResponse
    session_id: str = field(default_factory=lambda: secrets.token_hex(16))
    sequence: int = 0
    shard: tuple[int, int] = (0, 1)
    intents: int = 0
    identify: dict[str, Any] | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    heartbeats: int = 0


class DiscordFake:
    """Discord's REST API and gateway on 127.0.0.1, with the state a user would see."""

    def __init__(
        self,
        *,
        token: str | None = None,
        application_id: int | None = None,
        attachment_size_limit: int = DEFAULT_ATTACHMENT_LIMIT,
        enforce_first_response_deadline: bool = True,
    ) -> None:
        self._ids = itertools.count(1)
        self.token = token or f"fake.{secrets.token_urlsafe(24)}"
        self.application_id = application_id or self.new_id()
        self.attachment_size_limit = attachment_size_limit
        self.enforce_first_response_deadline = enforce_first_response_deadline
        self.bot_user = self._user_payload(self.application_id, "viraltracker", bot=True)
        self.calls: list[Call] = []
        self.guilds: dict[int, dict[str, Any]] = {}
        self.channels: dict[int, dict[str, Any]] = {}
        self.messages: dict[int, list[dict[str, Any]]] = {}
        self.uploads: dict[int, bytes] = {}
        self.interactions: dict[int, FakeInteraction] = {}
        self.global_commands: list[dict[str, Any]] = []
        self.guild_commands: dict[int, list[dict[str, Any]]] = {}
        self.sessions: list[GatewaySession] = []
        self._faults: list[Fault] = []
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.user = self.add_user("alice")

    # --- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> DiscordFake:
        app = web.Application(middlewares=[self._record], client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway)
        api = API_PREFIX
        routes = [
            ("GET", "/users/@me", self._get_me),
            ("GET", "/oauth2/applications/@me", self._get_application),
            ("GET", "/gateway/bot", self._get_gateway_bot),
            ("POST", "/interactions/{iid}/{token}/callback", self._interaction_callback),
            ("POST", "/webhooks/{app}/{token}", self._followup),
            ("GET", "/webhooks/{app}/{token}/messages/{mid}", self._get_webhook_message),
            ("PATCH", "/webhooks/{app}/{token}/messages/{mid}", self._edit_webhook_message),
            ("DELETE", "/webhooks/{app}/{token}/messages/{mid}", self._delete_webhook_message),
            ("GET", "/channels/{cid}", self._get_channel),
            ("POST", "/channels/{cid}/threads", self._create_thread),
            ("POST", "/channels/{cid}/messages/{mid}/threads", self._create_thread),
            ("POST", "/channels/{cid}/messages", self._create_message),
            ("PATCH", "/channels/{cid}/messages/{mid}", self._edit_message),
            ("POST", "/channels/{cid}/typing", self._typing),
            ("GET", "/applications/{app}/commands", self._get_commands),
            ("PUT", "/applications/{app}/commands", self._put_commands),
            ("GET", "/applications/{app}/guilds/{gid}/commands", self._get_commands),
            ("PUT", "/applications/{app}/guilds/{gid}/commands", self._put_commands),
        ]
        for method, path, handler in routes:
            app.router.add_route(method, api + path, handler)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *_exc: object) -> None:
        for session in list(self.sessions):
            await session.ws.close(code=1001)
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        """What `DISCORD_API_URL` is set to (discord.py's `Route.BASE`)."""
        return self.base_url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        """What `DISCORD_GATEWAY_URL` is set to (discord.py's `DEFAULT_GATEWAY`)."""
        return f"ws://127.0.0.1:{self.port}/gateway"

    # --- world building ----------------------------------------------------------------------

    def new_id(self, at: datetime | None = None) -> int:
        return snowflake_at(at or datetime.now(UTC), next(self._ids))

    def add_user(self, username: str, *, bot: bool = False) -> dict[str, Any]:
        return self._user_payload(self.new_id(), username, bot=bot)

    def add_guild(self, name: str = "Viral Lab", channels: tuple[str, ...] = ("general",)) -> int:
        """A guild the bot is in, with text channels; returns the guild id."""
        guild_id = self.new_id()
        self.guilds[guild_id] = {"id": str(guild_id), "name": name, "channel_ids": []}
        for position, channel_name in enumerate(channels):
            self.add_text_channel(guild_id, channel_name, position=position)
        return guild_id

    def add_text_channel(self, guild_id: int, name: str, *, position: int = 0) -> int:
        channel_id = self.new_id()
        self.channels[channel_id] = {
            "id": str(channel_id),
            "type": GUILD_TEXT,
            "guild_id": str(guild_id),
            "name": name,
            "position": position,
            "permission_overwrites": [],
            "parent_id": None,
            "topic": None,
            "nsfw": False,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "flags": 0,
        }
        self.guilds[guild_id]["channel_ids"].append(channel_id)
        self.messages[channel_id] = []
        return channel_id

    def add_forum_channel(self, guild_id: int, name: str, *, position: int = 0) -> int:
        """A forum channel: it holds posts (threads), and messages go in posts, never in it."""
        channel_id = self.add_text_channel(guild_id, name, position=position)
        self.channels[channel_id]["type"] = GUILD_FORUM
        return channel_id

    def text_channels(self, guild_id: int) -> list[int]:
        return list(self.guilds[guild_id]["channel_ids"])

    def add_thread(self, channel_id: int, name: str, *, owner_id: int | None = None) -> int:
        """A thread that exists before the test starts (e.g. one a user opened)."""
        return int(self._new_thread(channel_id, name, owner_id or int(self.user["id"]))["id"])

    # --- faults ------------------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        path_pattern: str,
        *,
        status: int = 500,
        code: int = 0,
        message: str = "Internal Server Error",
        times: int = 1,
    ) -> None:
        """The next `times` requests matching `METHOD path_pattern` (regex on the path) fail."""
        body = {"message": message, "code": code}
        self._faults.append(Fault(method, re.compile(path_pattern), status, body, {}, times))

    def rate_limit_next(self, method: str, path_pattern: str, *, retry_after: float = 0.2) -> None:
        """The next matching request gets a 429 the way Discord sends it (via its proxy)."""
        body = {
            "message": "You are being rate limited.",
            "retry_after": retry_after,
            "global": False,
        }
        headers = {
            "Via": "1.1 google",
            "Retry-After": str(max(1, round(retry_after))),
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset-After": str(retry_after),
            "X-RateLimit-Bucket": "fake-bucket",
            "X-RateLimit-Scope": "user",
        }
        self._faults.append(Fault(method, re.compile(path_pattern), 429, body, headers, 1))

    # --- what the test drives ----------------------------------------------------------------

    async def wait_connected(self, within: float = 30.0) -> GatewaySession:
        """Until a client has identified and received READY and its GUILD_CREATEs."""
        await self.wait_for(lambda: any(s.ready.is_set() for s in self.sessions), within)
        return next(s for s in self.sessions if s.ready.is_set())

    async def slash(
        self,
        command: str,
        subcommand: str | None = None,
        options: dict[str, Any] | None = None,
        *,
        guild_id: int | None = None,
        channel_id: int | None = None,
        user: dict[str, Any] | None = None,
        created_at: datetime | None = None,
    ) -> FakeInteraction:
        """A user runs `/command subcommand options...`; dispatched as INTERACTION_CREATE.

        The command must have been registered (PUT .../commands), as on Discord: options are
        checked and typed against the registered schema. `created_at` backdates the interaction
        id (its token expires 15 minutes after it).
        """
        guild_id = guild_id or next(iter(self.guilds))
        channel_id = channel_id or self.text_channels(guild_id)[0]
        registered = self._find_command(command, guild_id)
        data: dict[str, Any] = {"id": registered["id"], "name": command, "type": 1}
        if registered.get("guild_id"):
            data["guild_id"] = registered["guild_id"]
        data["options"] = self._typed_options(registered, subcommand, options or {})
        payload = self._interaction_payload(data, guild_id, channel_id, user, created_at)
        return await self.deliver_interaction(payload)

    async def deliver_interaction(self, payload: dict[str, Any]) -> FakeInteraction:
        """Dispatch an INTERACTION_CREATE (again, for a redelivery) and track its responses."""
        interaction = self.interactions.get(int(payload["id"]))
        if interaction is None:
            interaction = FakeInteraction(payload, time.monotonic())
            self.interactions[interaction.id] = interaction
        await self.dispatch("INTERACTION_CREATE", payload, guild_id=int(payload["guild_id"]))
        return interaction

    async def user_message(
        self,
        channel_id: int,
        content: str,
        *,
        author: dict[str, Any] | None = None,
        mention_bot: bool = False,
    ) -> dict[str, Any]:
        """Someone posts in a channel or thread; dispatched as MESSAGE_CREATE."""
        author = author or self.user
        if mention_bot:
            content = f"<@{self.application_id}> {content}"
        mentions = [self.bot_user] if mention_bot else []
        message = self._store_message(channel_id, author, content=content, mentions=mentions)
        await self._dispatch_message(message)
        return message

    async def dispatch(self, event: str, data: dict[str, Any], *, guild_id: int | None) -> None:
        """Send a DISPATCH to the connection whose shard owns the guild."""
        for session in self.sessions:
            if not session.ready.is_set() or session.ws.closed:
                continue
            shard_id, shard_count = session.shard
            owner = ((guild_id or 0) >> 22) % shard_count
            if owner == shard_id:
                await self._send_dispatch(session, event, data)

    async def drop_connections(self, code: int = 4000) -> None:
        """Close every gateway connection from Discord's side (the client should RESUME)."""
        for session in list(self.sessions):
            session.ready.clear()
            await session.ws.close(code=code, message=b"fake: connection dropped")

    async def wait_for(self, predicate: Callable[[], Any], within: float = 30.0) -> Any:
        """Until `predicate()` is truthy; re-checked after every request the fake handles."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(predicate), within)
        return predicate()

    # --- what the test inspects --------------------------------------------------------------

    def calls_to(self, method: str, path_pattern: str) -> list[Call]:
        pattern = re.compile(path_pattern)
        return [c for c in self.calls if c.method == method and pattern.search(c.path)]

    def threads_of(self, channel_id: int) -> list[dict[str, Any]]:
        return [
            c
            for c in self.channels.values()
            if c["type"] in (PUBLIC_THREAD, PRIVATE_THREAD) and c["parent_id"] == str(channel_id)
        ]

    def visible(self, channel_id: int) -> list[dict[str, Any]]:
        """Messages everyone sees in a channel (ephemeral ones excluded), oldest first."""
        return [
            m for m in self.messages.get(channel_id, []) if not m.get("flags", 0) & FLAG_EPHEMERAL
        ]

    def bot_messages(self, channel_id: int) -> list[dict[str, Any]]:
        return [m for m in self.messages.get(channel_id, []) if m["author"]["id"] == self.bot_id]

    def message(self, message_id: int) -> dict[str, Any] | None:
        for messages in self.messages.values():
            for message in messages:
                if message["id"] == str(message_id):
                    return message
        return None

    def original_response(self, interaction: FakeInteraction) -> dict[str, Any] | None:
        if interaction.original_message_id is None:
            return None
        return self.message(interaction.original_message_id)

    def followups(self, interaction: FakeInteraction) -> list[dict[str, Any]]:
        found = (self.message(mid) for mid in interaction.followup_ids)
        return [m for m in found if m is not None]

    def attachment_bytes(self, attachment: dict[str, Any]) -> bytes:
        return self.uploads[int(attachment["id"])]

    @property
    def bot_id(self) -> str:
        return str(self.application_id)

    # --- REST: middleware --------------------------------------------------------------------

    @web.middleware
    async def _record(
        self, request: web.Request, handler: Callable[..., Any]
    ) -> web.StreamResponse:
        if request.path == "/gateway":
            return await handler(request)
        body, uploads = await self._read_body(request)
        call = Call(
            method=request.method,
            path=request.path.removeprefix(API_PREFIX),
            query=dict(request.query),
            json=body,
            uploads=uploads,
            content_type=request.headers.get("Content-Type", ""),
            authorization=request.headers.get("Authorization"),
        )
        self.calls.append(call)
        request[CALL] = call
        try:
            response = self._injected_fault(call) or await handler(request)
        except DiscordError as exc:
            response = self._json(exc.body(), status=exc.status)
        call.status = response.status
        async with self._changed:
            self._changed.notify_all()
        return response

    async def _read_body(self, request: web.Request) -> tuple[Any, list[Upload]]:
        """JSON bodies as-is; multipart as discord.py sends it: `payload_json` + `files[n]`."""
        if request.content_type == "multipart/form-data":
            payload: Any = None
            uploads: list[Upload] = []
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                data = await part.read()  # type: ignore[union-attr]
                if part.name == "payload_json":  # type: ignore[union-attr]
                    payload = json.loads(data)
                else:
                    name = part.name or ""  # type: ignore[union-attr]
                    uploads.append(Upload(name, part.filename or "", bytes(data)))  # type: ignore[union-attr]
            return payload, uploads
        raw = await request.read()
        return (json.loads(raw) if raw else None), []

    def _injected_fault(self, call: Call) -> web.Response | None:
        for fault in self._faults:
            if fault.method == call.method and fault.pattern.search(call.path):
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                return self._json(fault.body, status=fault.status, headers=fault.headers)
        return None

    def _json(
        self, data: Any, *, status: int = 200, headers: dict[str, str] | None = None
    ) -> web.Response:
        # Exactly `application/json`: with a charset discord.py would hand the body back as text.
        all_headers = {
            "Content-Type": JSON_TYPE,
            "X-RateLimit-Limit": "50",
            "X-RateLimit-Remaining": "49",
            "X-RateLimit-Reset-After": "1.0",
        }
        all_headers.update(headers or {})
        return web.Response(body=json.dumps(data).encode(), status=status, headers=all_headers)

    def _no_content(self) -> web.Response:
        return web.Response(status=204)

    def _require_bot(self, request: web.Request) -> None:
        if request[CALL].authorization != f"Bot {self.token}":
            raise DiscordError(401, 0, "401: Unauthorized")

    # --- REST: login -------------------------------------------------------------------------

    async def _get_me(self, request: web.Request) -> web.Response:
        self._require_bot(request)
        return self._json({**self.bot_user, "verified": True, "mfa_enabled": False})

    async def _get_application(self, request: web.Request) -> web.Response:
        self._require_bot(request)
        return self._json(
            {
                "id": self.bot_id,
                "name": "ViralTracker",
                "icon": None,
                "description": "Finds viral posts",
                "rpc_origins": [],
                "bot_public": True,
                "bot_require_code_grant": False,
                "terms_of_service_url": None,
                "privacy_policy_url": None,
                "owner": {**self.user},
                "verify_key": secrets.token_hex(32),
                "team": None,
                "flags": 0,
                "tags": [],
                "bot": self.bot_user,
                "interactions_endpoint_url": None,
                "redirect_uris": [],
                "approximate_guild_count": len(self.guilds),
            }
        )

    async def _get_gateway_bot(self, request: web.Request) -> web.Response:
        self._require_bot(request)
        return self._json(
            {
                "url": self.gateway_url,
                "shards": 1,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 999,
                    "reset_after": 14400000,
                    "max_concurrency": 1,
                },
            }
        )

    # --- REST: interactions and their webhooks -----------------------------------------------

    def _live_interaction(self, request: web.Request, *, key: str) -> FakeInteraction:
        token = request.match_info["token"]
        interaction = next((i for i in self.interactions.values() if i.token == token), None)
        if interaction is None or (key == "iid" and str(interaction.id) != request.match_info[key]):
            raise DiscordError(404, 10062, "Unknown interaction")
        expires = snowflake_time(interaction.id) + timedelta(seconds=INTERACTION_TOKEN_TTL_S)
        if datetime.now(UTC) > expires:
            raise DiscordError(401, 50027, "Invalid Webhook Token")
        return interaction

    async def _interaction_callback(self, request: web.Request) -> web.Response:
        interaction = self._live_interaction(request, key="iid")
        if interaction.callbacks:
            raise DiscordError(400, 40060, "Interaction has already been acknowledged.")
        late = time.monotonic() - interaction.dispatched_at > FIRST_RESPONSE_DEADLINE_S
        if self.enforce_first_response_deadline and late:
            raise DiscordError(404, 10062, "Unknown interaction")
        body = request[CALL].json or {}
        kind = body.get("type")
        if kind not in (CALLBACK_MESSAGE, CALLBACK_DEFERRED):
            raise invalid_form(f"unsupported interaction callback type {kind}")
        data = body.get("data") or {}
        flags = int(data.get("flags", 0))
        if kind == CALLBACK_DEFERRED:
            fields: dict[str, Any] = {"content": "", "flags": flags | FLAG_LOADING}
        else:
            fields = self._message_fields(data, request[CALL].uploads)
            fields["flags"] = flags
        message = self._store_message(
            interaction.channel_id,
            self.bot_user,
            kind=MESSAGE_CHAT_INPUT_COMMAND,
            interaction=interaction,
            **fields,
        )
        interaction.callbacks.append(body)
        interaction.original_message_id = int(message["id"])
        if not flags & FLAG_EPHEMERAL:
            await self._dispatch_message(message)
        response = {
            "interaction": {
                "id": str(interaction.id),
                "type": INTERACTION_APPLICATION_COMMAND,
                "response_message_id": message["id"],
                "response_message_loading": kind == CALLBACK_DEFERRED,
                "response_message_ephemeral": bool(flags & FLAG_EPHEMERAL),
            },
            "resource": {"type": kind, "message": message},
        }
        if request.query.get("with_response") in ("1", "true", "True"):
            return self._json(response)
        return self._no_content()

    async def _followup(self, request: web.Request) -> web.Response:
        interaction = self._live_interaction(request, key="app")
        if not interaction.callbacks:
            raise DiscordError(404, 10015, "Unknown Webhook")
        body = request[CALL].json or {}
        fields = self._message_fields(body, request[CALL].uploads)
        fields["flags"] = int(body.get("flags", 0))
        message = self._store_message(
            interaction.channel_id, self.bot_user, interaction=interaction, **fields
        )
        interaction.followup_ids.append(int(message["id"]))
        if not fields["flags"] & FLAG_EPHEMERAL:
            await self._dispatch_message(message)
        if request.query.get("wait") in ("1", "true", "True"):
            return self._json(message)
        return self._no_content()

    def _webhook_target(self, request: web.Request) -> tuple[FakeInteraction, dict[str, Any]]:
        interaction = self._live_interaction(request, key="app")
        mid = request.match_info["mid"]
        message_id = interaction.original_message_id if mid == "@original" else int(mid)
        allowed = {interaction.original_message_id, *interaction.followup_ids}
        message = self.message(message_id) if message_id in allowed else None
        if message is None:
            raise DiscordError(404, 10008, "Unknown Message")
        return interaction, message

    async def _get_webhook_message(self, request: web.Request) -> web.Response:
        _interaction, message = self._webhook_target(request)
        return self._json(message)

    async def _edit_webhook_message(self, request: web.Request) -> web.Response:
        _interaction, message = self._webhook_target(request)
        self._apply_edit(message, request[CALL].json or {}, request[CALL].uploads)
        return self._json(message)

    async def _delete_webhook_message(self, request: web.Request) -> web.Response:
        _interaction, message = self._webhook_target(request)
        self.messages[int(message["channel_id"])].remove(message)
        return self._no_content()

    # --- REST: channels, threads, messages -----------------------------------------------------

    def _channel(self, request: web.Request) -> dict[str, Any]:
        self._require_bot(request)
        channel = self.channels.get(int(request.match_info["cid"]))
        if channel is None:
            raise DiscordError(404, 10003, "Unknown Channel")
        return channel

    async def _get_channel(self, request: web.Request) -> web.Response:
        return self._json(self._channel(request))

    async def _create_thread(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        if channel["type"] != GUILD_TEXT:
            raise DiscordError(400, 50024, "Cannot execute action on this channel type")
        body = request[CALL].json or {}
        name = str(body.get("name", ""))
        if not 1 <= len(name) <= 100:
            raise invalid_form("thread name must be 1-100 characters")
        kind = int(
            body.get("type", PUBLIC_THREAD if "mid" in request.match_info else PRIVATE_THREAD)
        )
        starter = request.match_info.get("mid")
        thread = self._new_thread(
            int(channel["id"]),
            name,
            self.application_id,
            kind=kind,
            thread_id=int(starter) if starter else None,
            archive_minutes=int(body.get("auto_archive_duration", 4320)),
        )
        await self.dispatch(
            "THREAD_CREATE", {**thread, "newly_created": True}, guild_id=int(thread["guild_id"])
        )
        return self._json(thread, status=201)

    async def _create_message(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        if channel["type"] == GUILD_FORUM:
            raise DiscordError(400, 50008, "Cannot send messages in a non-text channel")
        body = request[CALL].json or {}
        nonce = body.get("nonce")
        if nonce is not None and body.get("enforce_nonce"):
            earlier = self._sent_with_nonce(int(channel["id"]), str(nonce))
            if earlier is not None:  # Discord returns the message sent before, sends nothing
                return self._json(earlier)
        fields = self._message_fields(body, request[CALL].uploads)
        reference = body.get("message_reference")
        message = self._store_message(int(channel["id"]), self.bot_user, **fields)
        if nonce is not None:
            message["nonce"] = str(nonce)
        if reference:
            # Discord stores (and echoes) snowflakes as strings, whatever the client sent.
            ids = ("message_id", "channel_id", "guild_id")
            message["message_reference"] = {
                k: str(v) if k in ids and v is not None else v for k, v in reference.items()
            }
        await self._dispatch_message(message)
        return self._json(message)

    def _sent_with_nonce(self, channel_id: int, nonce: str) -> dict[str, Any] | None:
        """The bot's message with this nonce in the last few minutes (`enforce_nonce`)."""
        window = datetime.now(UTC) - NONCE_WINDOW
        for message in self.messages.get(channel_id, []):
            if (
                message.get("nonce") == nonce
                and message["author"]["id"] == self.bot_id
                and datetime.fromisoformat(message["timestamp"]) > window
            ):
                return message
        return None

    async def _edit_message(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        message = self.message(int(request.match_info["mid"]))
        if message is None or message["channel_id"] != channel["id"]:
            raise DiscordError(404, 10008, "Unknown Message")
        if message["author"]["id"] != self.bot_id:
            raise DiscordError(403, 50005, "Cannot edit a message authored by another user")
        self._apply_edit(message, request[CALL].json or {}, request[CALL].uploads)
        return self._json(message)

    async def _typing(self, request: web.Request) -> web.Response:
        self._channel(request)
        return self._no_content()

    # --- REST: application commands -----------------------------------------------------------

    async def _get_commands(self, request: web.Request) -> web.Response:
        self._require_bot(request)
        gid = request.match_info.get("gid")
        commands = self.guild_commands.get(int(gid), []) if gid else self.global_commands
        return self._json(commands)

    async def _put_commands(self, request: web.Request) -> web.Response:
        self._require_bot(request)
        if request.match_info["app"] != self.bot_id:
            raise DiscordError(403, 50001, "Missing Access")
        body = request[CALL].json
        if not isinstance(body, list):
            raise invalid_form("expected an array of commands")
        gid = request.match_info.get("gid")
        stored = [self._register_command(c, gid) for c in body]
        if gid:
            self.guild_commands[int(gid)] = stored
        else:
            self.global_commands = stored
        return self._json(stored)

    def _register_command(self, command: dict[str, Any], guild_id: str | None) -> dict[str, Any]:
        validate_command(command)
        stored = {
            **command,
            "id": str(self.new_id()),
            "application_id": self.bot_id,
            "version": str(self.new_id()),
            "type": command.get("type", 1),
        }
        if guild_id:
            stored["guild_id"] = guild_id
        return stored

    def _find_command(self, name: str, guild_id: int) -> dict[str, Any]:
        for command in [*self.guild_commands.get(guild_id, []), *self.global_commands]:
            if command["name"] == name:
                return command
        raise LookupError(f"/{name} is not registered (sync the commands first)")

    def _typed_options(
        self, command: dict[str, Any], subcommand: str | None, values: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Options as Discord sends them, checked against the registered schema."""
        schema = command.get("options", [])
        group, _, leaf = (subcommand or "").partition(" ")
        if leaf:  # "digest add": a subcommand of a subcommand group (type 2)
            grp = next((o for o in schema if o["name"] == group and o["type"] == 2), None)
            if grp is None:
                raise LookupError(f"/{command['name']} has no subcommand group {group}")
            return [{"name": group, "type": 2, "options": self._typed_options(grp, leaf, values)}]
        if subcommand is not None:
            sub = next((o for o in schema if o["name"] == subcommand and o["type"] == 1), None)
            if sub is None:
                raise LookupError(f"/{command['name']} has no subcommand {subcommand}")
            inner = self._typed_options(sub, None, values)
            return [{"name": subcommand, "type": 1, "options": inner}]
        typed = []
        for option in schema:
            if option["name"] not in values:
                if option.get("required"):
                    raise ValueError(f"option {option['name']} is required")
                continue
            value = values[option["name"]]
            choices = [c["value"] for c in option.get("choices", [])]
            if choices and value not in choices:
                raise ValueError(f"{value!r} is not one of the choices {choices}")
            typed.append({"name": option["name"], "type": option["type"], "value": value})
        unknown = set(values) - {o["name"] for o in schema}
        if unknown:
            raise ValueError(f"unknown options {sorted(unknown)}")
        return typed

    # --- messages ------------------------------------------------------------------------------

    def _message_fields(self, body: dict[str, Any], uploads: list[Upload]) -> dict[str, Any]:
        """Validate a message body against Discord's limits; return the stored fields."""
        content = body.get("content") or ""
        embeds = body.get("embeds") or []
        if len(content) > 2000:
            raise invalid_form("content: must be 2000 or fewer in length")
        check_embeds(embeds)
        if len(uploads) > 10:
            raise invalid_form("files: at most 10 attachments")
        attachments = [self._attachment(u) for u in uploads]
        if not content and not embeds and not attachments:
            raise DiscordError(400, 50006, "Cannot send an empty message")
        return {"content": content, "embeds": embeds, "attachments": attachments}

    def _attachment(self, upload: Upload) -> dict[str, Any]:
        if len(upload.data) > self.attachment_size_limit:
            raise DiscordError(413, 40005, "Request entity too large")
        attachment_id = self.new_id()
        self.uploads[attachment_id] = upload.data
        url = f"{self.base_url}/attachments/{attachment_id}/{upload.filename}"
        return {
            "id": str(attachment_id),
            "filename": upload.filename,
            "size": len(upload.data),
            "url": url,
            "proxy_url": url,
            "content_type": guess_content_type(upload.filename),
        }

    def _apply_edit(
        self, message: dict[str, Any], body: dict[str, Any], uploads: list[Upload]
    ) -> None:
        if "content" in body:
            content = body["content"] or ""
            if len(content) > 2000:
                raise invalid_form("content: must be 2000 or fewer in length")
            message["content"] = content
        if "embeds" in body:
            check_embeds(body["embeds"] or [])
            message["embeds"] = body["embeds"] or []
        if "attachments" in body:
            # Existing attachments listed by id stay; new ones reference `files[n]` by index.
            listed = {str(a["id"]) for a in body["attachments"]}
            kept = [a for a in message["attachments"] if a["id"] in listed]
            message["attachments"] = kept + [self._attachment(u) for u in uploads]
        message["flags"] = message.get("flags", 0) & ~FLAG_LOADING
        message["edited_timestamp"] = iso(datetime.now(UTC))
        if not message["content"] and not message["embeds"] and not message["attachments"]:
            raise DiscordError(400, 50006, "Cannot send an empty message")

    def _store_message(
        self,
        channel_id: int,
        author: dict[str, Any],
        *,
        content: str = "",
        embeds: list[dict[str, Any]] | None = None,
        attachments: list[dict[str, Any]] | None = None,
        mentions: list[dict[str, Any]] | None = None,
        flags: int = 0,
        kind: int = MESSAGE_DEFAULT,
        interaction: FakeInteraction | None = None,
    ) -> dict[str, Any]:
        channel = self.channels.get(channel_id)
        if channel is None:
            raise DiscordError(404, 10003, "Unknown Channel")
        message_id = self.new_id()
        message: dict[str, Any] = {
            "id": str(message_id),
            "channel_id": str(channel_id),
            "guild_id": channel.get("guild_id"),
            "author": author,
            "content": content,
            "timestamp": iso(datetime.now(UTC)),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": mentions or [],
            "mention_roles": [],
            "mention_channels": [],
            "attachments": attachments or [],
            "embeds": embeds or [],
            "reactions": [],
            "pinned": False,
            "type": kind,
            "flags": flags,
            "components": [],
        }
        if interaction is not None:
            message["webhook_id"] = self.bot_id
            message["application_id"] = self.bot_id
            message["interaction_metadata"] = {
                "id": str(interaction.id),
                "type": INTERACTION_APPLICATION_COMMAND,
                "user": interaction.payload["member"]["user"],
                "authorizing_integration_owners": {"0": interaction.payload["guild_id"]},
            }
        if channel["type"] in (PUBLIC_THREAD, PRIVATE_THREAD):
            channel["message_count"] += 1
            channel["total_message_sent"] += 1
        channel["last_message_id"] = str(message_id)
        self.messages.setdefault(channel_id, []).append(message)
        return message

    async def _dispatch_message(self, message: dict[str, Any]) -> None:
        """MESSAGE_CREATE, as each connection's intents allow it to see the message."""
        guild_id = int(message["guild_id"]) if message.get("guild_id") else None
        for session in self.sessions:
            if not session.ready.is_set() or session.ws.closed:
                continue
            if not session.intents & INTENT_GUILD_MESSAGES:
                continue
            shard_id, shard_count = session.shard
            if ((guild_id or 0) >> 22) % shard_count != shard_id:
                continue
            await self._send_dispatch(session, "MESSAGE_CREATE", self._as_seen_by(session, message))

    def _as_seen_by(self, session: GatewaySession, message: dict[str, Any]) -> dict[str, Any]:
        """Without the message-content intent, content is empty unless by or mentioning the bot."""
        seen = {**message}
        if message.get("guild_id"):
            seen["member"] = {
                "roles": [],
                "joined_at": iso(datetime.now(UTC)),
                "deaf": False,
                "mute": False,
            }
        if session.intents & INTENT_MESSAGE_CONTENT:
            return seen
        mentioned = any(u["id"] == self.bot_id for u in message.get("mentions", []))
        if message["author"]["id"] == self.bot_id or mentioned:
            return seen
        return {**seen, "content": "", "embeds": [], "attachments": [], "components": []}

    # --- threads -------------------------------------------------------------------------------

    def _new_thread(
        self,
        parent_id: int,
        name: str,
        owner_id: int,
        *,
        kind: int = PUBLIC_THREAD,
        thread_id: int | None = None,
        archive_minutes: int = 4320,
    ) -> dict[str, Any]:
        parent = self.channels[parent_id]
        thread_id = thread_id or self.new_id()
        now = iso(datetime.now(UTC))
        thread = {
            "id": str(thread_id),
            "type": kind,
            "guild_id": parent["guild_id"],
            "parent_id": str(parent_id),
            "owner_id": str(owner_id),
            "name": name,
            "last_message_id": None,
            "message_count": 0,
            "member_count": 1,
            "rate_limit_per_user": 0,
            "flags": 0,
            "total_message_sent": 0,
            "applied_tags": [],
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": archive_minutes,
                "archive_timestamp": now,
                "locked": False,
                "create_timestamp": now,
            },
        }
        self.channels[thread_id] = thread
        self.messages.setdefault(thread_id, [])
        return thread

    # --- interactions --------------------------------------------------------------------------

    def _interaction_payload(
        self,
        data: dict[str, Any],
        guild_id: int,
        channel_id: int,
        user: dict[str, Any] | None,
        created_at: datetime | None,
    ) -> dict[str, Any]:
        user = user or self.user
        channel = {**self.channels[channel_id], "permissions": ALL_PERMISSIONS}
        return {
            "id": str(self.new_id(created_at)),
            "application_id": self.bot_id,
            "type": INTERACTION_APPLICATION_COMMAND,
            "data": data,
            "guild_id": str(guild_id),
            "guild": {"id": str(guild_id), "locale": "en-US", "features": []},
            "channel_id": str(channel_id),
            "channel": channel,
            "member": {
                "user": user,
                "roles": [],
                "joined_at": iso(datetime.now(UTC) - timedelta(days=30)),
                "deaf": False,
                "mute": False,
                "flags": 0,
                "pending": False,
                "nick": None,
                "avatar": None,
                "premium_since": None,
                "communication_disabled_until": None,
                "permissions": ALL_PERMISSIONS,
            },
            "token": f"aW50ZXJhY3Rpb24{secrets.token_urlsafe(48)}",
            "version": 1,
            "app_permissions": ALL_PERMISSIONS,
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(guild_id)},
            "context": 0,
            "attachment_size_limit": self.attachment_size_limit,
        }

    # --- gateway -------------------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        session = GatewaySession(ws)
        self.sessions.append(session)
        await ws.send_str(
            json.dumps(
                {
                    "op": OP_HELLO,
                    "d": {"heartbeat_interval": HEARTBEAT_INTERVAL_MS},
                    "s": None,
                    "t": None,
                }
            )
        )
        try:
            async for frame in ws:
                if frame.type != WSMsgType.TEXT:
                    continue
                await self._on_gateway_frame(session, json.loads(frame.data))
        finally:
            async with self._changed:
                self._changed.notify_all()
        return ws

    async def _on_gateway_frame(self, session: GatewaySession, frame: dict[str, Any]) -> None:
        op = frame.get("op")
        if op == OP_HEARTBEAT:
            session.heartbeats += 1
            await session.ws.send_str(
                json.dumps({"op": OP_HEARTBEAT_ACK, "d": None, "s": None, "t": None})
            )
        elif op == OP_IDENTIFY:
            await self._identify(session, frame["d"])
        elif op == OP_RESUME:
            await self._resume(session, frame["d"])

    async def _identify(self, session: GatewaySession, data: dict[str, Any]) -> None:
        if data.get("token") != self.token:
            await session.ws.close(code=4004, message=b"Authentication failed.")
            return
        session.identify = {k: v for k, v in data.items() if k != "token"}
        session.intents = int(data.get("intents", 0))
        shard = data.get("shard") or [0, 1]
        session.shard = (int(shard[0]), int(shard[1]))
        mine = [g for g in self.guilds if (g >> 22) % session.shard[1] == session.shard[0]]
        ready = {
            "v": 10,
            "user": {**self.bot_user, "verified": True, "mfa_enabled": False},
            "guilds": [{"id": str(g), "unavailable": True} for g in mine],
            "session_id": session.session_id,
            "session_type": "normal",
            "resume_gateway_url": self.gateway_url,
            "shard": list(session.shard),
            "application": {"id": self.bot_id, "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "auth": {},
            "user_settings": {},
            "_trace": ["fake-gateway"],
        }
        await self._send_dispatch(session, "READY", ready)
        if session.intents & INTENT_GUILDS:
            for guild_id in mine:
                await self._send_dispatch(session, "GUILD_CREATE", self._guild_create(guild_id))
        session.ready.set()
        async with self._changed:
            self._changed.notify_all()

    async def _resume(self, session: GatewaySession, data: dict[str, Any]) -> None:
        previous = next((s for s in self.sessions if s.session_id == data.get("session_id")), None)
        if data.get("token") != self.token or previous is None:
            await session.ws.send_str(
                json.dumps({"op": OP_INVALID_SESSION, "d": False, "s": None, "t": None})
            )
            return
        session.session_id, session.sequence = previous.session_id, previous.sequence
        session.intents, session.shard, session.identify = (
            previous.intents,
            previous.shard,
            previous.identify,
        )
        self.sessions.remove(previous)
        await self._send_dispatch(session, "RESUMED", {"_trace": ["fake-gateway"]})
        session.ready.set()
        async with self._changed:
            self._changed.notify_all()

    async def _send_dispatch(
        self, session: GatewaySession, event: str, data: dict[str, Any]
    ) -> None:
        session.sequence += 1
        frame = {"op": OP_DISPATCH, "t": event, "s": session.sequence, "d": data}
        await session.ws.send_str(json.dumps(frame))

    def _guild_create(self, guild_id: int) -> dict[str, Any]:
        guild = self.guilds[guild_id]
        channels = [
            {k: v for k, v in self.channels[c].items() if k != "guild_id"}
            for c in guild["channel_ids"]
        ]
        threads = [
            t
            for t in self.channels.values()
            if t["type"] in (PUBLIC_THREAD, PRIVATE_THREAD) and t["guild_id"] == str(guild_id)
        ]
        now = iso(datetime.now(UTC))
        return {
            "id": str(guild_id),
            "name": guild["name"],
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "owner_id": self.user["id"],
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 1,
            "default_message_notifications": 1,
            "explicit_content_filter": 0,
            "roles": [
                {
                    "id": str(guild_id),
                    "name": "@everyone",
                    "permissions": "2248473465835073",
                    "position": 0,
                    "color": 0,
                    "hoist": False,
                    "managed": False,
                    "mentionable": False,
                    "flags": 0,
                }
            ],
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "vanity_url_code": None,
            "description": None,
            "banner": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "public_updates_channel_id": None,
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
            "joined_at": now,
            "large": False,
            "unavailable": False,
            "member_count": 2,
            "voice_states": [],
            "members": [
                {
                    "user": self.bot_user,
                    "roles": [],
                    "joined_at": now,
                    "deaf": False,
                    "mute": False,
                    "flags": 0,
                    "pending": False,
                }
            ],
            "channels": channels,
            "threads": threads,
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }

    @staticmethod
    def _user_payload(user_id: int, username: str, *, bot: bool) -> dict[str, Any]:
        return {
            "id": str(user_id),
            "username": username,
            "discriminator": "0",
            "global_name": username.title(),
            "avatar": None,
            "bot": bot,
            "public_flags": 0,
            "flags": 0,
            "banner": None,
            "accent_color": None,
        }


# --- validation shared by REST handlers ----------------------------------------------------


def check_embeds(embeds: list[dict[str, Any]]) -> None:
    """Discord's embed limits: 10 embeds, title 256, description 4096, 25 fields, 6000 in total."""
    if len(embeds) > 10:
        raise invalid_form("embeds: at most 10")
    total = 0
    for embed in embeds:
        title, description = embed.get("title") or "", embed.get("description") or ""
        footer = (embed.get("footer") or {}).get("text") or ""
        author = (embed.get("author") or {}).get("name") or ""
        fields = embed.get("fields") or []
        if len(title) > 256 or len(description) > 4096 or len(footer) > 2048 or len(author) > 256:
            raise invalid_form("embed: title/description/footer/author too long")
        if len(fields) > 25:
            raise invalid_form("embed: at most 25 fields")
        for f in fields:
            if not 1 <= len(f.get("name", "")) <= 256 or not 1 <= len(f.get("value", "")) <= 1024:
                raise invalid_form("embed field: name 1-256, value 1-1024 characters")
            total += len(f["name"]) + len(f["value"])
        total += len(title) + len(description) + len(footer) + len(author)
    if total > 6000:
        raise invalid_form("embeds: more than 6000 characters in total")


def validate_command(command: dict[str, Any]) -> None:
    """What Discord checks when commands are registered (chat-input commands)."""
    name, description = command.get("name", ""), command.get("description", "")
    if not COMMAND_NAME.match(name) or name != name.lower():
        raise invalid_form(f"command name {name!r} must be 1-32 lowercase letters, digits, - or _")
    if not 1 <= len(description) <= 100:
        raise invalid_form(f"command {name!r}: description must be 1-100 characters")
    _validate_options(command.get("options", []), name)


def _validate_options(options: list[dict[str, Any]], where: str) -> None:
    if len(options) > 25:
        raise invalid_form(f"{where}: at most 25 options")
    seen_optional = False
    for option in options:
        kind, name = option.get("type"), option.get("name", "")
        if kind not in OPTION_TYPES:
            raise invalid_form(f"{where}.{name}: unknown option type {kind}")
        if not COMMAND_NAME.match(name) or name != name.lower():
            raise invalid_form(f"{where}.{name}: invalid option name")
        if not 1 <= len(option.get("description", "")) <= 100:
            raise invalid_form(f"{where}.{name}: description must be 1-100 characters")
        if kind in (1, 2):
            _validate_options(option.get("options", []), f"{where}.{name}")
            continue
        if option.get("required"):
            if seen_optional:
                raise invalid_form(f"{where}.{name}: required options must come first")
        else:
            seen_optional = True
        for choice in option.get("choices", []):
            value_ok = isinstance(choice.get("value"), str) if kind == 3 else True
            if not 1 <= len(choice.get("name", "")) <= 100 or not value_ok:
                raise invalid_form(f"{where}.{name}: invalid choice {choice!r}")


def guess_content_type(filename: str) -> str:
    suffix = filename.rsplit(".", 1)[-1].lower()
    return {
        "csv": "text/csv; charset=utf-8",
        "json": "application/json; charset=utf-8",
        "md": "text/markdown; charset=utf-8",
        "png": "image/png",
        "txt": "text/plain; charset=utf-8",
    }.get(suffix, "application/octet-stream")
