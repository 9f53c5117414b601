"""Viral metrics: engagement, outliers against a robust baseline, and platform comparisons.

Pure functions over `Post` lists; every formula is written out next to its code.
"""

from __future__ import annotations

import math
import statistics
from bisect import bisect_right
from collections.abc import Callable, Sequence
from typing import Literal

from pydantic import BaseModel, Field

from viraltracker_bot.platforms.models import Platform, Post

OutlierMetric = Literal["views", "likes", "comments", "shares", "engagement", "engagement_rate"]


class TrimmedStats(BaseModel):
    """Mean and spread of the middle of a distribution, blind to the extremes we hunt for."""

    n: int = Field(description="values given")
    kept: int = Field(description="values left after trimming both tails")
    mean: float
    std: float


class ScoredPost(BaseModel):
    """A post with how far it stands out from the posts it was compared with."""

    post: Post
    value: float = Field(description="the metric's value for this post")
    z: float = Field(description="standard deviations above the trimmed mean")
    percentile: float = Field(description="share of compared posts at or below it, 0-100")


class PlatformSummary(BaseModel):
    """One platform's side of a comparison."""

    platform: Platform
    count: int
    median_views: float | None
    median_engagement_rate: float | None
    total_views: int
    total_likes: int
    total_comments: int
    total_shares: int
    top_post: Post | None = Field(description="the post with the most views")


class PlatformComparison(BaseModel):
    """Per-platform summaries, in the order the platforms were given."""

    platforms: dict[Platform, PlatformSummary]

    def leader(self, by: Literal["median_views", "median_engagement_rate"]) -> Platform | None:
        """The platform with the highest median on `by` (None if no platform has data)."""
        scored = [(getattr(s, by), p) for p, s in self.platforms.items() if getattr(s, by)]
        return max(scored, key=lambda pair: pair[0])[1] if scored else None


def engagement_rate(post: Post) -> float | None:
    """(likes + comments + shares) / views; None when views are unknown or zero.

    Missing counts are taken as 0: a platform that hides shares lowers the rate, not voids it.
    """
    if not post.views:
        return None
    return ((post.likes or 0) + (post.comments or 0) + (post.shares or 0)) / post.views


def engagement_score(post: Post) -> float:
    """likes + 0.8 * shares + 0.5 * comments: the original product's weighting.

    Shares spread a post, so they weigh more than comments; views are left out so the score
    compares posts whose view counts are missing (old tweets) too.
    """
    return (post.likes or 0) + 0.8 * (post.shares or 0) + 0.5 * (post.comments or 0)


def trimmed_stats(values: Sequence[float], trim: float = 0.1) -> TrimmedStats:
    """Mean and population standard deviation after cutting `trim` of the values off each end.

    k = floor(n * trim) values are dropped from the bottom and from the top of the sorted
    values (none when that would leave nothing). Then
        mean = sum(kept) / len(kept)
        std  = sqrt(sum((x - mean)^2 for x in kept) / len(kept))
    so a handful of viral posts cannot inflate the baseline they are measured against.
    """
    if not 0 <= trim < 0.5:
        raise ValueError("trim must be in [0, 0.5)")
    ordered = sorted(float(v) for v in values)
    n = len(ordered)
    if n == 0:
        return TrimmedStats(n=0, kept=0, mean=0.0, std=0.0)
    k = math.floor(n * trim)
    kept = ordered[k : n - k] if n - 2 * k > 0 else ordered
    mean = statistics.fmean(kept)
    std = math.sqrt(sum((x - mean) ** 2 for x in kept) / len(kept))
    return TrimmedStats(n=n, kept=len(kept), mean=mean, std=std)


def z_score(value: float, baseline: TrimmedStats, fallback_std: float = 0.0) -> float:
    """(value - trimmed mean) / trimmed std.

    When the trimmed middle has no spread at all (nine posts at exactly 100 views), the
    untrimmed std is used instead (`fallback_std`), so the tenth post at a million still
    stands out; with no spread anywhere every z is 0.
    """
    std = baseline.std or fallback_std
    if std == 0:
        return 0.0
    return (value - baseline.mean) / std


def score_posts(posts: Sequence[Post], metric: OutlierMetric = "views") -> list[ScoredPost]:
    """Every post that has the metric, scored against the others, highest z first.

    percentile = 100 * (posts whose value <= this post's value) / (posts with a value).
    """
    read = _metric_reader(metric)
    measured = [(post, value) for post in posts if (value := read(post)) is not None]
    values = [value for _, value in measured]
    baseline = trimmed_stats(values)
    full_std = statistics.pstdev(values) if len(values) > 1 else 0.0
    ordered = sorted(values)
    scored = [
        ScoredPost(
            post=post,
            value=value,
            z=z_score(value, baseline, full_std),
            percentile=100.0 * bisect_right(ordered, value) / len(ordered),
        )
        for post, value in measured
    ]
    scored.sort(key=lambda s: s.z, reverse=True)
    return scored


def outliers(
    posts: Sequence[Post], threshold: float = 2.0, metric: OutlierMetric = "views"
) -> list[ScoredPost]:
    """Posts whose metric is at least `threshold` trimmed standard deviations above the mean."""
    return [s for s in score_posts(posts, metric) if s.z >= threshold]


def author_outlier_score(views: int | None, author_median: float | None) -> float | None:
    """views / author's median views - 1: 0 is a usual post, 4.0 did five times their usual.

    None when either is unknown or the median is 0 (nothing to be relative to).
    """
    if views is None or not author_median:
        return None
    return views / author_median - 1


def compare_platforms(results: dict[Platform, list[Post]]) -> PlatformComparison:
    """Side-by-side figures for each platform's posts (an empty list gives an empty summary).

    Medians ignore posts without the figure; totals count a missing figure as 0; the top post
    is the one with the most views.
    """
    return PlatformComparison(
        platforms={platform: _summarise(platform, posts) for platform, posts in results.items()}
    )


def _summarise(platform: Platform, posts: Sequence[Post]) -> PlatformSummary:
    views = [p.views for p in posts if p.views is not None]
    rates = [r for p in posts if (r := engagement_rate(p)) is not None]
    with_views = [p for p in posts if p.views is not None]
    return PlatformSummary(
        platform=platform,
        count=len(posts),
        median_views=float(statistics.median(views)) if views else None,
        median_engagement_rate=float(statistics.median(rates)) if rates else None,
        total_views=sum(views),
        total_likes=sum(p.likes or 0 for p in posts),
        total_comments=sum(p.comments or 0 for p in posts),
        total_shares=sum(p.shares or 0 for p in posts),
        top_post=max(with_views, key=lambda p: p.views or 0) if with_views else None,
    )


def _metric_reader(metric: OutlierMetric) -> Callable[[Post], float | None]:
    if metric == "engagement":
        return engagement_score
    if metric == "engagement_rate":
        return engagement_rate
    return lambda post: getattr(post, metric)
