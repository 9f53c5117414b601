"""Turning messy actor rows into Post/Ad: field maps are per-platform data, this code is shared."""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from viraltracker_bot.platforms.models import Ad, Post
from viraltracker_bot.unicode_text import whole_characters

Item = dict[str, Any]


class MalformedItem(ValueError):
    """A dataset row that cannot become a post or ad (no id, not an object, bad values)."""


# --- reading paths ---------------------------------------------------------------------------


def dig(item: Any, path: str) -> Any:
    """The value at a dotted path ('author.userName', 'snapshot.cards.0.body'), or None."""
    return _dig(item, _parts(path))


@functools.lru_cache(maxsize=1024)
def _parts(path: str) -> tuple[str, ...]:
    """A dotted path split once: shapes read the same few dozen paths from every row."""
    return tuple(path.split("."))


def _dig(item: Any, parts: tuple[str, ...]) -> Any:
    value = item
    for part in parts:
        # `type(...) is dict` first: rows are plain dicts, and the Mapping check is an ABC call.
        if type(value) is dict or isinstance(value, Mapping):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit():
            index = int(part)
            value = value[index] if index < len(value) else None
        else:
            return None
        if value is None:
            return None
    return value


def first(item: Any, paths: Sequence[str]) -> Any:
    """The first present, non-empty value among several paths (actors rename fields over time)."""
    return _first(item, tuple(_parts(path) for path in paths))


def _first(item: Any, paths: tuple[tuple[str, ...], ...]) -> Any:
    for parts in paths:
        value = _dig(item, parts)
        if value is not None and value != "":
            return value
    return None


# --- value coercion --------------------------------------------------------------------------

_SUFFIX = {"k": 1_000, "m": 1_000_000, "b": 1_000_000_000}
_COUNT = re.compile(r"(\d+(?:[.,]\d+)*)\s*([kmb])?\b", re.IGNORECASE)


def to_int(value: Any) -> int | None:
    """A count from 1234, 1234.0, '1,234', '1.2K', '3M views'; None when absent or nonsense."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and value >= 0 else None
    if not isinstance(value, str):
        return None
    text = value.strip().replace("\u00a0", " ")
    if not text:
        return None
    if text.lower().startswith("no "):  # "No views", "No comments"
        return 0
    match = _COUNT.search(text)
    if not match:
        return None
    number, suffix = match.group(1), match.group(2)
    try:
        if suffix:
            return int(float(number.replace(",", ".")) * _SUFFIX[suffix.lower()])
        digits = number.replace(",", "")
        if digits.count(".") > 1:  # 1.234.567
            digits = digits.replace(".", "")
        return int(float(digits))
    except ValueError:
        return None


def to_bool(value: Any) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return bool(value)
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "yes", "1", "active"):
            return True
        if lowered in ("false", "no", "0", "inactive"):
            return False
    return None


def to_text(value: Any) -> str:
    if value is None or isinstance(value, list):
        return ""
    if isinstance(value, str):
        return whole_characters(value.strip())
    if isinstance(value, Mapping):
        return to_text(value.get("text"))
    return str(value)


def to_str_or_none(value: Any) -> str | None:
    """Ids, handles, URLs: numbers become their digits, objects and empty text become None."""
    if value is None or isinstance(value, (bool, list)):
        return None
    return to_text(value) or None


_UNITS = {
    "second": timedelta(seconds=1),
    "minute": timedelta(minutes=1),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(weeks=1),
    "month": timedelta(days=30),
    "year": timedelta(days=365),
}
_RELATIVE = re.compile(r"(\d+|an?|one)\s+(second|minute|hour|day|week|month|year)s?\s+ago", re.I)
_FORMATS = (
    "%a %b %d %H:%M:%S %z %Y",  # Twitter: Fri Nov 24 17:49:36 +0000 2023
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d",
    "%b %d, %Y",  # Jan 5, 2024
    "%d %b %Y",
    "%B %d, %Y",
    "%m/%d/%Y",
)


def to_datetime(value: Any, now: datetime) -> datetime | None:
    """A UTC datetime from unix seconds/ms, ISO text, Twitter's format or '2 months ago'."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, (int, float)):
        return _from_epoch(float(value))
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text:
        return None
    if re.fullmatch(r"\d{9,13}(\.\d+)?", text):
        return _from_epoch(float(text))
    relative = _relative(text, now)
    if relative is not None:
        return relative
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except ValueError:
        pass
    for fmt in _FORMATS:
        try:
            parsed = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def _from_epoch(seconds: float) -> datetime | None:
    if not math.isfinite(seconds) or seconds <= 0:
        return None
    if seconds > 1e11:  # milliseconds
        seconds /= 1000
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _relative(text: str, now: datetime) -> datetime | None:
    lowered = text.lower()
    if lowered in ("just now", "now", "today"):
        return now
    if lowered == "yesterday":
        return now - timedelta(days=1)
    match = _RELATIVE.search(text)  # also "Streamed 3 days ago", "Premiered 1 month ago"
    if not match:
        return None
    amount = 1 if match.group(1).lower() in ("a", "an", "one") else int(match.group(1))
    return now - amount * _UNITS[match.group(2).lower()]


