"""Viral metrics against figures worked out by hand."""

from __future__ import annotations

import math

import pytest

from viraltracker_bot.analysis.metrics import (
    author_outlier_score,
    compare_platforms,
    engagement_rate,
    engagement_score,
    outliers,
    score_posts,
    trimmed_stats,
)
from viraltracker_bot.platforms.models import Platform


def test_engagement_rate_and_score(make_post) -> None:
    post = make_post(views=1000, likes=50, comments=20, shares=10)
    assert engagement_rate(post) == pytest.approx(0.08)  # (50 + 20 + 10) / 1000
    assert engagement_score(post) == pytest.approx(68.0)  # 50 + 0.8*10 + 0.5*20
    assert engagement_rate(make_post(views=0)) is None
    assert engagement_rate(make_post(views=None)) is None
    partial = make_post(views=200, likes=10, comments=None, shares=None)
    assert engagement_rate(partial) == pytest.approx(0.05)
    assert engagement_score(partial) == 10


def test_trimmed_stats_cuts_ten_percent_each_end() -> None:
    # 10 values: k = 1 dropped each end -> kept 2..9, mean 5.5,
    # population variance of 2..9 = 5.25
    stats = trimmed_stats([1, 2, 3, 4, 5, 6, 7, 8, 9, 1000])
    assert (stats.n, stats.kept) == (10, 8)
    assert stats.mean == pytest.approx(5.5)
    assert stats.std == pytest.approx(math.sqrt(5.25))


def test_trimmed_stats_small_and_empty() -> None:
    assert trimmed_stats([]).kept == 0
    three = trimmed_stats([1, 2, 3])  # floor(0.3) = 0: nothing trimmed
    assert (three.kept, three.mean) == (3, 2.0)
    with pytest.raises(ValueError):
        trimmed_stats([1, 2], trim=0.5)


def test_outliers_by_trimmed_z(make_post) -> None:
    views = [1, 2, 3, 4, 5, 6, 7, 8, 9, 1000]
    posts = [make_post(views=v) for v in views]
    found = outliers(posts, threshold=2.0)
    assert [s.post.views for s in found] == [1000]
    top = found[0]
    assert top.z == pytest.approx((1000 - 5.5) / math.sqrt(5.25))
    assert top.percentile == 100.0
    # 9 is within 2 trimmed stds: (9 - 5.5) / 2.291 = 1.53
    nine = next(s for s in score_posts(posts) if s.post.views == 9)
    assert nine.z == pytest.approx(3.5 / math.sqrt(5.25))
    assert nine.percentile == 90.0


def test_outliers_when_the_middle_has_no_spread(make_post) -> None:
    posts = [make_post(views=100) for _ in range(9)] + [make_post(views=1_000_000)]
    found = outliers(posts)
    assert [s.post.views for s in found] == [1_000_000]
    assert outliers([make_post(views=5) for _ in range(4)]) == []


def test_outliers_on_other_metrics_skip_missing(make_post) -> None:
    posts = [make_post(views=1000, likes=10) for _ in range(9)]
    posts += [make_post(views=1000, likes=900), make_post(views=None, likes=None)]
    by_rate = outliers(posts, metric="engagement_rate")
    assert len(by_rate) == 1 and by_rate[0].post.likes == 900
    assert len(score_posts(posts, metric="engagement_rate")) == 10


def test_author_outlier_score() -> None:
    assert author_outlier_score(5000, 1000.0) == pytest.approx(4.0)
    assert author_outlier_score(500, 1000.0) == pytest.approx(-0.5)
    assert author_outlier_score(500, 0.0) is None
    assert author_outlier_score(None, 10.0) is None
    assert author_outlier_score(10, None) is None


def test_compare_platforms(make_post) -> None:
    tweets = [
        make_post(views=100, likes=10, comments=0, shares=0),  # rate 0.10
        make_post(views=300, likes=3, comments=3, shares=0),  # rate 0.02
        make_post(views=None, likes=5, comments=1, shares=1),
    ]
    tiktoks = [make_post(platform=Platform.tiktok, views=10_000, likes=1000, comments=0, shares=0)]
    comparison = compare_platforms(
        {Platform.twitter: tweets, Platform.tiktok: tiktoks, Platform.youtube: []}
    )
    twitter = comparison.platforms[Platform.twitter]
    assert twitter.count == 3
    assert twitter.median_views == 200.0
    assert twitter.median_engagement_rate == pytest.approx(0.06)
    assert (twitter.total_views, twitter.total_likes) == (400, 18)
    assert (twitter.total_comments, twitter.total_shares) == (4, 1)
    assert twitter.top_post is not None and twitter.top_post.views == 300
    youtube = comparison.platforms[Platform.youtube]
    assert (youtube.count, youtube.median_views, youtube.top_post) == (0, None, None)
    assert list(comparison.platforms) == [Platform.twitter, Platform.tiktok, Platform.youtube]
    assert comparison.leader("median_views") == Platform.tiktok
    assert comparison.model_dump(mode="json")["platforms"]["tiktok"]["count"] == 1
