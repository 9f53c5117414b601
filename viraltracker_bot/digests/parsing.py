"""Plain-English digest requests -> cron, time zone and saved query: small, deterministic rules.

The chat tool and the offline router both use this, so "every weekday at 9am post the top new
TikToks about #productivity here" means the same with or without a language model.
"""

from __future__ import annotations

import re
from functools import lru_cache
from zoneinfo import available_timezones

from pydantic import BaseModel

from viraltracker_bot.digests.schedule import DigestQuery, normalise_cron, weekday_numbers
from viraltracker_bot.platforms.models import Platform

_DAYS = {"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}
_DAY_WORD = (
    r"(?:(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)s?"
    r"|(?:mon|tues?|wed|thu(?:rs?)?|fri|sat|sun))\b"
)
_PLURAL_DAY = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)s\b"
# What people write after a time ('9am EST'): the zone whose clocks they mean, summer included.
_ABBREVIATIONS = {
    **dict.fromkeys(("ET", "EST", "EDT"), "America/New_York"),
    **dict.fromkeys(("CT", "CST", "CDT"), "America/Chicago"),
    **dict.fromkeys(("MT", "MST", "MDT"), "America/Denver"),
    **dict.fromkeys(("PT", "PST", "PDT"), "America/Los_Angeles"),
    **dict.fromkeys(("BST",), "Europe/London"),
    **dict.fromkeys(("CET", "CEST"), "Europe/Paris"),
    **dict.fromkeys(("EET", "EEST"), "Europe/Athens"),
    **dict.fromkeys(("IST",), "Asia/Kolkata"),
    **dict.fromkeys(("JST",), "Asia/Tokyo"),
    **dict.fromkeys(("AEST", "AEDT"), "Australia/Sydney"),
}
# Gaps a cron cannot keep: these must not be read as 'every day' (or every week) at the time.
_UNKEPT_GAP = re.compile(
    rf"\bevery\s+(?:other|second|2nd|third|3rd|\d+)\s+(?:days?\b|weeks?\b|months?\b|{_DAY_WORD})"
    r"|\b(?:bi-?weekly|fortnightly|every\s+fortnight)\b"
)
_EXCEPT = re.compile(
    r"\b(?:except|but\s+not|excluding|apart\s+from|other\s+than)\s+(?:on\s+)?"
    rf"((?:weekends?\b|{_DAY_WORD})(?:\s*(?:,|and|or|&|\+)\s*(?:weekends?\b|{_DAY_WORD}))*)"
)
_DAYTIME = {"morning": 9, "noon": 12, "midday": 12, "afternoon": 15, "evening": 18, "night": 21}
_PLATFORM_WORDS: list[tuple[Platform, re.Pattern[str]]] = [
    (Platform.tiktok, re.compile(r"\btik\s*toks?\b", re.I)),
    (Platform.twitter, re.compile(r"\b(?:tweets?|twitter|x\s+posts?|on\s+x)\b", re.I)),
    (Platform.youtube, re.compile(r"\b(?:youtube|yt|shorts)\b", re.I)),
    (Platform.facebook, re.compile(r"\b(?:facebook|fb|meta)\b", re.I)),
]
# Generic words name a platform only when no platform is named outright ("TikTok videos").
_GENERIC_WORDS: list[tuple[Platform, re.Pattern[str]]] = [
    (Platform.youtube, re.compile(r"\bvideos?\b", re.I)),
    (Platform.facebook, re.compile(r"\bads?\b", re.I)),
]
_NUMBER = r"(\d+(?:[.,]\d+)*)\s*([km]|thousand|million)?\b"
_SLACK_MARKUP = re.compile(r"<[@!][^>]*>")
_CHANNEL_MENTION = re.compile(r"<#([A-Z0-9]+|\d+)(?:\|[^>]*)?>")
_TOPIC_STOP = (
    r"\b(?:here|there|in|into|to|with|from|every|each|at|on|daily|weekly|hourly|having|that|"
    r"which|posted|over|under|above|below|sorted|ranked|please|and\s+post|tz|timezone)\b|[.!?;]|$"
)


class CronPhrase(BaseModel):
    """A recognised schedule: the cron expression and the words it came from."""

    cron: str
    words: str


class DigestRequest(BaseModel):
    """Everything a chat message says about a digest (what is missing stays None)."""

    cron: CronPhrase | None = None
    timezone: str | None = None
    query: DigestQuery | None = None
    channel: str | None = None  # a channel mentioned in the message ("in <#C0123>")
    problem: str | None = None  # why the query could not be understood


