"""Reading a chat request without a model: platforms, keywords, handles, numbers, wishes."""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

from pydantic import BaseModel, Field

from viraltracker_bot.exports.formatting import ExportFormat

_URL = re.compile(r"https?://\S+?(?=[.,;:!?)\]}'\"]*(?:\s|$))")
"""A link up to the punctuation that ends its sentence or clause ("see https://x.com/a/1.")."""
_HANDLE = re.compile(r"(?<![\w@])@([A-Za-z0-9_.]{1,39}[A-Za-z0-9_])")
"""A handle never ends with a dot: one after it ends the sentence ("tweets from @nasa.")."""
_HASHTAG = re.compile(r"(?<![\w#])#([^\W\d_]\w{0,60})")
_QUOTED = re.compile(r"[\"“”]([^\"“”]{2,80})[\"“”]")
_SPLIT = re.compile(r",|;|\bor\b|/|\|", re.IGNORECASE)
_WORD = re.compile(r"[\w][\w'+.-]*", re.UNICODE)

_MULTIPLIER = {
    "k": 1_000,
    "m": 1_000_000,
    "b": 1_000_000_000,
    "thousand": 1_000,
    "million": 1_000_000,
    "billion": 1_000_000_000,
}
_NUMBER = r"(\d+(?:[.,]\d+)?)\s*(thousand|million|billion|[kmb])?\b"
_UNIT_HOURS = {
    "hour": 1,
    "hours": 1,
    "hr": 1,
    "hrs": 1,
    "h": 1,
    "day": 24,
    "days": 24,
    "d": 24,
    "week": 168,
    "weeks": 168,
    "month": 720,
    "months": 720,
    "year": 8760,
    "years": 8760,
}
_RELATIVE_HOURS = {
    "today": 24,
    "yesterday": 48,
    "this week": 168,
    "past week": 168,
    "last week": 168,
    "this month": 720,
    "past month": 720,
    "last month": 720,
    "this year": 8760,
    "past year": 8760,
    "last year": 8760,
    "right now": 24,
}
_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "top one": 1}


def _at_least(noun: str) -> re.Pattern[str]:
    """A minimum of some count: "over 10k views", "at least 5000 likes", "2k+ likes"."""
    return re.compile(
        rf"\b(?:at\s+least|over|more\s+than|above|min(?:imum)?|>=?)\s*{_NUMBER}\s*(?:\+\s*)?"
        rf"{noun}\b|\b{_NUMBER}\s*\+?\s*{noun}\b",
        re.IGNORECASE,
    )


