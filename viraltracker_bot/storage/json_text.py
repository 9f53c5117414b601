"""How JSON columns become text and back: pydantic-core's serializer instead of the json module.

Every answer writes fifty posts with their scraped items, and the thread's ResultCache and
history, as JSON, and each message kept before its ack has a JSON payload: with the json
module's `dumps` that was about a twentieth of the event loop's CPU under load. pydantic-core
(already here, under pydantic) does the same in about a third of the time, and reads it back in
half. What it writes differs from `json.dumps` only in ways any JSON reader takes:
no spaces after separators, and non-ASCII text as UTF-8 rather than `\\u` escapes. NaN and
infinity, which are not JSON, are written as null: `json.dumps` wrote `NaN`, which PostgreSQL
refuses (a whole search's rows with it). A value with a string pydantic-core cannot write (a
lone surrogate, half an emoji) is written with U+FFFD in its place, and NUL is left out
(`unicode_text.storable`): PostgreSQL's json operators refuse the escape of either, so one
scraped tweet holding it made every "text only" search fail, for everyone. Rows that
`json.dumps` wrote before may hold a surrogate's escape, which only `json.loads` reads.
"""

from __future__ import annotations

import json
from typing import Any

import pydantic_core

from viraltracker_bot.unicode_text import storable


def to_text(value: Any) -> str:
    """`json.dumps` for a JSON column (same types; datetimes as ISO 8601 text as well)."""
    try:
        text = _json(value)
    except pydantic_core.PydanticSerializationError:  # text with no UTF-8 form
        return _json(storable(value))
    if _NUL in text:  # rare: one scan of the text, a walk over the value only when it is there
        return _json(storable(value))
    return text


_NUL = "\\u0000"  # how JSON writes NUL (also found in an escaped backslash before "u0000")


def _json(value: Any) -> str:
    return pydantic_core.to_json(value, inf_nan_mode="null").decode()


def from_text(text: str | bytes) -> Any:
    """`json.loads` for a JSON column; repeated keys share one string, values are not cached."""
    try:
        return pydantic_core.from_json(text, cache_strings="keys")
    except ValueError:  # a lone surrogate's escape, which `json.dumps` wrote before
        return json.loads(text)
