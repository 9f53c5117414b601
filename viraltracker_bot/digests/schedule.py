"""What a digest is: its saved query, its cron tick in a time zone, and the channel it posts to."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, field_validator

from viraltracker_bot.conversation import ChatPlatform
from viraltracker_bot.platforms.models import Platform, PlatformQuery
from viraltracker_bot.platforms.spec import POOL, POOLED_KINDS

DigestKind = Literal["search", "hashtag", "user"]
DigestSort = Literal["views", "likes", "engagement", "engagement_rate"]
CHAT_PLATFORMS: tuple[ChatPlatform, ...] = ("slack", "discord", "console")
_CRON_ALIASES = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
_PLURAL = {
    Platform.twitter: "tweets",
    Platform.tiktok: "TikToks",
    Platform.youtube: "YouTube videos",
    Platform.facebook: "Facebook ads",
}


class DigestQuery(BaseModel):
    """The saved question a digest asks each time: stored as JSON in `schedules.query`."""

    model_config = ConfigDict(extra="ignore")

    platforms: list[Platform] = Field(min_length=1)
    kind: DigestKind = "search"
    terms: list[str] = Field(min_length=1, description="keywords (OR), hashtags or handles")
    min_views: int | None = Field(None, ge=0)
    max_followers: int | None = Field(None, ge=0)
    limit: int = Field(10, ge=1, le=50, description="how many posts one digest shows")
    sort: DigestSort = "views"
    hours_back: int | None = Field(None, ge=1, le=24 * 90)

    @field_validator("terms")
    @classmethod
    def _clean_terms(cls, terms: list[str]) -> list[str]:
        """'#Productivity' and ' productivity ' are the same hashtag to a platform."""
        cleaned = [t.strip().lstrip("#@").strip() for t in terms]
        cleaned = list(dict.fromkeys(t for t in cleaned if t))
        if not cleaned:
            raise ValueError("a digest needs at least one keyword, hashtag or handle")
        return cleaned

    @field_validator("platforms")
    @classmethod
    def _unique_platforms(cls, platforms: list[Platform]) -> list[Platform]:
        return list(dict.fromkeys(platforms))

    @property
    def scrape_limit(self) -> int:
        """Fetch more than we show: some were in earlier digests, some fail the filters."""
        return max(30, self.limit * 5)

    def fetch_limit(self, kind: str) -> int:
        """A platform query's limit: all its run fetches. A keyword or hashtag search fetches at
        least `POOL` whatever its limit (`spec.pool_size`), and a limit below that cut the pool
        to its most viewed before the digest dropped what earlier digests showed and ranked the
        rest by its own sort: 'top 3 by engagement rate' lost the engaging, less viewed posts."""
        return max(self.scrape_limit, POOL) if kind in POOLED_KINDS else self.scrape_limit

    def platform_queries(self) -> list[PlatformQuery]:
        """One platform search per platform; hashtags become plain searches where needed."""
        return [self._platform_query(p) for p in self.platforms]

    def _platform_query(self, platform: Platform) -> PlatformQuery:
        """Ask each platform in a way it supports: a hashtag or handle becomes a search if not."""
        from viraltracker_bot.platforms.catalog import spec_for

        supported = spec_for(platform).kinds
        kind: str = self.kind
        terms = list(self.terms)
        if kind == "user" and "user" not in supported and "page_ads" in supported:
            kind = "page_ads"
        elif kind not in supported:
            prefix = {"hashtag": "#", "user": "@"}.get(kind, "")
            kind, terms = "search", [prefix + t for t in terms]
        if platform is Platform.facebook:
            return self._ad_library_query(kind, terms)
        return PlatformQuery(
            platform=platform,
            kind=kind,  # type: ignore[arg-type]
            terms=terms,
            limit=self.fetch_limit(kind),
            hours_back=self.hours_back,
            min_views=self.min_views,
            max_followers=self.max_followers,
        )

    def _ad_library_query(self, kind: str, terms: list[str]) -> PlatformQuery:
        """Built as an agent's ad search is: the actor filters by an Ad Library period, not by
        hours, so the window becomes the shortest period covering it (and the query says so)."""
        from viraltracker_bot.platforms import facebook

        period = facebook.period_covering(self.hours_back)
        count = self.fetch_limit(kind)
        if kind == "page_ads":
            query = facebook.page_query(terms[0], count=count, period=period)
        else:
            query = facebook.search_query(terms[0], count=count, period=period)
        return query.model_copy(
            update={
                "terms": terms,
                "min_views": self.min_views,
                "max_followers": self.max_followers,
            }
        )

    def describe(self) -> str:
        """'top 10 new TikToks about #productivity (100K+ views)': what the channel will get."""
        what = and_list([_PLURAL[p] for p in self.platforms])
        if self.kind == "hashtag":
            topic = "about " + ", ".join("#" + t for t in self.terms)
        elif self.kind == "user":
            topic = "from " + ", ".join("@" + t for t in self.terms)
        else:
            topic = "about " + " or ".join(f"'{t}'" for t in self.terms)
        filters = []
        if self.min_views:
            filters.append(f"{self.min_views:,}+ views")
        if self.max_followers:
            filters.append(f"authors with at most {self.max_followers:,} followers")
        if self.sort != "views":
            filters.append(f"ranked by {self.sort.replace('_', ' ')}")
        tail = f" ({', '.join(filters)})" if filters else ""
        return f"top {self.limit} new {what} {topic}{tail}"


def and_list(items: list[str]) -> str:
    """['a', 'b', 'c'] -> 'a, b and c'."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