# Each pattern is removed from the text once read, so its words never become keywords.
_PATTERNS: dict[str, re.Pattern[str]] = {
    "hours": re.compile(
        rf"\b(?:in\s+the\s+|over\s+the\s+|from\s+the\s+)?(?:last|past|previous)\s+(?:(\d+)\s*)?"
        rf"({'|'.join(_UNIT_HOURS)})\b",
        re.IGNORECASE,
    ),
    "relative": re.compile(
        rf"\b(?:from\s+|in\s+the\s+)?({'|'.join(_RELATIVE_HOURS)})\b", re.IGNORECASE
    ),
    "ago": re.compile(rf"\b(?:from\s+)?(\d+)\s*({'|'.join(_UNIT_HOURS)})\s+ago\b", re.IGNORECASE),
    "year": re.compile(
        r"\b(?:from|since|in|during)\s+(?:the\s+year\s+)?((?:19|20)\d\d)\b", re.IGNORECASE
    ),
    "min_views": _at_least("views?"),
    "min_likes": _at_least("likes?"),
    "max_followers": re.compile(
        rf"\b(?:under|below|less\s+than|fewer\s+than|at\s+most|max(?:imum)?|<=?)\s*{_NUMBER}\s*"
        r"(?:followers|subscribers|subs|fans)\b",
        re.IGNORECASE,
    ),
    "limit": re.compile(
        rf"\b(?:top|best|first|show(?:\s+me)?|get|find|last)\s+{_NUMBER}(?!\s*(?:hours?|days?|"
        r"weeks?|months?|years?|views?|followers|[kmb]\b))"
        r"|\b(\d{1,4})\s+(?=(?:viral\s+|trending\s+|popular\s+|top\s+)?(?:tweets|posts|videos|"
        r"shorts|tiktoks|ads|results|items)\b)",
        re.IGNORECASE,
    ),
    "index": re.compile(
        r"(?:#|\bnumber\s+|\bno\.?\s*|\bpost\s+|\btweet\s+|\bvideo\s+|\bad\s+)(\d{1,3})\b"
        r"|\b(\d{1,3})(?:st|nd|rd|th)\b"
        rf"|\bthe\s+({'|'.join(_ORDINALS)})\b",
        re.IGNORECASE,
    ),
    "country": re.compile(r"\bin\s+(?:the\s+)?(US|USA|UK|GB|CA|AU|DE|FR|IN|ES|IT|BR|MX)\b"),
    "any_views": re.compile(
        r"\b(?:any|all)\s+(?:number\s+of\s+)?views\b|\bno\s+(?:view\s+)?minimum\b",
        re.IGNORECASE,
    ),
    "any_size": re.compile(
        r"\bany\s+(?:creator\s+|account\s+|channel\s+|audience\s+)?size\b"
        r"|\b(?:any|all)\s+(?:number\s+of\s+)?(?:followers|subscribers)\b",
        re.IGNORECASE,
    ),
    "micro": re.compile(
        r"\b(?:micro|nano)[\s-]?(?:influencers?|creators?|accounts?)\b"
        r"|\bsmall(?:er)?\s+(?:creators?|accounts?|channels?|influencers?)\b",
        re.IGNORECASE,
    ),
}

_FORMATS: dict[str, ExportFormat] = {
    "csv": "csv",
    "spreadsheet": "csv",
    "excel": "csv",
    "json": "json",
    "markdown": "markdown",
    "md": "markdown",
}
_COUNTRY_CODES = {"USA": "US", "UK": "GB"}

_WORDS = {
    "compare": {
        "compare",
        "compared",
        "comparing",
        "comparison",
        "versus",
        "vs",
        "against",
        "side-by-side",
    },
    "analyze": {
        "analyze",
        "analyse",
        "analysis",
        "why",
        "explain",
        "breakdown",
        "patterns",
        "pattern",
        "outliers",
        "outlier",
        "hook",
        "hooks",
        "perform",
        "performed",
        "worked",
    },
    "insights": {
        "insights",
        "insight",
        "recommend",
        "recommendations",
        "recommendation",
        "advice",
        "ideas",
        "strategy",
        "takeaways",
        "learnings",
    },
    "export": {"export", "download", "save", "csv", "json", "markdown", "spreadsheet", "file"},
    "chart": {"chart", "graph", "plot", "visualise", "visualize", "picture"},
    "database": {"stored", "saved", "database", "db", "already", "collected", "tracked"},
    "follow_up": {"those", "them", "these", "that", "it", "the results", "same", "again"},
    "help": {"help", "hi", "hello", "hey", "commands", "usage", "start", "?"},
    "active": {"active", "running", "live"},
    "all": {"everywhere", "all platforms", "every platform", "across platforms", "all networks"},
    "viral": {"viral", "trending", "viralest", "blowing up", "blew up", "going viral"},
}
_SORTS = {"likes": "likes", "liked": "likes", "engagement": "engagement", "views": "views"}

