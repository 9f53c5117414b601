"""PNG charts: valid images of chat-preview size, and a clear error when nothing to draw."""

# Tests inspect the files they produced; blocking reads are fine here.
# ruff: noqa: ASYNC240

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import pytest

from viraltracker_bot.exports.charts import NothingToChart, comparison_chart, top_posts_chart
from viraltracker_bot.platforms.models import Platform, Post

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def assert_chat_sized(path: Path) -> None:
    assert path.suffix == ".png"
    width, height = png_size(path)
    assert 600 <= width <= 1200 and 400 <= height <= 800
    assert path.stat().st_size > 10_000  # something was drawn


async def test_top_posts_chart(tmp_path: Path, posts: list[Post]) -> None:
    many = [
        p.model_copy(update={"platform_id": f"{p.platform_id}-{i}", "views": (p.views or 0) + i})
        for i in range(5)
        for p in posts
    ]
    path = await top_posts_chart(many, tmp_path, "../top", title="TikTok $100 #productivity")
    assert path.parent == tmp_path.resolve()
    assert_chat_sized(path)


async def test_top_posts_chart_without_views_says_so(tmp_path: Path, posts: list[Post]) -> None:
    with pytest.raises(NothingToChart, match="no posts"):
        await top_posts_chart([posts[2]], tmp_path, "top")
    with pytest.raises(NothingToChart):
        await top_posts_chart([], tmp_path, "top")
    assert list(tmp_path.iterdir()) == []


@dataclass
class Stats:
    count: int
    median_views: float | None
    median_engagement_rate: float | None


@dataclass
class Comparison:
    platforms: dict[Platform, Stats]


async def test_comparison_chart_from_a_mapping_of_dicts(tmp_path: Path) -> None:
    stats = {
        "twitter": {"count": 40, "median_views": 120_000, "median_engagement_rate": 0.021},
        "tiktok": {"count": 50, "median_views": 850_000, "median_engagement_rate": 0.084},
        "youtube": {"count": 0, "median_views": None, "median_engagement_rate": None},
    }
    assert_chat_sized(await comparison_chart(stats, tmp_path, "compare"))


async def test_comparison_chart_from_a_comparison_object(tmp_path: Path) -> None:
    comparison = Comparison(
        platforms={
            Platform.tiktok: Stats(50, 850_000, 0.084),
            Platform.youtube: Stats(25, 430_000, 0.035),
        }
    )
    assert_chat_sized(await comparison_chart(comparison, tmp_path, "compare"))


async def test_comparison_chart_with_nothing_to_compare(tmp_path: Path) -> None:
    with pytest.raises(NothingToChart):
        await comparison_chart({}, tmp_path, "compare")