class ChannelRef(BaseModel):
    """A destination: `slack:C0123` or `discord:123456` as stored in `schedules.channel`."""

    model_config = ConfigDict(frozen=True)

    platform: ChatPlatform
    channel: str

    def as_string(self) -> str:
        return f"{self.platform}:{self.channel}"


def parse_channel(text: str) -> ChannelRef:
    """`slack:C0123` -> ChannelRef('slack', 'C0123'); a clear ValueError for anything else."""
    platform, sep, channel = (text or "").strip().partition(":")
    platform = platform.lower()
    if not sep or platform not in CHAT_PLATFORMS or not channel.strip():
        raise ValueError(
            f"Unknown channel {text!r}: write it as slack:<channel id> or discord:<channel id>."
        )
    channel = channel.strip()
    if any(c.isspace() for c in channel) or len(channel) > 200:
        raise ValueError(f"Unknown channel {text!r}: a channel id has no spaces.")
    if platform == "discord" and not channel.isdigit():
        raise ValueError(f"Discord channel ids are numbers, not {channel!r}.")
    return ChannelRef(platform=platform, channel=channel)  # type: ignore[arg-type]


def zone(name: str) -> ZoneInfo:
    """The IANA time zone, or a ValueError people can act on."""
    try:
        return ZoneInfo((name or "").strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"Unknown time zone {name!r}: use an IANA name such as Europe/Berlin or UTC."
        ) from None


def normalise_cron(expr: str) -> str:
    """Five fields (minute hour day month weekday) or an @alias; anything else is refused."""
    cleaned = " ".join((expr or "").split())
    cleaned = _CRON_ALIASES.get(cleaned.lower(), cleaned)
    if len(cleaned.split()) != 5 or not croniter.is_valid(cleaned):
        raise ValueError(
            f"Invalid cron expression {expr!r}: use five fields, e.g. '0 9 * * 1-5' "
            "(09:00 on weekdays)."
        )
    return cleaned


def check_even_steps(cron: str) -> None:
    """Refuse '*/45' minutes or '*/5' hours: cron restarts the count each hour (each day), so
    such a digest would come 45 then 15 minutes apart (5 then 4 hours), not evenly."""
    minute, hour = normalise_cron(cron).split()[:2]
    for field, unit, size in ((minute, "minutes", 60), (hour, "hours", 24)):
        step = _step(field)
        if step is not None and size % step:
            divisors = ", ".join(str(d) for d in range(1, size) if size % d == 0)
            raise ValueError(
                f"every {step} {unit} can't be kept: cron counts from the start of each "
                f"{'hour' if size == 60 else 'day'}, so the gaps would be uneven. "
                f"Use a step that divides {size} ({divisors})."
            )


def check_not_too_often(cron: str, timezone: str, min_interval_s: float, now: datetime) -> None:
    """Refuse a digest whose runs come closer together than `min_interval_s` (at any time of
    the day: '0-5 9 * * *' runs six times a minute apart, once a day)."""
    if min_interval_s <= 0:
        return
    runs = upcoming_runs(cron, timezone, now, _RUNS_CHECKED)
    gap_s = min((b - a).total_seconds() for a, b in itertools.pairwise(runs))
    if gap_s < min_interval_s:
        raise ValueError(
            f"that would post {_duration(gap_s)} apart, and a digest may run at most "
            f"every {_duration(min_interval_s)}. Choose a longer interval."
        )


_RUNS_CHECKED = 64  # enough to see a day's closest runs, for any cron a person would write


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    if minutes < 60 or minutes % 60:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    hours = minutes // 60
    return f"{hours} hour{'s' if hours != 1 else ''}"


def _step(field: str) -> int | None:
    """'*/15' -> 15; None for anything else."""
    if field.startswith("*/") and field[2:].isdigit():
        return int(field[2:])
    return None


