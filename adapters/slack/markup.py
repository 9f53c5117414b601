"""Slack's markup that notifies people, read as the words Slack shows for it.

Both directions need it: a person's message reaches the agents as they read it (`@design`,
`Feb 18, 2014`), and text the bot streams, which quotes captions and names strangers wrote,
must not carry a `<!channel>` that would ping a whole channel.
"""

from __future__ import annotations

import re

# Slack's special commands (<!here>, <!channel>, <!subteam^ID|@team>, <!date^...|text>) and
# user mentions (<@U123>): the ones that notify people.
_SLACK_COMMAND = re.compile(r"<!([a-z]+)(?:\^([^|>^]*))?[^|>]*(?:\|([^>]*))?>")
_SLACK_USER = re.compile(r"<@([UW][A-Z0-9]+)(?:\|([^>]*))?>")


def defuse_mentions(text: str) -> str:
    """Text in which Slack's notifying markup has become plain words (`@here`, `@design`).

    Streamed Markdown is not escaped like posted mrkdwn, and answers quote captions and
    names that strangers wrote: a caption holding `<!channel>` must not ping a channel.
    """
    text = _SLACK_COMMAND.sub(_plain_command, text)
    return _SLACK_USER.sub(lambda m: _plain_label(m.group(2), m.group(1)), text)


def _plain_command(match: re.Match[str]) -> str:
    """`<!here>` as `@here`; a user group or a date as the label Slack would show."""
    name, argument, label = match.group(1), match.group(2), match.group(3)
    if name in ("here", "channel", "everyone"):
        return f"@{name}"
    return _plain_label(label, argument or name)


def _plain_label(label: str | None, name: str) -> str:
    """What the markup shows a reader: its label, else @ and its name."""
    label = (label or "").strip()
    return label if label else f"@{name}"
