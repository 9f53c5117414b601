"""What an Events API request must look like before bolt handles it: a clean 400 for anything else.

bolt parses the body before it checks the signature and reads fields assuming Slack's shapes; a
body that is not JSON, not an object, not valid Unicode, or that puts a list where Slack puts a
string, makes it raise, and the caller gets a 500 (and Slack would retry it). Slack never sends
such bodies, so they are refused here, before bolt dispatches them.

The body is parsed once, by bolt's own request object, and the screen reads what it parsed: a
second parse of every event cost a tenth of what bolt spends acknowledging it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from slack_bolt.request.async_request import AsyncBoltRequest

Shape = type | tuple[type, ...]

_TEXT = (str, type(None))
_TEXT_OR_OBJECT = (str, dict, type(None))
ENVELOPE: dict[str, Shape] = {
    **dict.fromkeys(
        (
            "type", "token", "team_id", "api_app_id", "enterprise_id", "event_id", "challenge",
            "context_team_id", "context_enterprise_id", "user_id", "channel_id", "trigger_id",
            "response_url", "event_context",
        ),
        _TEXT,
    ),
    **dict.fromkeys(("team", "user", "channel", "enterprise"), _TEXT_OR_OBJECT),
    **dict.fromkeys(("is_enterprise_install", "is_ext_shared_channel"), (bool, type(None))),
    "event": dict,  # bolt reads it as an object whenever it is there
    **dict.fromkeys(("view", "message", "previous_message"), (dict, type(None))),
    "authorizations": (list, type(None)),
    "event_time": (int, float, type(None)),
}  # fmt: skip
EVENT: dict[str, Shape] = {
    **dict.fromkeys(
        (
            "type", "subtype", "ts", "thread_ts", "text", "team", "bot_id", "channel_type",
            "user_team", "event_ts", "app_id", "client_msg_id", "parent_user_id", "user_id",
            "channel_id",
        ),
        _TEXT,
    ),
    **dict.fromkeys(("user", "channel"), _TEXT_OR_OBJECT),
    **dict.fromkeys(("message", "previous_message", "bot_profile"), (dict, type(None))),
    **dict.fromkeys(("blocks", "files", "attachments"), (list, type(None))),
}  # fmt: skip


_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")
MAX_DEPTH = 64


def _may_be_odd(text: str) -> bool:
    """Whether the body needs the full walk (a rare, slower path).

    Decoded UTF-8 holds no lone surrogate; only a JSON escape (`\\ud800`) can bring one in. And
    nesting deeper than MAX_DEPTH needs more than MAX_DEPTH brackets.
    """
    return (
        text.count("{") + text.count("[") > MAX_DEPTH or _ESCAPED_SURROGATE.search(text) is not None
    )


def bad_timestamp(value: str | None) -> bool:
    """A request timestamp that is there but is no Unix time (the signature check would raise)."""
    return value is not None and not (value.isascii() and value.isdigit() and len(value) <= 12)


def screened_request(raw: bytes, query: str, headers: Mapping[str, str]) -> AsyncBoltRequest | str:
    """bolt's request for this HTTP request, or why it is not an Events API request bolt can read.

    bolt reads the body as JSON when it says so or starts with `{`, else as a form whose
    `payload` field (if any) is JSON; reading it is where a body that is not JSON, or not an
    object, fails.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "the body is not UTF-8"
    try:
        request = AsyncBoltRequest(body=text, query=query, headers=headers)  # type: ignore[arg-type]
    except (ValueError, TypeError, AttributeError, LookupError, RecursionError):
        return "the body is not a JSON object Slack would send"
    body: Any = request.body
    if not isinstance(body, dict):
        return "the body is not a JSON object"
    # Only a JSON escape can bring a lone surrogate into the raw JSON text; a form's payload is
    # percent-encoded, so forms (which the bot is never sent) always get the full walk.
    raw_json = request.content_type == "application/json" or text.startswith("{")
    problem = _walk_refusal(body) if not raw_json or _may_be_odd(text) else None
    problem = problem or _body_refusal(body)
    return request if problem is None else problem


def _body_refusal(body: dict[str, Any]) -> str | None:
    problem = _fields(body, ENVELOPE, "")
    if problem:
        return problem
    for index, authorization in enumerate(body.get("authorizations") or []):
        if not isinstance(authorization, dict):
            return f"authorizations[{index}] is not an object"
    for name in ("event", "message", "previous_message"):
        nested = body.get(name)
        if isinstance(nested, dict):
            problem = _event(nested, name)
            if problem:
                return problem
    return None


def _event(event: dict[str, Any], where: str) -> str | None:
    problem = _fields(event, EVENT, where + ".")
    if problem:
        return problem
    for name in ("message", "previous_message"):
        nested = event.get(name)
        if isinstance(nested, dict):
            problem = _fields(nested, EVENT, f"{where}.{name}.")
            if problem:
                return problem
    return None


def _fields(obj: dict[str, Any], shapes: dict[str, Shape], where: str) -> str | None:
    for name, shape in shapes.items():
        if name in obj and not isinstance(obj[name], shape):
            return f"{where}{name} has the wrong type"
    return None


def _walk_refusal(value: Any, depth: int = 0) -> str | None:
    """Nesting deeper than Slack's, or lone surrogates (JSON can escape them; nothing
    downstream can encode them)."""
    if depth > MAX_DEPTH:
        return f"the body is nested deeper than {MAX_DEPTH} levels"
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "the body holds text that is not valid Unicode"
        return None
    if isinstance(value, dict):
        items: Any = value.items()
        for key, item in items:
            problem = _walk_refusal(key) or _walk_refusal(item, depth + 1)
            if problem:
                return problem
    elif isinstance(value, list):
        for item in value:
            problem = _walk_refusal(item, depth + 1)
            if problem:
                return problem
    return None
