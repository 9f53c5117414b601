"""A person's Slack message, read from an Events API body, and what it means for the core."""

from __future__ import annotations

import html
import re
from typing import Any, Literal

from pydantic import BaseModel, Field

from adapters.slack.markup import defuse_mentions
from viraltracker_bot.conversation import ConversationKey, IncomingMessage

# Message subtypes that are still a person talking; every other subtype (edits, deletions,
# joins, bot posts) is not a question for the bot.
PERSON_SUBTYPES = frozenset({"file_share", "thread_broadcast"})

_USER_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_CHANNEL_LINK = re.compile(r"<#[CG][A-Z0-9]+\|([^>]*)>")
_LABELLED_LINK = re.compile(r"<((?:https?|mailto):[^|>]+)\|([^>]+)>")
_PLAIN_LINK = re.compile(r"<((?:https?|mailto):[^>]+)>")
_GROUP_MENTION = re.compile(r"<!(?:here|channel|everyone|subteam\^)")


class SlackMessage(BaseModel):
    """One message a person posted, with where it lives (workspace, channel, thread)."""

    kind: Literal["app_mention", "message"]
    team: str = Field(description="the workspace the app answers in (part of the session key)")
    user_team: str = Field(description="the person's own workspace (differs in Slack Connect)")
    channel: str
    user: str
    text: str
    ts: str
    thread_ts: str | None = None
    channel_type: str | None = None

    @property
    def thread(self) -> str:
        """The thread the answer goes to: the message's thread, or the thread it starts."""
        return self.thread_ts or self.ts

    @property
    def is_direct(self) -> bool:
        return self.channel_type == "im"

    @property
    def event_id(self) -> str:
        """One id per message: the app_mention and message deliveries of it share it."""
        return f"{self.channel}:{self.ts}"

    def key(self) -> ConversationKey:
        return ConversationKey(
            platform="slack", workspace=self.team, channel=self.channel, thread=self.thread
        )

    def mentions(self, user_id: str | None) -> bool:
        return bool(user_id) and any(m == user_id for m in _USER_MENTION.findall(self.text))

    def addressed_to_others(self, user_id: str | None) -> bool:
        """Whether it @mentions people (or @here, a user group) but not the bot.

        In a thread the bot answered, people also talk to each other; a message addressed
        to a colleague is theirs to answer, not a question for the bot.
        """
        if self.mentions(user_id):
            return False
        people = any(m != user_id for m in _USER_MENTION.findall(self.text))
        return people or _GROUP_MENTION.search(self.text) is not None

    def incoming(self, bot_user_id: str | None) -> IncomingMessage:
        return IncomingMessage(
            key=self.key(),
            user=self.user,
            text=plain_text(self.text, bot_user_id),
            event_id=self.event_id,
        )


def read_message(body: dict[str, Any]) -> SlackMessage | None:
    """The person's message in an `app_mention` or `message` event body, else None."""
    event = body.get("event")
    if not isinstance(event, dict) or event.get("type") not in ("app_mention", "message"):
        return None
    subtype = event.get("subtype")
    if subtype is not None and subtype not in PERSON_SUBTYPES:
        return None
    user, channel, ts = event.get("user"), event.get("channel"), event.get("ts")
    if event.get("bot_id") or not (user and channel and ts):
        return None
    team = str(body.get("team_id") or event.get("team") or "")
    return SlackMessage(
        kind=event["type"],
        team=team,
        user_team=str(event.get("user_team") or event.get("team") or team),
        channel=str(channel),
        user=str(user),
        text=str(event.get("text") or ""),
        ts=str(ts),
        thread_ts=event.get("thread_ts"),
        channel_type=event.get("channel_type"),
    )


def plain_text(text: str, bot_user_id: str | None = None) -> str:
    """What the person typed, without the bot's @mention and Slack's markup.

    User groups and dates become the words Slack shows for them (`@design`, `Feb 18, 2014`):
    the agents read the text as a person wrote it, not Slack's encoding of it.
    """

    def mention(match: re.Match[str]) -> str:
        return "" if match.group(1) == bot_user_id else f"@{match.group(1)}"

    text = _USER_MENTION.sub(mention, text)
    text = _CHANNEL_LINK.sub(lambda m: f"#{m.group(1)}", text)
    text = _LABELLED_LINK.sub(_link, text)
    text = _PLAIN_LINK.sub(lambda m: m.group(1), text)
    text = defuse_mentions(text)  # @here, user groups, dates
    return re.sub(r"[ \t]{2,}", " ", html.unescape(text)).strip()


def _link(match: re.Match[str]) -> str:
    """Slack shows auto-linked URLs by a shortened label; the URL alone says it all."""
    url, label = match.group(1), match.group(2)
    if url.startswith("mailto:"):
        return label
    return url if label in url else f"{label} ({url})"
