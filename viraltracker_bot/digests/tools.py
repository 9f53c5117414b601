"""Digests from chat: schedule, list, pause and remove them by talking to the bot.

The same functions serve the orchestrator's tools (with or without a language model), the
offline pre-route of plain requests, and Discord's `/viral digest` commands. Each answers in
words: when the digest runs next and what it will post.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic_ai import RunContext

from viraltracker_bot.agent.dependencies import AgentDependencies
from viraltracker_bot.config import Settings
from viraltracker_bot.conversation import ChatPlatform
from viraltracker_bot.digests import repository as repo
from viraltracker_bot.digests.parsing import (
    names_unkept_gap,
    parse_cron_phrase,
    parse_request,
    parse_timezone,
)
from viraltracker_bot.digests.schedule import (
    DigestQuery,
    describe_cron,
    local_label,
    normalise_cron,
    zone,
)
from viraltracker_bot.storage.database import Database
from viraltracker_bot.storage.tables import ScheduleRow

DEFAULT_TIMEZONE = "UTC"
_NUMBER_AFTER_DIGEST = r"\bdigests?\s*(?:#|no\.?|number|id[:\s]*)?\s*(\d+)\b"
_POST_WORDS = re.compile(
    r"\b(?:post|posts|send|share|deliver|digest|summary|roundup|round-up|report|drop)\b", re.I
)


@dataclass
class DigestChat:
    """Where a digest request came from: the channel it means by 'here', and who asked."""

    db: Database
    settings: Settings
    platform: ChatPlatform
    workspace: str
    channel: str
    user: str | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    @classmethod
    def from_deps(cls, deps: AgentDependencies) -> DigestChat:
        """From an agent run: its conversation key is 'platform:workspace:channel:thread'."""
        platform, workspace, channel, _thread = (deps.conversation_key.split(":", 3) + [""] * 4)[:4]
        return cls(
            db=deps.db,
            settings=deps.settings,
            platform=platform if platform in ("slack", "discord") else "console",  # type: ignore[arg-type]
            workspace=workspace,
            channel=channel or "terminal",
            user=deps.user,
        )

    @property
    def here(self) -> str:
        return f"{self.platform}:{self.channel}"

    @property
    def created_by(self) -> str | None:
        return f"{self.platform}:{self.user}" if self.user else None


def can_manage(chat: DigestChat) -> bool:
    """Whether this person may add, pause or remove digests: VIRALTRACKER_ADMIN_USERS, if set.

    Admins are named by user id (`U0123`) or with their platform (`slack:U0123`). Listing is
    open to everyone; a digest posts to a whole channel, so changing one is not.
    """
    admins = set(chat.settings.admin_users)
    if not admins:
        return True
    return chat.user is not None and bool({chat.user, chat.created_by} & admins)


def _refusal() -> str:
    return "Only the bot's admins can add, pause or remove digests (ask one of them)."


async def schedule_digest(
    chat: DigestChat,
    request: str = "",
    *,
    cron: str | None = None,
    timezone: str | None = None,
    query: DigestQuery | None = None,
    channel: str | None = None,
) -> str:
    """Create a digest from a chat request (structured arguments win over the words)."""
    if not can_manage(chat):
        return _refusal()
    parsed = parse_request(
        request,
        viral_min_views=chat.settings.viral_min_views,
        micro_max_followers=chat.settings.micro_max_followers,
    )
    query = query or parsed.query
    try:
        tz = timezone or (parse_timezone(cron) if cron else None) or parsed.timezone
        tz = tz or DEFAULT_TIMEZONE
        zone(tz)
        cron = _cron(cron) if cron else (parsed.cron.cron if parsed.cron else None)
    except ValueError as exc:
        return f"I couldn't schedule that: {exc}"
    if cron is None and names_unkept_gap(request):
        return (
            "I can't post every other day or every few weeks: a digest runs every day, on the "
            "weekdays you name, or every few minutes or hours. Say e.g. 'every monday and "
            "thursday at 9am'."
        )
    if cron is None:
        return (
            "When should I post it? Say e.g. 'every weekday at 9am', 'every monday at 10', "
            "'every day at 18:30' or 'hourly'."
        )
    if query is None:
        return f"I couldn't tell what to post. {parsed.problem or ''}".strip()
    target = f"{chat.platform}:{channel or parsed.channel or chat.channel}"
    try:
        row = await repo.create_schedule(
            chat.db,
            cron=cron,
            timezone=tz,
            channel=target,
            query=query,
            now=chat.clock(),
            created_by=chat.created_by,
            workspace=chat.workspace or None,
            min_interval_s=chat.settings.digest_min_interval_s,
        )
    except ValueError as exc:
        return f"I couldn't schedule that: {exc}"
    return confirmation(row, chat)


def _cron(text: str) -> str:
    """A cron expression, or words such as 'every weekday at 9am'."""
    try:
        return normalise_cron(text)
    except ValueError:
        phrase = parse_cron_phrase(text)
        if phrase is None:
            raise
        return phrase.cron


async def run_digest_action(
    chat: DigestChat,
    action: str,
    *,
    when: str | None = None,
    post: str | None = None,
    timezone: str | None = None,
    schedule_id: int | None = None,
) -> str:
    """One entry for command-style surfaces (Discord's `/viral digest add|list|remove`)."""
    if action == "add":
        return await schedule_digest(chat, post or "", cron=when, timezone=timezone)
    if action == "list":
        return await list_digests(chat)
    if action in ("remove", "pause", "resume") and schedule_id is not None:
        command = DigestCommand(action, schedule_id=schedule_id)
        return await command.run(chat)
    return "Use add, list, remove, pause or resume (with the digest's number)."


def confirmation(row: ScheduleRow, chat: DigestChat) -> str:
    where = "here" if row.channel == chat.here else f"in {_channel_mention(row.channel)}"
    return (
        f"Scheduled digest #{row.id}: {describe_cron(row.cron)} ({row.timezone}) I'll post the "
        f"{row.description} {where}, each post only once.\n"
        f"Next run: {local_label(row.next_run_at, row.timezone)}. "
        f"Say 'list digests' to see all, or 'remove digest {row.id}' to stop it."
    )


def _channel_mention(channel: str) -> str:
    platform, _, ident = channel.partition(":")
    return f"<#{ident}>" if platform in ("slack", "discord") else channel


async def list_digests(chat: DigestChat) -> str:
    """This workspace's digests on this platform, one line each."""
    rows = await repo.list_schedules(
        chat.db, platform=chat.platform, workspace=chat.workspace or None
    )
    if not rows:
        return (
            "No digests yet. Try: 'every weekday at 9am post the top new TikToks about "
            "#productivity here'."
        )
    lines = ["Digests:"]
    for row in rows:
        state = f"next {local_label(row.next_run_at, row.timezone)}" if row.enabled else "paused"
        if row.failures:
            state += f", failing ({row.failures} attempts)"
        lines.append(
            f"#{row.id} {describe_cron(row.cron)} ({row.timezone}) in "
            f"{_channel_mention(row.channel)}: {row.description}; {state}"
        )
    return "\n".join(lines)


async def remove_digest(chat: DigestChat, schedule_id: int) -> str:
    if not can_manage(chat):
        return _refusal()
    removed = await repo.remove_schedule(
        chat.db, schedule_id, platform=chat.platform, workspace=chat.workspace or None
    )
    if not removed:
        return f"There is no digest #{schedule_id} here. Say 'list digests' to see them."
    return f"Removed digest #{schedule_id}; it won't post again."


async def pause_digest(chat: DigestChat, schedule_id: int, paused: bool = True) -> str:
    if not can_manage(chat):
        return _refusal()
    row = await repo.set_enabled(
        chat.db,
        schedule_id,
        not paused,
        now=chat.clock(),
        platform=chat.platform,
        workspace=chat.workspace or None,
    )
    if row is None:
        return f"There is no digest #{schedule_id} here. Say 'list digests' to see them."
    if paused:
        return f"Paused digest #{row.id}. Say 'resume digest {row.id}' to start it again."
    return f"Resumed digest #{row.id}; next run {local_label(row.next_run_at, row.timezone)}."


# --- recognising digest requests in plain words --------------------------------------------------


@dataclass
class DigestCommand:
    """A digest request recognised without a model; `complete` when it can run as it stands."""

    action: str  # schedule | list | remove | pause | resume
    request: str = ""
    schedule_id: int | None = None
    complete: bool = True

    async def run(self, chat: DigestChat) -> str:
        if self.action == "list":
            return await list_digests(chat)
        if self.action == "remove" and self.schedule_id is not None:
            return await remove_digest(chat, self.schedule_id)
        if self.action in ("pause", "resume") and self.schedule_id is not None:
            return await pause_digest(chat, self.schedule_id, paused=self.action == "pause")
        return await schedule_digest(chat, self.request)


def digest_command(text: str) -> DigestCommand | None:
    """'list digests', 'remove digest 3', 'every weekday at 9am post ... here' -> a command."""
    lowered = " ".join((text or "").lower().split())
    if re.search(r"\b(?:list|show|which|what)\b.*\bdigests\b|^digests\??$", lowered):
        return DigestCommand("list")
    for action, verbs in (
        ("remove", r"remove|delete|cancel|stop|unschedule|drop"),
        ("pause", r"pause|mute|suspend"),
        ("resume", r"resume|unpause|restart|unmute"),
    ):
        match = re.search(rf"\b(?:{verbs})\b.*?{_NUMBER_AFTER_DIGEST}", lowered)
        if match:
            return DigestCommand(action, schedule_id=int(match.group(1)))
    if not _POST_WORDS.search(text):
        return None
    if parse_cron_phrase(text) is None and not names_unkept_gap(text):
        return None
    request = parse_request(text)
    return DigestCommand("schedule", request=text, complete=request.query is not None)


# --- the orchestrator's tools ------------------------------------------------------------------


async def schedule_digest_tool(
    ctx: RunContext[AgentDependencies],
    request: str,
    cron: str | None = None,
    timezone: str | None = None,
    query: DigestQuery | None = None,
) -> str:
    """Schedule a recurring digest: a saved search posted to this channel on a cron schedule.

    Use it when the user asks for something to be posted regularly ("every weekday at 9am post
    the top new TikToks about #productivity here"). The answer goes to the user as is.

    Args:
        request: the user's words about what to post, where and when.
        cron: a five-field cron expression (e.g. '0 9 * * 1-5') or words ('every weekday
            at 9am').
        timezone: an IANA time zone if the user named one (e.g. 'Europe/Berlin').
        query: what to post, if the words alone are ambiguous.
    """
    chat = DigestChat.from_deps(ctx.deps)
    return await schedule_digest(chat, request, cron=cron, timezone=timezone, query=query)


async def list_digests_tool(ctx: RunContext[AgentDependencies]) -> str:
    """List the scheduled digests of this workspace (ids, schedule, channel, next run)."""
    return await list_digests(DigestChat.from_deps(ctx.deps))


async def remove_digest_tool(ctx: RunContext[AgentDependencies], schedule_id: int) -> str:
    """Remove (unschedule) a digest by its id, as shown by the digest list.

    Args:
        schedule_id: the digest's number, e.g. 3 for 'remove digest 3'.
    """
    return await remove_digest(DigestChat.from_deps(ctx.deps), schedule_id)


DIGEST_TOOLS: dict[str, Callable[..., Awaitable[str]]] = {
    "schedule_digest": schedule_digest_tool,
    "list_digests": list_digests_tool,
    "remove_digest": remove_digest_tool,
}


def digest_outputs() -> list[Any]:
    """The tools as pydantic-ai output functions: their answer is the reply, no extra round trip."""
    from pydantic_ai import ToolOutput

    return [ToolOutput(function, name=name) for name, function in DIGEST_TOOLS.items()]