STOPWORDS = frozenset(
    """
    a about across after again against all also am an and any anything are as at be been before
    being best between both but by can could did do does doing done for from get give go going
    got had has have how i if in into is it its just latest let like list look looking make made
    makes me more most my new now of on one ones only or our out over please popular post posts
    pull recent right see should show some something such than that the their them then there
    these they this those to today top trending up us videos video viral want was we week went
    were what whats what's when where which who why will with would you your content stuff find
    search searching fetch grab scrape scraping tell compare compared comparing comparison
    versus vs analyze analyse
    analysis explain breakdown export download save csv json markdown md file spreadsheet excel
    chart graph plot insights insight recommend recommendations ideas results result items
    performing perform performed doing hook hooks pattern patterns outliers outlier views likes
    engagement followers subscribers same platforms platform everywhere networks hours days
    weeks months month past last previous user account creator channel page profile hashtag
    hashtags keyword keywords term terms people talking saying say says blowing blew up big
    worked work working works shared share share? thing things data numbers stats shorts
    ad ads library running active live stored saved database db already collected tracked
    sort sorted by per each number no first second third fourth fifth going viralest
    help hi hello hey thanks thank commands usage start so well good great much many very
    really okay ok cool nice next there here
    since within during ago lately recently posted uploaded published
    """.split()
)


class Intent(BaseModel):
    """What a request asks for, as far as words can tell."""

    text: str
    agents: list[str] = Field(default_factory=list, description="catalog names, in text order")
    terms: list[str] = Field(default_factory=list)
    hashtags: list[str] = Field(default_factory=list)
    handles: list[str] = Field(default_factory=list)
    urls: list[str] = Field(default_factory=list)
    compare: bool = False
    analyze: bool = False
    insights: bool = False
    export_format: ExportFormat | None = None
    wants_export: bool = False
    chart: bool = False
    from_database: bool = False
    follow_up: bool = False
    all_platforms: bool = False
    help: bool = False
    active_only: bool = False
    viral: bool = Field(False, description="asked for viral or trending posts")
    micro: bool = Field(False, description="asked for micro-influencers / small creators")
    limit: int | None = None
    hours_back: int | None = None
    min_views: int | None = None
    min_likes: int | None = Field(None, description="'over 10k likes'")
    max_followers: int | None = None
    sort: str | None = None
    index: int | None = None
    country: str | None = None

    @property
    def has_subject(self) -> bool:
        """Something to search for: keywords, hashtags, handles or a link."""
        return bool(self.terms or self.hashtags or self.handles or self.urls)

    def request_text(self, terms: Sequence[str] | None = None) -> str:
        """A canonical request a specialist can read back with `parse_intent`."""
        chosen = list(terms) if terms is not None else self.terms
        parts = ["find viral posts" if self.viral else "find posts"]
        if chosen:
            parts.append("about " + ", ".join(f'"{t}"' for t in chosen))
        parts += [f"#{h}" for h in self.hashtags] + [f"@{h}" for h in self.handles]
        parts += self.urls
        if self.hours_back:
            parts.append(f"last {self.hours_back} hours")
        if self.limit:
            parts.append(f"top {self.limit}")
        if self.min_views is not None:  # 0: no minimum, not the platform's default
            parts.append(f"over {self.min_views} views" if self.min_views else "any views")
        if self.min_likes:
            parts.append(f"over {self.min_likes} likes")
        if self.max_followers is not None:
            parts.append(
                f"under {self.max_followers} followers" if self.max_followers else "any size"
            )
        if self.micro:
            parts.append("by micro-influencers")
        if self.active_only:
            parts.append("active")
        return " ".join(parts)


def _number(value: str, suffix: str | None) -> int:
    number = float(value.replace(",", "."))
    return int(number * _MULTIPLIER.get((suffix or "").lower(), 1))


def _take(
    pattern: re.Pattern[str],
    text: str,
    accept: Callable[[re.Match[str], str], bool] | None = None,
) -> tuple[re.Match[str] | None, str]:
    """The first match of `pattern` (that `accept` takes), and the text with it blanked out."""
    match = next((m for m in pattern.finditer(text) if accept is None or accept(m, text)), None)
    if match is None:
        return None, text
    return match, text[: match.start()] + " " + text[match.end() :]


