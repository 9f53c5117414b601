"""The shapes every platform service returns: posts, ads and the query that found them."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field, computed_field


class Platform(StrEnum):
    """A social platform the bot can search."""

    twitter = "twitter"
    tiktok = "tiktok"
    youtube = "youtube"
    facebook = "facebook"

    @property
    def label(self) -> str:
        return {
            "twitter": "Twitter/X",
            "tiktok": "TikTok",
            "youtube": "YouTube",
            "facebook": "Facebook Ad Library",
        }[self.value]


QueryKind = Literal["search", "hashtag", "user", "page_ads"]


class PlatformQuery(BaseModel):
    """What was asked of a platform: kept with every result so follow-ups can refer to it."""

    platform: Platform
    kind: QueryKind = "search"
    terms: list[str] = Field(default_factory=list, description="keywords, hashtags or handles")
    limit: int = 50
    hours_back: int | None = None
    min_views: int | None = None
    max_followers: int | None = None
    sort: str | None = None
    options: dict[str, Any] = Field(default_factory=dict, description="platform-specific extras")

    def describe(self) -> str:
        """A short human phrase: 'TikTok hashtag #productivity (50, 100K+ views)'."""
        what = {"search": "search", "hashtag": "hashtag", "user": "user", "page_ads": "page"}[
            self.kind
        ]
        terms = ", ".join(("#" + t if self.kind == "hashtag" else t) for t in self.terms)
        bits = [f"limit {self.limit}"]
        if self.hours_back:
            bits.append(f"last {self.hours_back}h")
        if self.min_views:
            bits.append(f"{self.min_views:,}+ views")
        if self.max_followers:
            bits.append(f"authors ≤{self.max_followers:,} followers")
        return f"{self.platform.label} {what} '{terms}' ({', '.join(bits)})"


class Post(BaseModel):
    """One piece of content (tweet, TikTok, YouTube video or Short), normalised."""

    platform: Platform
    platform_id: str
    url: str | None = None
    author: str | None = None
    author_name: str | None = None
    author_followers: int | None = None
    author_verified: bool | None = None
    text: str = ""
    views: int | None = None
    likes: int | None = None
    comments: int | None = None
    shares: int | None = None
    posted_at: datetime | None = None
    is_short: bool | None = None
    duration_s: float | None = None
    hashtags: list[str] = Field(default_factory=list)
    raw: dict[str, Any] = Field(default_factory=dict, exclude=True, repr=False)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def engagement_rate(self) -> float | None:
        """(likes + comments + shares) / views: the share of viewers who reacted."""
        if not self.views:
            return None
        return ((self.likes or 0) + (self.comments or 0) + (self.shares or 0)) / self.views

    @property
    def engagement_score(self) -> float:
        """likes + 0.8 x shares + 0.5 x comments, the original product's weighting."""
        return (self.likes or 0) + 0.8 * (self.shares or 0) + 0.5 * (self.comments or 0)


class Ad(BaseModel):
    """One Facebook Ad Library entry, normalised."""

    platform: Platform = Platform.facebook
    ad_id: str
    page_id: str | None = None
    page_name: str | None = None
    is_active: bool | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    publisher_platforms: list[str] = Field(default_factory=list)
    currency: str | None = None
    spend_lower: int | None = None
    spend_upper: int | None = None
    impressions_lower: int | None = None
    impressions_upper: int | None = None
    creative_text: str = ""
    title: str | None = None
    cta_text: str | None = None
    link_url: str | None = None
    url: str | None = None
    display_format: str | None = None
    raw: dict[str, Any] = Field(default_factory=dict, exclude=True, repr=False)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def days_running(self) -> int | None:
        """Days from start to end (or to now while active): long-running ads are the winners."""
        if self.start_date is None:
            return None
        end = self.end_date if (self.end_date and not self.is_active) else datetime.now(UTC)
        start = self.start_date
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
        if end.tzinfo is None:
            end = end.replace(tzinfo=UTC)
        return max(0, (end - start).days)


class SearchResult(BaseModel):
    """What one platform query returned, and how it was obtained."""

    query: PlatformQuery
    posts: list[Post] = Field(default_factory=list)
    ads: list[Ad] = Field(default_factory=list)
    scraped: int = Field(0, description="items the actor returned before filtering")
    skipped: int = Field(0, description="malformed items skipped during normalisation")
    filtered_out: dict[str, int] = Field(
        default_factory=dict,
        description="posts the query's filters removed, by the first filter each failed "
        "(min_views, max_followers, hours_back): how a reply says why few or none are left",
    )
    from_cache: bool = False
    sandbox: bool = False
    fetched_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
