"""discord.py's debug logs carry interaction tokens; they are cut out before any handler sees them.

An interaction token is a credential for 15 minutes: whoever holds it can answer as the bot to
that interaction (edit its reply, send follow-ups). At DEBUG discord.py prints each interaction
and webhook request's URL, which holds the token, and every gateway event, an
INTERACTION_CREATE with its token among them. The bot token itself is never printed.
"""

from __future__ import annotations

import logging
import re

_TOKEN_IN_URL = re.compile(r"(/(?:webhooks|interactions)/\d+/)[^/?\s'\"]+")
_TOKEN_IN_EVENT = re.compile(r"""(['"]token['"]:\s*['"])[^'"]+""")
_HIDDEN = r"\1<token>"
DISCORD_LOGGERS = ("discord.http", "discord.webhook.async_", "discord.gateway")
"""Where discord.py logs requests and gateway events (a logger's filters do not reach its
children, so each is named)."""


class HideInteractionTokens(logging.Filter):
    """Rewrites a record's message with its tokens replaced; the record is always kept."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        hidden = _TOKEN_IN_EVENT.sub(_HIDDEN, _TOKEN_IN_URL.sub(_HIDDEN, message))
        if hidden != message:
            record.msg, record.args = hidden, None
        return True


def hide_interaction_tokens() -> None:
    """Install the filter on discord.py's loggers (once, however many bots start)."""
    for name in DISCORD_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, HideInteractionTokens) for f in logger.filters):
            logger.addFilter(HideInteractionTokens())
