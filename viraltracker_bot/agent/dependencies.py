"""What every agent run is handed: the conversation's ResultCache and one message's services."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field
from pydantic_ai.usage import UsageLimits

from viraltracker_bot.config import Settings
from viraltracker_bot.conversation import Progress, no_progress
from viraltracker_bot.platforms.models import Ad, Platform, PlatformQuery, Post, SearchResult

if TYPE_CHECKING:
    from pydantic_ai.models import Model

    from viraltracker_bot.platforms.apify import RunBudget
    from viraltracker_bot.platforms.service import PlatformServices
    from viraltracker_bot.storage.database import Database


MAX_CACHED_ITEMS = 500
"""Per platform: the session row is saved every turn, so it stays bounded (all posts are stored)."""


def _now() -> datetime:
    return datetime.now(UTC)


class CachedResult(BaseModel):
    """One platform's latest results, kept with the query that produced them for follow-ups."""

    query: PlatformQuery
    posts: list[Post] = Field(default_factory=list)
    ads: list[Ad] = Field(default_factory=list)
    fetched_at: datetime = Field(default_factory=_now)
    source: str = Field("search", description="search (a platform run) or database (stored posts)")
    turn: int = Field(0, description="the conversation turn that produced it (ResultCache.turn)")

    @classmethod
    def from_search(cls, result: SearchResult) -> CachedResult:
        """The result as the session keeps it: the best MAX_CACHED_ITEMS, in the given order."""
        return cls(
            query=result.query,
            posts=result.posts[:MAX_CACHED_ITEMS],
            ads=result.ads[:MAX_CACHED_ITEMS],
        )

    @property
    def count(self) -> int:
        return len(self.posts) or len(self.ads)

    def describe(self) -> str:
        what = "ads" if self.ads else "posts"
        return f"{self.count} {what} from {self.query.describe()}"


class CachedAnalysis(BaseModel):
    """The latest analysis (outliers, comparison, insights), so a follow-up can build on it."""

    kind: str
    summary: str
    platforms: list[Platform] = Field(default_factory=list)
    created_at: datetime = Field(default_factory=_now)
    turn: int = Field(0, description="the conversation turn that produced it (ResultCache.turn)")


class ResultCache(BaseModel):
    """A conversation's memory of results; stored with its session, one per conversation key."""

    last_twitter_query: CachedResult | None = None
    last_tiktok_query: CachedResult | None = None
    last_youtube_query: CachedResult | None = None
    last_facebook_query: CachedResult | None = None
    last_analysis: CachedAnalysis | None = None
    custom: dict[str, Any] = Field(default_factory=dict)
    turn: int = Field(0, description="messages answered so far; results remember their turn")

    def begin_turn(self) -> None:
        """A new message: what it fetches is told apart from what earlier ones did."""
        self.turn += 1

    @staticmethod
    def _field(platform: Platform) -> str:
        return f"last_{platform.value}_query"

    def get(self, platform: Platform) -> CachedResult | None:
        """The platform's latest results (a platform without a named field lives in `custom`)."""
        name = self._field(platform)
        if name in type(self).model_fields:
            return getattr(self, name)
        stored = self.custom.get(name)
        return CachedResult.model_validate(stored) if stored else None

    def put(self, platform: Platform, result: CachedResult) -> None:
        self._store(platform, result.model_copy(update={"turn": self.turn}))

    def reorder(self, platform: Platform, posts: list[Post]) -> None:
        """The platform's cached posts in the order just shown ('top 3 by likes'), so '#2'
        means the post the user saw second. The turn stays: no search happened, so what
        "those" means is unchanged."""
        cached = self.get(platform)
        if cached is not None:
            self._store(platform, cached.model_copy(update={"posts": posts}))

    def _store(self, platform: Platform, result: CachedResult) -> None:
        name = self._field(platform)
        if name in type(self).model_fields:
            setattr(self, name, result)
        else:
            self.custom[name] = result.model_dump(mode="json")

    def put_analysis(self, analysis: CachedAnalysis) -> None:
        """Keep the latest analysis, with its turn (what "those" means next depends on it)."""
        self.last_analysis = analysis.model_copy(update={"turn": self.turn})

    def filled(self) -> dict[Platform, CachedResult]:
        """Every platform with results, newest first."""
        found = {p: r for p in Platform if (r := self.get(p)) is not None}
        return dict(sorted(found.items(), key=lambda item: item[1].fetched_at, reverse=True))

    def latest_turn(self) -> dict[Platform, CachedResult]:
        """Every result of the latest turn that fetched something: what "those" refers to
        (after "compare bitcoin on twitter and tiktok", both platforms), newest first."""
        found = self.filled()
        if not found:
            return {}
        last = max(r.turn for r in found.values())
        return {p: r for p, r in found.items() if r.turn == last}

    def shown_last(self) -> dict[Platform, CachedResult]:
        """What "export those" exports: the latest turn's results and, when a comparison was
        made on them ("now compare with TikTok" fetched TikTok alone and compared it with the
        tweets before), every platform that comparison showed."""
        latest = self.latest_turn()
        analysis = self.last_analysis
        if not latest or analysis is None or analysis.kind != "comparison":
            return latest
        if analysis.turn < max(r.turn for r in latest.values()):
            return latest  # compared before the latest search: not what was shown last
        found = self.filled()
        compared = {p: found[p] for p in analysis.platforms if p in found and p not in latest}
        return {**latest, **compared}

    def current(self) -> dict[Platform, CachedResult]:
        """What "these" means to an analysis: the latest turn's results, and earlier ones
        searched for the same subject ("now compare with YouTube" fetched YouTube alone, about
        what TikTok was searched for), never an older search about something else."""
        latest = self.latest_turn()
        subjects = {_subject(r.query) for r in latest.values()}
        return {
            p: r for p, r in self.filled().items() if p in latest or _subject(r.query) in subjects
        }

    def comparable(self) -> dict[Platform, CachedResult]:
        """What a comparison compares: the latest turn's results, and when that turn fetched
        one platform ("now compare with TikTok"), the turns before it until two are there."""
        found = self.filled()
        chosen: dict[Platform, CachedResult] = {}
        for turn in sorted({r.turn for r in found.values()}, reverse=True):
            if len(chosen) >= 2:
                break
            chosen.update({p: r for p, r in found.items() if r.turn == turn and p not in chosen})
        return chosen

    def summary_lines(self) -> list[str]:
        """One line per cached result, for the agents' instructions (models read these)."""
        lines = [
            f"- cached {p.value}: {r.describe()} {bounds_note(r.query)} "
            f"[{r.query.kind}: {'; '.join(r.query.terms)}]"
            for p, r in self.filled().items()
        ]
        latest = self.latest_turn()
        if len(latest) > 1:
            names = ", ".join(p.value for p in latest)
            lines.append(f"{SEVERAL_PLATFORMS}: {names}")
        if self.last_analysis:
            lines.append(f"- cached analysis: {self.last_analysis.kind}")
        return lines