def to_duration_s(value: Any) -> float | None:
    """Seconds from 15, '0:15', '1:02:03', or ISO 8601 'PT1M3S'."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) and value >= 0 else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if re.fullmatch(r"\d+(:\d{1,2}){1,2}", text):
        seconds = 0.0
        for part in text.split(":"):
            seconds = seconds * 60 + int(part)
        return seconds
    iso = re.fullmatch(r"P(?:(\d+)D)?T?(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?", text)
    if iso and any(iso.groups()):
        d, h, m, s = (float(g) if g else 0.0 for g in iso.groups())
        return d * 86400 + h * 3600 + m * 60 + s
    try:
        return float(text)
    except ValueError:
        return None


_HASHTAG = re.compile(r"#(\w+)", re.UNICODE)


def to_hashtags(value: Any, text: str = "") -> list[str]:
    """Hashtags from a list of strings or {name}/{text} objects, plus any '#tag' in the text."""
    tags: list[str] = []
    if isinstance(value, list):
        for tag in value:
            name = tag.get("name") or tag.get("text") if isinstance(tag, Mapping) else tag
            if isinstance(name, str) and name.strip():
                tags.append(whole_characters(name.strip()).lstrip("#"))
    tags.extend(_HASHTAG.findall(text or ""))
    seen: dict[str, str] = {}
    for tag in tags:
        seen.setdefault(tag.lower(), tag)
    return list(seen.values())


# --- shapes ----------------------------------------------------------------------------------

Converter = Callable[[Any, datetime], Any]

CONVERTERS: dict[str, Converter] = {
    "views": lambda v, _now: to_int(v),
    "likes": lambda v, _now: to_int(v),
    "comments": lambda v, _now: to_int(v),
    "shares": lambda v, _now: to_int(v),
    "author_followers": lambda v, _now: to_int(v),
    "spend_lower": lambda v, _now: to_int(v),
    "spend_upper": lambda v, _now: to_int(v),
    "impressions_lower": lambda v, _now: to_int(v),
    "impressions_upper": lambda v, _now: to_int(v),
    "author_verified": lambda v, _now: to_bool(v),
    "is_active": lambda v, _now: to_bool(v),
    "is_short": lambda v, _now: to_bool(v),
    "posted_at": to_datetime,
    "start_date": to_datetime,
    "end_date": to_datetime,
    "duration_s": lambda v, _now: to_duration_s(v),
    "text": lambda v, _now: to_text(v),
    "creative_text": lambda v, _now: to_text(v),
    "publisher_platforms": lambda v, _now: [str(p) for p in v] if isinstance(v, list) else [],
}
"""How each model field is read; fields not listed are taken as optional strings."""

Derive = Callable[[Item, dict[str, Any], datetime], None]


@dataclass(frozen=True)
class ItemShape:
    """One actor's output, as data: which paths feed which Post/Ad field, which rows to skip."""

    model: type[Post] | type[Ad]
    id_field: str
    fields: Mapping[str, tuple[str, ...]]
    fixed: Mapping[str, Any] = field(default_factory=dict)
    skip_markers: tuple[str, ...] = ("noResults", "error", "errorDescription")
    required_type: str | None = None
    derive: Derive | None = None

    # Worked out once per shape rather than once per row (a run is hundreds of rows).

    @functools.cached_property
    def readers(self) -> tuple[tuple[str, tuple[tuple[str, ...], ...], Converter | None], ...]:
        """(field, its split paths, its converter or None for an optional string) per field."""
        return tuple(
            (name, _split(paths), CONVERTERS.get(name)) for name, paths in self.fields.items()
        )

    @functools.cached_property
    def text_paths(self) -> tuple[tuple[str, ...], ...]:
        return _split(self.fields.get("text", ()))

    @functools.cached_property
    def hashtag_paths(self) -> tuple[tuple[str, ...], ...]:
        return _split(self.fields.get("hashtags", ()))