_YEAR = re.compile(r"(?:19|20)\d\d")
_CONTENT_NOUN = re.compile(r"\s*(?:tweets|posts|videos|shorts|tiktoks|ads|results|items)\b", re.I)


def _is_count(match: re.Match[str], text: str) -> bool:
    """Whether a number the limit pattern found is a count rather than part of the subject.

    "find 2024 election tweets" asked about the election, not for 2024 tweets, and "iphone 15
    videos" for videos about the iPhone 15: a year after "find" counts only right before what
    is counted, and a number before it counts only when no word of the subject comes first.
    """
    if match.group(1):  # "top 10", "find 2024 ..."
        return not _YEAR.fullmatch(match.group(1)) or bool(_CONTENT_NOUN.match(text, match.end()))
    before = _WORD.findall(text[: match.start()])
    return not before or before[-1].lower().strip(".'-") in STOPWORDS


def _has(words: set[str], lowered: str, tokens: set[str]) -> bool:
    return any((w in tokens) if " " not in w else (w in lowered) for w in words)


def _read_window(intent: Intent, text: str) -> str:
    """Fill the time window from the first way of saying one; return the text without it."""
    match, text = _take(_PATTERNS["hours"], text)
    if match:  # no number: one of the unit ("in the last hour", "the past day")
        count = int(match.group(1)) if match.group(1) else 1
        intent.hours_back = count * _UNIT_HOURS[match.group(2).lower()]
        return text
    match, text = _take(_PATTERNS["relative"], text)
    if match:
        intent.hours_back = _RELATIVE_HOURS[match.group(1).lower()]
        return text
    match, text = _take(_PATTERNS["ago"], text)
    if match:  # "from 3 days ago": since then
        intent.hours_back = int(match.group(1)) * _UNIT_HOURS[match.group(2).lower()]
        return text
    match, text = _take(_PATTERNS["year"], text)
    if match:
        intent.hours_back = _hours_since_year(int(match.group(1)))
    return text


def _hours_since_year(year: int) -> int | None:
    """'from 2024': a window back to that year's first day. A window ends now, so a past year
    comes with what followed it; a year to come is no window (None)."""
    now = datetime.now(UTC)
    if year > now.year:
        return None
    return max(1, math.ceil((now - datetime(year, 1, 1, tzinfo=UTC)).total_seconds() / 3600))


def _minimum(pattern: re.Pattern[str], text: str) -> tuple[int | None, str]:
    """The minimum an `_at_least` pattern reads, if any, and the text without it."""
    match, text = _take(pattern, text)
    if match is None:
        return None, text
    value, suffix = match.group(1, 2) if match.group(1) else match.group(3, 4)
    return _number(value, suffix), text


def _read_numbers(intent: Intent, text: str) -> str:
    """Fill time window, limit, view and follower bounds; return the text without them."""
    text = _read_window(intent, text)
    intent.min_views, text = _minimum(_PATTERNS["min_views"], text)
    intent.min_likes, text = _minimum(_PATTERNS["min_likes"], text)
    match, text = _take(_PATTERNS["max_followers"], text)
    if match:
        intent.max_followers = _number(match.group(1), match.group(2))
    match, text = _take(_PATTERNS["limit"], text, _is_count)
    if match:
        raw = match.group(1) or match.group(3)
        intent.limit = max(1, min(_number(raw, match.group(2)), 1000))
    match, text = _take(_PATTERNS["index"], text)
    if match:
        if match.group(3):
            intent.index = _ORDINALS[match.group(3).lower()]
        else:
            intent.index = int(match.group(1) or match.group(2))
    match, text = _take(_PATTERNS["country"], text)
    if match:
        code = match.group(1).upper()
        intent.country = _COUNTRY_CODES.get(code, code)
    match, text = _take(_PATTERNS["micro"], text)
    intent.micro = match is not None
    # "any views" / "any size": 0 lifts a bound the platform would otherwise apply by default
    match, text = _take(_PATTERNS["any_views"], text)
    if match and intent.min_views is None:
        intent.min_views = 0
    match, text = _take(_PATTERNS["any_size"], text)
    if match and intent.max_followers is None:
        intent.max_followers = 0
    return text