def parse_request(
    text: str, *, viral_min_views: int = 100_000, micro_max_followers: int = 50_000
) -> DigestRequest:
    """Read a whole chat message: when, in which zone, what to post, and maybe where."""
    channel_match = _CHANNEL_MENTION.search(text or "")
    clean = _SLACK_MARKUP.sub(" ", _CHANNEL_MENTION.sub(" ", text or ""))
    request = DigestRequest(
        cron=parse_cron_phrase(clean),
        timezone=parse_timezone(clean),
        channel=channel_match.group(1) if channel_match else None,
    )
    try:
        request.query = parse_query(
            clean, viral_min_views=viral_min_views, micro_max_followers=micro_max_followers
        )
    except ValueError as exc:
        request.problem = str(exc)
    return request


def parse_cron_phrase(text: str) -> CronPhrase | None:
    """'every weekday at 9am' -> '0 9 * * 1-5'; None when the text names no schedule."""
    lowered = " ".join((text or "").lower().split())
    quoted = re.search(r"[`\"']((?:\S+\s+){4}\S+)[`\"']", text or "")
    if quoted:
        try:
            return CronPhrase(cron=normalise_cron(quoted.group(1)), words=quoted.group(0))
        except ValueError:
            pass
    if names_unkept_gap(lowered):
        return None
    return _interval_phrase(lowered) or _calendar_phrase(lowered)


def names_unkept_gap(text: str) -> bool:
    """'every other day', 'every 2 weeks', 'biweekly': a schedule no cron expression keeps."""
    return _UNKEPT_GAP.search(" ".join((text or "").lower().split())) is not None


def _interval_phrase(text: str) -> CronPhrase | None:
    match = re.search(r"\bevery\s+(\d+)\s*(?:minutes?|mins?)\b", text)
    if match and 1 <= int(match.group(1)) <= 59:
        return CronPhrase(cron=f"*/{int(match.group(1))} * * * *", words=match.group(0))
    match = re.search(r"\bevery\s+(\d+)\s*(?:hours?|hrs?)\b", text)
    if match and 1 <= int(match.group(1)) <= 23:
        step = int(match.group(1))
        return CronPhrase(
            cron="0 * * * *" if step == 1 else f"0 */{step} * * *", words=match.group(0)
        )
    match = re.search(r"\b(?:hourly|every\s+hour|each\s+hour|once\s+an\s+hour)\b", text)
    if match:
        return CronPhrase(cron="0 * * * *", words=match.group(0))
    return None


def _calendar_phrase(text: str) -> CronPhrase | None:
    days, day_words = _day_field(text)
    times, time_words = _time_of_day(text)
    if days is None and not times:
        return None
    minutes = {m for _, m in times or [(9, 0)]}
    if len(minutes) > 1:  # '9:30 and 17:00': one cron would also fire at 9:00 and 17:30
        return None
    hours = ",".join(str(h) for h in sorted({h for h, _ in times or [(9, 0)]}))
    dom = "*"
    if days == "monthly":
        days, dom = "*", _day_of_month(text)
    cron = f"{minutes.pop()} {hours} {dom} * {days or '*'}"
    return CronPhrase(
        cron=normalise_cron(cron), words=" ".join(w for w in (day_words, time_words) if w)
    )


def _day_of_month(text: str) -> str:
    """'monthly on the 15th' -> '15'; the 1st when no day is named."""
    match = re.search(r"\b(?:the\s+(\d{1,2})(?:st|nd|rd|th)|day\s+(\d{1,2}))\b", text)
    day = int((match.group(1) or match.group(2)) if match else 1)
    return str(day) if 1 <= day <= 31 else "1"


def _day_field(text: str) -> tuple[str | None, str]:
    """The weekday field: '1-5', '0,6', '1,4', '*', 'monthly' (handled by the caller) or None."""
    excluded = _EXCEPT.search(text)
    if excluded:
        return _all_but(text, excluded)
    return _named_days(text)


