"""What an Events API request must look like before bolt reads it: a clean 400 for anything else.

bolt parses the body before it checks the signature and reads fields assuming Slack's shapes; a
body that is not JSON, not an object, not valid Unicode, or that puts a list where Slack puts a
string, makes it raise, and the caller gets a 500 (and Slack would retry it). Slack never sends
such bodies, so they are refused here, without being read any further.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl

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


def refusal(raw: bytes, content_type: str) -> str | None:
    """Why this body is not an Events API request bolt can read, or None when it is.

    It reads the body the way bolt does: JSON when it says so or starts with `{`, else a form
    whose `payload` field (if any) is JSON.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "the body is not UTF-8"
    if not text:
        return None
    if content_type == "application/json" or text.startswith("{"):
        return _json_refusal(text)
    if "payload" in text:
        payload = dict(parse_qsl(text, keep_blank_values=True)).get("payload")
        return _json_refusal(payload) if payload is not None else None
    return None


def _json_refusal(text: str) -> str | None:
    try:
        body = json.loads(text)
    except (ValueError, RecursionError):
        return "the body is not JSON"
    if not isinstance(body, dict):
        return "the body is not a JSON object"
    if _may_be_odd(text) and not _unicode_ok(body):
        return "the body holds text that is not valid Unicode"
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


def _unicode_ok(value: Any, depth: int = 0) -> bool:
    """No lone surrogates (JSON can escape them; nothing downstream can encode them)."""
    if depth > MAX_DEPTH:
        return False
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, dict):
        return all(_unicode_ok(k) and _unicode_ok(v, depth + 1) for k, v in value.items())
    if isinstance(value, list):
        return all(_unicode_ok(v, depth + 1) for v in value)
    return True
