"""Serving the Slack app: HTTP (Events API on PORT) or Socket Mode, until the process stops."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError

from adapters.base import ConversationHandler, Deliverer
from adapters.slack.app import SlackSetupError, build_slack_app, slack_client
from adapters.slack.delivery import SlackDeliverer
from adapters.slack.screen import bad_timestamp, screened_request
from adapters.slack.turns import SlackTurns
from viraltracker_bot.config import Settings
from viraltracker_bot.storage.database import Database

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
DRAIN_TIMEOUT_S = 30.0


def web_app(app: AsyncApp | None, *, turns: SlackTurns | None = None) -> web.Application:
    """`POST /slack/events` for the Events API (when `app` is given) and `GET /healthz`."""
    web_application = web.Application()

    async def events(request: web.Request) -> web.Response:
        assert app is not None
        if bad_timestamp(request.headers.get("X-Slack-Request-Timestamp")):
            return web.Response(status=401, text="Unauthorized: invalid request timestamp.")
        screened = screened_request(await request.read(), request.query_string, request.headers)
        if isinstance(screened, str):
            return web.Response(status=400, text=f"Bad request: {screened}.")
        response = await app.async_dispatch(screened)
        return await to_aiohttp_response(response)

    async def health(_request: web.Request) -> web.Response:
        in_flight = len(turns.in_flight) if turns is not None else 0
        return web.json_response({"status": "ok", "answering": in_flight})

    if app is not None:
        web_application.router.add_post(EVENTS_PATH, events)
    web_application.router.add_get(HEALTH_PATH, health)
    return web_application


class HttpServer:
    """An aiohttp server on a port (0 picks a free one); `url` is where it listens."""

    def __init__(self, application: web.Application, *, host: str = "0.0.0.0", port: int) -> None:
        self.runner = web.AppRunner(application, access_log=None)
        self.host = host
        self.port = port

    async def start(self) -> HttpServer:
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.host, self.port)
        await site.start()
        server = site._server
        if server is not None and getattr(server, "sockets", None):
            self.port = server.sockets[0].getsockname()[1]
        return self

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}"

    async def stop(self) -> None:
        await self.runner.cleanup()


def check_settings(settings: Settings, *, socket: bool) -> None:
    """Refuse to start with a clear message rather than fail on the first event."""
    missing = []
    if settings.slack_bot_token is None:
        missing.append("SLACK_BOT_TOKEN (Bot User OAuth Token, xoxb-...)")
    if socket and settings.slack_app_token is None:
        missing.append("SLACK_APP_TOKEN (App-Level Token with connections:write, xapp-...)")
    if not socket and settings.slack_signing_secret is None:
        missing.append("SLACK_SIGNING_SECRET (Basic Information > Signing Secret)")
    if missing:
        raise SlackSetupError("Slack is not configured; set " + " and ".join(missing) + ".")


async def run_slack(settings: Settings, socket: bool = False) -> None:
    """Run the bot on Slack until cancelled: `viraltracker-bot slack [--socket]`.

    The process also posts the scheduled digests of `slack:<channel>` schedules (every
    `VIRALTRACKER_DIGEST_POLL_S` seconds; 0 leaves them to `viraltracker-bot digests run`).

    HTTP mode serves the Events API and /healthz on PORT. Socket Mode needs no public URL;
    it still serves /healthz on PORT for platforms that probe the process. On cancellation
    or SIGTERM it stops taking events, lets the answers in flight finish (up to 30 s), and
    closes.
    """
    check_settings(settings, socket=socket)
    from viraltracker_bot.digests.background import digests_in_background
    from viraltracker_bot.runtime import Runtime

    setup_logging(settings)
    runtime = await Runtime.start(settings)
    log.info("%s", settings.mode_banner())
    try:
        async with aiohttp.ClientSession() as http:
            deliverers: dict[str, Deliverer] = {
                "slack": SlackDeliverer(slack_client(settings, http=http))
            }
            async with digests_in_background(settings, runtime.db, runtime.services, deliverers):
                await serve_slack(
                    settings, runtime.conversation, runtime.db, socket=socket, http=http
                )
    finally:
        await runtime.close()


def setup_logging(settings: Settings) -> None:
    """Log to stderr at VIRALTRACKER_LOG_LEVEL, unless the caller configured logging already."""
    if logging.getLogger().handlers:
        return
    level = logging.getLevelName(settings.log_level.strip().upper())
    logging.basicConfig(
        level=level if isinstance(level, int) else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


async def serve_slack(
    settings: Settings,
    handler: ConversationHandler,
    db: Database,
    *,
    socket: bool = False,
    http: aiohttp.ClientSession | None = None,
) -> None:
    """Serve Slack for a core the caller built (run_slack's body; benchmarks bring their own)."""
    check_settings(settings, socket=socket)
    own_http = http is None
    http = http or aiohttp.ClientSession()
    socket_handler: AsyncSocketModeHandler | None = None
    server: HttpServer | None = None
    turns = SlackTurns(handler, db)
    try:
        app = build_slack_app(settings, handler, db, http=http, turns=turns)
        await _introduce(app)
        turns.start()  # take over what a dead process (this one's last life, too) left undone
        server = HttpServer(web_app(None if socket else app, turns=turns), port=settings.port)
        await server.start()
        if socket:
            app_token = settings.slack_app_token.get_secret_value()  # type: ignore[union-attr]
            socket_handler = AsyncSocketModeHandler(app, app_token)
            await socket_handler.connect_async()
            log.info("slack: connected in Socket Mode; health on port %s", server.port)
        else:
            log.info("slack: listening on port %s (POST %s)", server.port, EVENTS_PATH)
        await _until_stopped()
    finally:
        await _shutdown(server, socket_handler, turns)
        if own_http:
            await http.close()


async def _until_stopped() -> None:
    """Wait for cancellation, SIGTERM (a deploy stopping the process) or SIGINT (Ctrl-C)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        # Not available outside the main thread or on Windows: cancellation still works.
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
    try:
        await stop.wait()
        log.info("slack: stopping; finishing the answers in flight")
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


async def _introduce(app: AsyncApp) -> None:
    """auth.test once at start: a wrong token fails now, with Slack's reason."""
    try:
        identity: Any = await app.client.auth_test()
    except SlackApiError as exc:
        raise SlackSetupError(
            f"Slack refused the bot token ({exc.response.get('error')}); check SLACK_BOT_TOKEN."
        ) from None
    log.info("slack: signed in as @%s in %s", identity.get("user"), identity.get("team"))


async def _shutdown(
    server: HttpServer | None, socket_handler: AsyncSocketModeHandler | None, turns: SlackTurns
) -> None:
    """Stop taking events first, then let the answers already started reach their threads."""
    if socket_handler is not None:
        with contextlib.suppress(Exception):
            await socket_handler.close_async()
    if server is not None:
        await server.stop()
    await turns.close(DRAIN_TIMEOUT_S)


def slack_deliverer(
    settings: Settings, *, http: aiohttp.ClientSession | None = None
) -> SlackDeliverer:
    """A Deliverer for digests posted to `slack:<channel>` schedules."""
    if settings.slack_bot_token is None:
        raise SlackSetupError("SLACK_BOT_TOKEN is not set; Slack digests cannot be delivered.")
    return SlackDeliverer(slack_client(settings, http=http))