def _all_but(text: str, excluded: re.Match[str]) -> tuple[str | None, str]:
    """'every day except weekends' -> '1,2,3,4,5': the days named, less those after 'except'
    (read together, 'weekends' would otherwise be taken as the days to post on)."""
    field, words = _named_days(text[: excluded.start()] + " " + text[excluded.end() :])
    if field == "monthly":
        return field, words
    days = set(weekday_numbers(field or "*") or range(7))
    dropped = {_DAYS[w[:3]] for w in re.findall(_DAY_WORD, excluded.group(1))}
    if re.search(r"\bweekends?\b", excluded.group(1)):
        dropped |= {0, 6}
    kept = sorted(days - dropped)
    if not kept or kept == sorted(days):
        return field, words
    return ",".join(str(d) for d in kept), f"{words} {excluded.group(0)}".strip()


def _named_days(text: str) -> tuple[str | None, str]:
    checks: list[tuple[str, str]] = [
        (r"\b(?:every\s+|on\s+|each\s+)?(?:weekdays?|work\s*days?|business\s+days?)\b"
         r"|\bmonday\s+(?:to|through|-)\s+friday\b|\bmon\s*-\s*fri\b", "1-5"),
        (r"\b(?:every\s+|on\s+)?(?:weekends?|saturday\s+and\s+sunday)\b", "0,6"),
        (r"\b(?:every\s+day|each\s+day|daily|every\s+(?:morning|evening|night|afternoon)"
         r"|each\s+(?:morning|evening)|nightly)\b", "*"),
        (r"\b(?:weekly|every\s+week|once\s+a\s+week)\b", "1"),
        (r"\b(?:monthly|every\s+month|once\s+a\s+month)\b", "monthly"),
    ]  # fmt: skip
    for pattern, field in checks:
        match = re.search(pattern, text)
        if match:
            return field, match.group(0)
    days = rf"(?:\s*(?:,|and|&|\+)\s*(?:{_DAY_WORD}))*"
    match = re.search(rf"\b(?:every|each|on)\s+((?:{_DAY_WORD}){days})", text)
    if match is None and _time_of_day(text)[0]:
        # 'mondays and thursdays at 9am' names its days without 'every' or 'on'; a plural with
        # a time does ('post TikToks about #mondays' names a topic, and no schedule).
        match = re.search(rf"(?<![#@])\b((?:{_PLURAL_DAY}){days})", text)
    if not match:
        return None, ""
    numbers = sorted({_DAYS[w[:3]] for w in re.findall(_DAY_WORD, match.group(1))})
    return ",".join(str(n) for n in numbers), match.group(0)


def _time_of_day(text: str) -> tuple[list[tuple[int, int]], str]:
    """'at 9am' / 'at 18:30' / 'at 10' / '9:30 pm' / 'at noon' / 'every morning' -> [(h, m)];
    'at 9am and 5pm' -> [(9, 0), (17, 0)]; [] when the text names no time."""
    patterns = (
        r"\b(?:at\s+)?(\d{1,2})(?:[:.](\d{2}))?\s*(a\.?m\.?|p\.?m\.?)(?![a-z])",
        r"\bat\s+(\d{1,2})(?:[:.h](\d{2}))?\b()(?!\s*(?:%|k\b|views|posts|followers))",
        r"\b(\d{1,2}):(\d{2})\b()",
    )
    for pattern in patterns:
        match = re.search(pattern, text)
        if match is None:
            continue
        time = _clock_time(text, match)
        if time is not None:
            more, words = _more_times(text, match.end())
            return [time, *more], (match.group(0) + words).strip()
    match = re.search(r"\b(?:at\s+)?(noon|midday|midnight)\b", text)
    if match:
        return [(0, 0) if match.group(1) == "midnight" else (12, 0)], match.group(0)
    match = re.search(
        r"\b(?:every|each|in\s+the|\w+day)\s+(morning|afternoon|evening|night)s?\b", text
    )
    if match:
        return [(_DAYTIME[match.group(1)], 0)], match.group(0)
    return [], ""


_COUNTED = re.compile(
    r"\s*(?:new\s+|best\s+|top\s+|viral\s+|most\s+\w+\s+)?"
    r"(?:posts|tik\s*toks?|tweets?|videos?|shorts|ads?|items?|results?)\b"
)
_AND_TIME = re.compile(
    r"\s*(?:,|and|&)\s*(?:at\s+)?(\d{1,2})(?:[:.](\d{2}))?\s*(a\.?m\.?|p\.?m\.?|)(?![\d:.a-z%])"
)