_DAY_NAMES = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")


def weekday_numbers(field: str) -> list[int] | None:
    """A cron weekday field as day numbers, Sunday 0: '1-5' -> [1, 2, 3, 4, 5]; '0,6' ->
    [0, 6]; None when it is not plain numbers and ranges."""
    days: set[int] = set()
    for part in field.split(","):
        first, _, last = part.partition("-")
        if not first.isdigit() or (last and not last.isdigit()):
            return None
        days.update(d % 7 for d in range(int(first), int(last or first) + 1))
    return sorted(days)


def describe_cron(cron: str) -> str:
    """'0 9 * * 1-5' -> 'every weekday at 09:00': how a confirmation reads the schedule back."""
    minute, hour, dom, month, dow = normalise_cron(cron).split()
    every = dom == month == dow == "*"
    if every and hour == "*" and minute.isdigit():
        return "every hour" if minute == "0" else f"every hour at :{int(minute):02d}"
    minutes, hours = _step(minute), _step(hour)
    if every and hour == "*" and minutes and 60 % minutes == 0:
        return f"every {minutes} minutes"
    if every and hours and 24 % hours == 0 and minute.isdigit():
        return f"every {hours} hours"
    clock_hours = hour.split(",")  # '0 9,17 * * *': twice a day
    if not (minute.isdigit() and all(h.isdigit() for h in clock_hours) and month == "*"):
        return f"on cron '{cron}'"
    at = "at " + and_list([f"{int(h):02d}:{int(minute):02d}" for h in clock_hours])
    if dom == "*" and dow == "*":
        return f"every day {at}"
    if dom.isdigit() and dow == "*":
        return f"on day {dom} of every month {at}"
    days = weekday_numbers(dow) if dom == "*" else None
    if days == [1, 2, 3, 4, 5]:
        return f"every weekday {at}"
    if days == [0, 6]:
        return f"every Saturday and Sunday {at}"
    if days:
        return f"every {and_list([_DAY_NAMES[d] for d in days])} {at}"
    return f"on cron '{cron}'"


def as_utc(moment: datetime) -> datetime:
    """Aware UTC; a naive value is taken as UTC (SQLite hands timestamps back naive)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def next_run_after(cron: str, timezone: str, after: datetime) -> datetime:
    """The first tick strictly after `after`, reckoned on the schedule's wall clock, in UTC.

    Cron fields describe local wall-clock times, so croniter walks naive local times and each
    one is placed in the zone, as classic cron does at daylight-saving changes:
    - a time skipped by spring-forward (02:30 in Berlin on the last Sunday of March) runs at
      the offset before the change, i.e. at 03:30 local, once;
    - a time repeated by fall-back runs once (at its first occurrence) when the cron names the
      hour, and in both passes when the hour is a wildcard ('*/15 * * * *', hourly), so
      interval schedules keep their rhythm through the repeated hour.
    """
    tz = zone(timezone)
    cron = normalise_cron(cron)
    every_hour = "*" in cron.split()[1]
    after_utc = as_utc(after)
    # Wall time runs back by up to an hour at a change, so start early and, once a candidate
    # is found, look a little further for an earlier instant behind a later wall time.
    start = after_utc.astimezone(tz).replace(tzinfo=None) - timedelta(hours=3)
    ticks = croniter(cron, start)
    best: datetime | None = None
    horizon: datetime | None = None
    for _ in range(100_000):
        local: datetime = ticks.get_next(datetime)
        if horizon is not None and local > horizon:
            break
        folds = (0, 1) if every_hour else (0,)
        for instant in {local.replace(tzinfo=tz, fold=f).astimezone(UTC) for f in folds}:
            if instant > after_utc:
                best = instant if best is None else min(best, instant)
                horizon = horizon or local + timedelta(hours=2)
    if best is None:  # pragma: no cover - croniter raises first for impossible dates
        raise ValueError(f"Cron expression {cron!r} never fires.")
    return best


def upcoming_runs(cron: str, timezone: str, after: datetime, count: int) -> list[datetime]:
    """The next `count` ticks in UTC (for confirmations and tests)."""
    runs: list[datetime] = []
    moment = after
    for _ in range(count):
        moment = next_run_after(cron, timezone, moment)
        runs.append(moment)
    return runs


def local_label(moment: datetime, timezone: str) -> str:
    """'Mon 30 Mar 09:00 CEST': how a run time is shown to people in the schedule's zone."""
    local = as_utc(moment).astimezone(zone(timezone))
    return local.strftime("%a %d %b %Y %H:%M ") + (local.tzname() or timezone)
