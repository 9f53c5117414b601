"""Text every database and file takes: a scraped string can hold a lone surrogate, which none do,
or a NUL, which PostgreSQL refuses.

A lone surrogate is half an emoji: a scraper that cut a caption short sends `\\ud83d`, and JSON
lets it through. It has no UTF-8 form, so sqlite3 and asyncpg could not bind it (the whole
search failed to store) and an export file could not be written; and written as the JSON
escape, PostgreSQL's json operators refuse the document (a "text only" search over the tweets
then failed for everyone). NUL is refused in PostgreSQL's text columns, and in JSON its escape
`\\u0000` is stored but refused by the json operators, with the same effect.
"""

from __future__ import annotations

from typing import Any


def whole_characters(text: str) -> str:
    """The text with each lone surrogate as U+FFFD (a pair split in two becomes its emoji)."""
    if text.isascii():
        return text
    try:
        text.encode()
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def storable_text(text: str) -> str:
    """The text of whole characters, without NUL."""
    return whole_characters(text).replace("\x00", "")


def storable(value: Any) -> Any:
    """A JSON-shaped value with every string in it, keys included, storable (`storable_text`)."""
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, dict):
        return {storable(key): storable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [storable(item) for item in value]
    return value