def _more_times(text: str, start: int) -> tuple[list[tuple[int, int]], str]:
    """The times joined on after the first: 'at 9am and 5pm', 'at 8, 12 and 18'."""
    times: list[tuple[int, int]] = []
    end = start
    while (match := _AND_TIME.match(text, end)) is not None:
        time = _clock_time(text, match)
        if time is None or (not match.group(3) and _counts_something(text, match.end())):
            break
        times.append(time)
        end = match.end()
    return times, text[start:end]


def _counts_something(text: str, end: int) -> bool:
    """'at 9, 5 tiktoks': a bare number followed by what is posted is a count, not a time."""
    return _COUNTED.match(text, end) is not None


def _clock_time(text: str, match: re.Match[str]) -> tuple[int, int] | None:
    """A matched hour, minute and am/pm suffix as a 24-hour (h, m); None if no such time."""
    hour, minute, suffix = int(match.group(1)), int(match.group(2) or 0), match.group(3)
    rest = text[match.end() :]
    if suffix.startswith("p") and hour < 12:
        hour += 12
    elif suffix.startswith("a") and hour == 12:
        hour = 0
    elif not suffix and hour == 12 and re.match(r"\s*(?:midnight|at\s+night)\b", rest):
        hour = 0  # '12 midnight' is the start of the day, not noon
    elif not suffix and _later_in_the_day(text, hour):
        hour += 12
    return (hour, minute) if hour <= 23 and minute <= 59 else None


def _later_in_the_day(text: str, hour: int) -> bool:
    """'every evening at 7' means 19:00: a bare hour is on the afternoon's side of the day
    when the schedule says afternoon, evening or night (but 'every night at 1' stays 01:00)."""
    match = re.search(r"\b(?:every|each|in\s+the|on|\w+day)\s+(afternoon|evening|night)s?\b", text)
    if match is None:
        return False
    return 1 <= hour < 12 if match.group(1) != "night" else 6 <= hour < 12


def parse_timezone(text: str) -> str | None:
    """An IANA zone named in the text ('Europe/Berlin', 'UTC', 'Berlin time'), else None."""
    for token in re.findall(r"\b[A-Za-z]+(?:/[A-Za-z0-9_+\-]+)+", text or ""):
        match = _zones_by_lower().get(token.lower())
        if match:
            return match
    offset = re.search(
        r"\b(?:utc|gmt)\s*([+-])\s*(\d{1,2})(?::?(\d{2}))?(?![\d:])", text or "", re.I
    )
    if offset:
        return _fixed_offset(offset.group(1), int(offset.group(2)), int(offset.group(3) or 0))
    abbreviation = re.search(
        r"(?:\d|(?i:[ap]\.?m\.?|noon|midnight))\s*\(?(" + "|".join(_ABBREVIATIONS) + r")\b",
        text or "",
    )
    if abbreviation:  # only right after a time: 'CT scans' is a topic, '9am CT' a zone
        return _ABBREVIATIONS[abbreviation.group(1)]
    if re.search(r"\b(?:utc|gmt|zulu)\b", text or "", re.I):
        return "UTC"
    city = re.search(r"\b([A-Za-z][A-Za-z ]{1,30}?)\s+time\b", text or "")
    if city:
        words = city.group(1).split()
        for size in (3, 2, 1):
            if len(words) >= size:
                found = _zones_by_city().get("_".join(words[-size:]).lower())
                if found:
                    return found
    return None


def _fixed_offset(sign: str, hours: int, minutes: int) -> str | None:
    """'UTC+2' -> 'Etc/GMT-2' (IANA's Etc names count the other way); None for an offset no
    Etc zone has (half hours): such a zone has to be named ('Asia/Kolkata')."""
    if minutes or hours > (14 if sign == "+" else 12):
        return None
    return "UTC" if hours == 0 else f"Etc/GMT{'-' if sign == '+' else '+'}{hours}"


@lru_cache(maxsize=1)
def _zones_by_lower() -> dict[str, str]:
    return {name.lower(): name for name in available_timezones()}


@lru_cache(maxsize=1)
def _zones_by_city() -> dict[str, str]:
    cities: dict[str, str] = {}
    for name in sorted(available_timezones()):
        if "/" in name and not name.startswith(("Etc/", "SystemV/", "posix/", "right/")):
            cities.setdefault(name.rsplit("/", 1)[1].lower(), name)
    return cities