SEVERAL_PLATFORMS = "- the latest search covered several platforms"
"""The instructions' line naming the latest search's platforms (the offline router reads it)."""


BOUNDS = ("hours_back", "min_views", "max_followers", "min_likes")
"""The filters a narrowing follow-up keeps ("now only the last 3 days" keeps '500k+ views')."""


def bounds_note(query: PlatformQuery) -> str:
    """The query's bounds as its cached line shows them, '(bounds: hours_back=72 min_views=none
    ...)': the offline router reads them back (`offline._narrowed`) to search again alike."""
    values = {
        "hours_back": query.hours_back,
        "min_views": query.min_views,
        "max_followers": query.max_followers,
        "min_likes": query.options.get("min_likes"),
    }
    shown = " ".join(
        f"{name}={'none' if values[name] is None else values[name]}" for name in BOUNDS
    )
    return f"(bounds: {shown})"


def _subject(query: PlatformQuery) -> frozenset[str]:
    """What a search was about, whatever the platform wrote it as ('#Cats', 'cats')."""
    return frozenset(t.strip().lstrip("#@").lower() for t in query.terms)


class SharedFilters(BaseModel):
    """The filters every platform of one multi-platform request is searched with, so the
    results compare like for like: one time window, one sample size, the same minimums."""

    hours_back: int = Field(ge=1)
    limit: int = Field(50, ge=1)
    min_views: int | None = None
    max_followers: int | None = None

    @property
    def days(self) -> int:
        """The window in whole days, for the tools that count in days."""
        return max(1, -(-self.hours_back // 24))

    def describe(self) -> str:
        bits = [f"last {self.hours_back}h", f"up to {self.limit} per platform"]
        bits.append(f"{self.min_views:,}+ views" if self.min_views else "any views")
        if self.max_followers:
            bits.append(f"authors ≤{self.max_followers:,} followers")
        return ", ".join(bits)


@dataclass
class AgentRunRecord:
    """One agent run as `agent_runs` stores it; collected during a message, written after it."""

    agent: str
    started_at: datetime
    duration_ms: float
    tools: list[str]
    requests: int
    input_tokens: int
    output_tokens: int
    actor_runs: int
    outcome: str
    error: str | None = None


@dataclass
class AgentDependencies:
    """One message's worth of what the agents may touch; never shared between conversations."""

    settings: Settings
    services: PlatformServices
    db: Database
    model: Model
    budget: RunBudget
    result_cache: ResultCache = field(default_factory=ResultCache)
    files: list[Path] = field(default_factory=list)
    progress: Progress = no_progress
    conversation_key: str = "console:local::"
    user: str | None = None  # who sent the message (digests record their creator)
    usage_limits: UsageLimits | None = None
    run_log: list[AgentRunRecord] = field(default_factory=list)
    shared_filters: SharedFilters | None = None
    """Set while a multi-platform request runs: every search uses these instead of its own."""
    writes: list[asyncio.Task[None]] = field(default_factory=list)
    """This message's searches still being stored (`PlatformServices.run`'s `writes`): they
    overlap the model's next request, and the turn waits for them before it is saved."""

    async def settle_writes(self) -> None:
        """Wait for this message's stores; the first that failed raises (after all are done)."""
        while self.writes:
            pending, self.writes = self.writes, []
            await asyncio.wait(pending)
            failed = [t.exception() for t in pending if not t.cancelled() and t.exception()]
            if failed:
                raise failed[0]  # type: ignore[misc]

    @classmethod
    def for_message(
        cls,
        settings: Settings,
        services: PlatformServices,
        db: Database,
        *,
        model: Model | None = None,
        result_cache: ResultCache | None = None,
        progress: Progress = no_progress,
        conversation_key: str = "console:local::",
        user: str | None = None,
    ) -> AgentDependencies:
        """Fresh dependencies with the per-message limits the settings ask for."""
        from viraltracker_bot.agent.models import build_model
        from viraltracker_bot.platforms.apify import RunBudget

        return cls(
            settings=settings,
            services=services,
            db=db,
            model=model or build_model(settings),
            budget=RunBudget(settings.max_actor_runs_per_message),
            result_cache=result_cache or ResultCache(),
            progress=progress,
            conversation_key=conversation_key,
            user=user,
            usage_limits=UsageLimits(
                request_limit=settings.max_model_requests_per_message,
                total_tokens_limit=settings.max_tokens_per_message,
            ),
        )