def _read_agents(
    lowered: str, platform_words: Mapping[str, Sequence[str]]
) -> tuple[list[str], list[str]]:
    """Catalog names named in the text (ordered by first mention) and the words that named them."""
    found: list[tuple[int, str]] = []
    used: list[str] = []
    for name, words in platform_words.items():
        positions = []
        for word in words:
            for match in _word_pattern(word).finditer(lowered):
                positions.append(match.start())
                used.append(word)
        if positions:
            found.append((min(positions), name))
    return [name for _, name in sorted(found)], used


@functools.lru_cache(maxsize=256)
def _word_pattern(word: str) -> re.Pattern[str]:
    """A platform word as a whole word, compiled once (every request is read for each word)."""
    return re.compile(rf"(?<![\w@#]){re.escape(word)}(?![\w])")


def _keywords(text: str, drop: set[str]) -> list[str]:
    """What is left once every known word is gone: the subject, split on commas and 'or'.

    Numbers stay ('the 2024 election', 'iphone 15'): counts, windows, bounds and positions
    were read and blanked out by `_read_numbers` before, so a number left is the subject's."""
    terms: list[str] = []
    for segment in _SPLIT.split(text):
        words = [
            w.strip(".'-")
            for w in _WORD.findall(segment)
            if w.lower().strip(".'-") not in STOPWORDS and w.lower().strip(".'-") not in drop
        ]
        phrase = " ".join(w for w in words if w)
        if phrase and phrase.lower() not in {t.lower() for t in terms}:
            terms.append(phrase)
    return terms[:5]


def parse_intent(text: str, platform_words: Mapping[str, Sequence[str]]) -> Intent:
    """Read a request. `platform_words` maps a catalog name to the words that name it."""
    intent = Intent(text=text)
    rest = text
    intent.urls = _URL.findall(rest)
    rest = _URL.sub(" ", rest)
    intent.handles = _HANDLE.findall(rest)
    rest = _HANDLE.sub(" ", rest)
    intent.hashtags = _HASHTAG.findall(rest)
    rest = _HASHTAG.sub(" ", rest)
    quoted = [q.strip() for q in _QUOTED.findall(rest) if q.strip()]
    rest = _QUOTED.sub(" , ", rest)
    rest = _read_numbers(intent, rest)

    lowered = " ".join(text.lower().split())
    tokens = set(_WORD.findall(lowered)) | ({"?"} if lowered.strip() == "?" else set())
    intent.agents, used = _read_agents(lowered, platform_words)
    intent.compare = _has(_WORDS["compare"], lowered, tokens)
    intent.analyze = _has(_WORDS["analyze"], lowered, tokens)
    intent.insights = _has(_WORDS["insights"], lowered, tokens)
    intent.chart = _has(_WORDS["chart"], lowered, tokens)
    intent.from_database = _has(_WORDS["database"], lowered, tokens)
    intent.follow_up = _has(_WORDS["follow_up"], lowered, tokens)
    intent.all_platforms = _has(_WORDS["all"], lowered, tokens) or "all platforms" in lowered
    intent.active_only = _has(_WORDS["active"], lowered, tokens)
    intent.wants_export = _has(_WORDS["export"], lowered, tokens)
    intent.viral = _has(_WORDS["viral"], lowered, tokens)
    intent.export_format = next((f for w, f in _FORMATS.items() if w in tokens), None)
    intent.sort = next((s for w, s in _SORTS.items() if f"by {w}" in lowered), None)

    drop = {w for word in used for w in word.split()}
    intent.terms = quoted + [t for t in _keywords(rest, drop) if t not in quoted]
    intent.help = not intent.has_subject and bool(tokens & _WORDS["help"]) and len(tokens) <= 4
    return intent