def _split(paths: Sequence[str]) -> tuple[tuple[str, ...], ...]:
    return tuple(_parts(path) for path in paths)


def normalise_item(item: Any, shape: ItemShape, now: datetime) -> Post | Ad:
    """One row into a Post/Ad; raises MalformedItem when the row cannot be trusted."""
    if not isinstance(item, Mapping):
        raise MalformedItem(f"not an object: {type(item).__name__}")
    values: dict[str, Any] = dict(shape.fixed)
    for name, paths, convert in shape.readers:
        raw = _first(item, paths)
        values[name] = convert(raw, now) if convert else to_str_or_none(raw)
    if shape.model is Post:
        # Every text field is scanned: a YouTube title and its description both carry tags.
        texts = " ".join(to_text(_dig(item, parts)) for parts in shape.text_paths)
        values["hashtags"] = to_hashtags(_first(item, shape.hashtag_paths), texts)
    if shape.derive is not None:
        shape.derive(dict(item), values, now)
    item_id = values.get(shape.id_field)
    if not item_id or item_id in ("-1", "0"):
        raise MalformedItem("no id")
    values = {k: v for k, v in values.items() if v is not None}
    values["raw"] = dict(item)
    try:
        return shape.model.model_validate(values)
    except ValidationError as exc:
        raise MalformedItem(str(exc)) from exc


def is_placeholder(item: Any, shape: ItemShape) -> bool:
    """Rows some actors push for 'no results' or errors: not content, not counted as malformed."""
    if not isinstance(item, Mapping):
        return False
    if any(item.get(marker) for marker in shape.skip_markers):
        return True
    kind = item.get("type")
    return shape.required_type is not None and kind is not None and kind != shape.required_type


@dataclass
class Normalised:
    """What a batch of rows became: the good ones, plus how many were dropped."""

    posts: list[Post] = field(default_factory=list)
    ads: list[Ad] = field(default_factory=list)
    skipped: int = 0
    placeholders: int = 0
    duplicates: int = 0


def normalise_items(items: Iterable[Any], shape: ItemShape, now: datetime) -> Normalised:
    """All rows of a run; bad rows are counted and skipped rather than failing the search."""
    result = Normalised()
    seen: set[str] = set()
    for item in items:
        if is_placeholder(item, shape):
            result.placeholders += 1
            continue
        try:
            obj = normalise_item(item, shape, now)
        except MalformedItem:
            result.skipped += 1
            continue
        key = obj.ad_id if isinstance(obj, Ad) else obj.platform_id
        if key in seen:  # several search terms can find the same post: keep its first sighting
            result.duplicates += 1
            continue
        seen.add(key)
        if isinstance(obj, Ad):
            result.ads.append(obj)
        else:
            result.posts.append(obj)
    return result