def parse_query(
    text: str, *, viral_min_views: int = 100_000, micro_max_followers: int = 50_000
) -> DigestQuery:
    """'top new TikToks about #productivity' -> DigestQuery(tiktok, hashtag, ['productivity'])."""
    clean = _SLACK_MARKUP.sub(" ", _CHANNEL_MENTION.sub(" ", text or ""))
    platforms = [p for p, pattern in _PLATFORM_WORDS if pattern.search(clean)]
    platforms = platforms or [p for p, pattern in _GENERIC_WORDS if pattern.search(clean)]
    if not platforms:
        raise ValueError(
            "Which platform? Say TikToks, tweets, YouTube videos or Facebook ads, "
            "e.g. 'the top new TikToks about #productivity'."
        )
    kind, terms = _topic(clean)
    if not terms:
        raise ValueError(
            "About what? Name a #hashtag, an @account or keywords, e.g. 'tweets about AI agents'."
        )
    return DigestQuery(
        platforms=platforms,
        kind=kind,
        terms=terms,
        limit=_limit(clean),
        min_views=_min_views(clean, viral_min_views),
        max_followers=_max_followers(clean, micro_max_followers),
        sort=_sort(clean),
    )


def _topic(text: str) -> tuple[str, list[str]]:
    hashtags = re.findall(r"(?<![\w&])#([^\W_][\w]*)", text)
    if hashtags:
        return "hashtag", hashtags
    handles = re.findall(r"(?<![\w<])@([A-Za-z0-9_.]{2,64})", text)
    if handles:
        return "user", [h.rstrip(".") for h in handles]
    quoted = re.findall(r"[\"“]([^\"”]{2,100})[\"”]", text)
    if quoted:
        return "search", quoted
    match = re.search(
        rf"\b(?:about|on\s+the\s+topic\s+of|regarding|mentioning|for|keywords?)\s+(.+?)(?:{_TOPIC_STOP})",
        text,
        re.I,
    )
    if not match:
        return "search", []
    terms = re.split(r"\s*,\s*|\s+or\s+", match.group(1).strip(" '\"`"))
    return "search", [t.strip(" '\"`") for t in terms if t.strip(" '\"`")]


def number(text: str) -> int:
    """'50k' -> 50000, '1.5m' -> 1500000, '100,000' -> 100000."""
    match = re.fullmatch(_NUMBER, text.strip().lower())
    if not match:
        raise ValueError(f"not a number: {text!r}")
    return _to_int(match.group(1), match.group(2))


def _to_int(digits: str, suffix: str | None) -> int:
    if suffix and re.fullmatch(r"\d{1,3}(?:,\d{3})+", digits) is None:
        value = float(digits.replace(",", "."))
    else:
        value = float(digits.replace(",", ""))
    scale = {"k": 1e3, "thousand": 1e3, "m": 1e6, "million": 1e6}.get(suffix or "", 1)
    return int(value * scale)


def _limit(text: str) -> int:
    match = re.search(r"\btop\s+(\d{1,2})\b", text, re.I) or re.search(
        r"\b(\d{1,2})\s+(?:new\s+|best\s+|most\s+\w+\s+)?(?:posts|tiktoks|tweets|videos|shorts|ads)\b",
        text,
        re.I,
    )
    if match:
        return max(1, min(50, int(match.group(1))))
    return 10


def _min_views(text: str, viral_min_views: int) -> int | None:
    match = re.search(rf"{_NUMBER}\s*\+?\s*views", text, re.I)
    if match:
        return _to_int(match.group(1), (match.group(2) or "").lower() or None)
    if re.search(r"\bviral\b", text, re.I):
        return viral_min_views
    return None


def _max_followers(text: str, micro_max_followers: int) -> int | None:
    match = re.search(
        rf"\b(?:under|below|less\s+than|fewer\s+than|at\s+most|max(?:imum)?|<)\s*{_NUMBER}\s*followers",
        text,
        re.I,
    )
    if match:
        return _to_int(match.group(1), (match.group(2) or "").lower() or None)
    if re.search(r"\bmicro[\s-]*(?:creators?|influencers?|accounts?)\b", text, re.I):
        return micro_max_followers
    return None


def _sort(text: str) -> str:
    if re.search(r"\bengagement\s+rate\b|\bmost\s+engaging\b", text, re.I):
        return "engagement_rate"
    if re.search(r"\b(?:by\s+)?engagement\b", text, re.I):
        return "engagement"
    if re.search(r"\bmost\s+liked\b|\bby\s+likes\b", text, re.I):
        return "likes"
    return "views"
