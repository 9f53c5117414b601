"""CSV, JSON and Markdown exports: what a user opening the file sees."""

# Tests inspect the files they produced; blocking reads are fine here.
# ruff: noqa: ASYNC240

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

from tests.platforms import payloads
from viraltracker_bot.exports.files import AD_COLUMNS, POST_COLUMNS, export_ads, export_posts
from viraltracker_bot.platforms import tiktok
from viraltracker_bot.platforms.models import Ad, PlatformQuery, Post
from viraltracker_bot.platforms.normalise import normalise_items


def read_csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline="")))


async def test_posts_csv_parses_back_in_rank_order(tmp_path: Path, posts: list[Post]) -> None:
    path = await export_posts(posts, "csv", tmp_path, "top tiktok")
    assert path.suffix == ".csv"
    rows = read_csv(path)
    assert list(rows[0]) == list(POST_COLUMNS)
    assert [r["rank"] for r in rows] == ["1", "2", "3"]
    first = rows[0]
    assert first["platform"] == "tiktok"
    assert first["author"] == "focus_daily"
    assert first["followers"] == "12400"
    assert first["views"] == "2400000"
    assert first["text"] == posts[0].text  # emoji survive the round trip
    assert float(first["engagement_rate"]) == round(posts[0].engagement_rate or 0, 6)
    assert first["posted_at"] == "2025-03-01T12:30:00+00:00"
    assert first["url"] == posts[0].url
    assert rows[2]["views"] == "" and rows[2]["engagement_rate"] == ""


async def test_csv_neutralises_formulas(tmp_path: Path, posts: list[Post], ads: list[Ad]) -> None:
    rows = read_csv(await export_posts(posts, "csv", tmp_path, "x"))
    assert rows[1]["text"].startswith("'=HYPERLINK")
    assert rows[1]["text"].endswith("a pipe\nand a newline")  # multi-line text stays one cell
    assert rows[2]["author"] == "'-minus"
    assert rows[2]["text"].startswith("'@everyone")
    ad_rows = read_csv(await export_ads(ads, "csv", tmp_path, "ads"))
    assert list(ad_rows[0]) == list(AD_COLUMNS)
    assert ad_rows[0]["creative_text"] == "'+Plan your week in 5 minutes"
    assert ad_rows[0]["platforms"] == "facebook;instagram"
    assert ad_rows[1]["days_running"] == "30"
    for row in rows + ad_rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r"))


async def test_posts_json_has_query_and_items(
    tmp_path: Path, posts: list[Post], query: PlatformQuery
) -> None:
    path = await export_posts(posts, "json", tmp_path, "top", query)
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["count"] == 3
    assert doc["query"]["platform"] == "tiktok"
    assert doc["query"]["terms"] == ["productivity"]
    assert doc["query"]["min_views"] == 100_000
    assert doc["query"]["description"] == query.describe()
    assert doc["exported_at"]
    assert [i["platform_id"] for i in doc["items"]] == ["1", "2", "3"]
    assert doc["items"][0]["engagement_rate"] == posts[0].engagement_rate
    assert Post.model_validate(doc["items"][1]).text == posts[1].text


async def test_ads_json_without_query(tmp_path: Path, ads: list[Ad]) -> None:
    doc = json.loads((await export_ads(ads, "json", tmp_path, "ads")).read_text())
    assert doc["query"] is None
    assert doc["kind"] == "ads"
    assert doc["items"][0]["page_name"] == "Acme | Planners"
    assert doc["items"][1]["days_running"] == 30


def table_rows(markdown: str) -> list[str]:
    return [line for line in markdown.splitlines() if line.startswith("| ") and "---" not in line]


async def test_posts_markdown_is_a_readable_table(
    tmp_path: Path, posts: list[Post], query: PlatformQuery
) -> None:
    path = await export_posts(posts, "markdown", tmp_path, "top", query)
    assert path.suffix == ".md"
    text = path.read_text(encoding="utf-8")
    assert text.splitlines()[0] == f"# Top posts: {query.describe()}"
    header, *rows = table_rows(text)
    assert len(rows) == 3
    columns = header.count(" | ")
    for row in rows:  # escaped pipes and newlines keep every row the same width
        assert row.replace("\\|", "").count(" | ") == columns
    assert "| 1 | TikTok | @focus\\_daily (12.4K) |" in rows[0]
    assert "| 2.4M | 180K | 8.0% | [open](https://www.tiktok.com/@focus_daily/video/1) |" in rows[0]
    assert "\\| a pipe and a newline" in rows[1]
    assert "…" in rows[2] and "long long" not in rows[2].split("…")[1]


async def test_ads_markdown_shows_ranges_and_days(tmp_path: Path, ads: list[Ad]) -> None:
    text = (await export_ads(ads, "markdown", tmp_path, "ads")).read_text(encoding="utf-8")
    _, first, second = table_rows(text)
    assert "Acme \\| Planners" in first
    assert "| yes | 100–499 USD | 10K–50K |" in first
    assert "[open](https://www.facebook.com/ads/library/?id=111)" in first
    assert "| 30 | no |" in second
    assert second.endswith("| – |")  # no URL: no link rather than a broken one


async def test_markdown_only_links_web_urls(tmp_path: Path, posts: list[Post]) -> None:
    hostile = posts[0].model_copy(update={"url": "javascript:alert(1)"})
    spaced = posts[1].model_copy(update={"url": "https://x.com/a b)c"})
    text = (await export_posts([hostile, spaced], "markdown", tmp_path, "x")).read_text()
    assert "javascript:" not in text
    assert "[open](https://x.com/a%20b%29c)" in text


async def test_empty_lists_still_export_a_file_that_says_so(tmp_path: Path) -> None:
    rows = read_csv(await export_posts([], "csv", tmp_path, "none"))
    assert rows == []
    header = (tmp_path / next(tmp_path.glob("none_*.csv")).name).read_text(encoding="utf-8-sig")
    assert header.strip() == ",".join(POST_COLUMNS)
    doc = json.loads((await export_posts([], "json", tmp_path, "none")).read_text())
    assert doc["count"] == 0 and doc["items"] == []
    md = (await export_ads([], "markdown", tmp_path, "none")).read_text()
    assert "No ads matched" in md


async def test_a_hashtag_cut_in_the_middle_of_an_emoji_exports(tmp_path: Path) -> None:
    """Half an emoji (`\\ud83d` in a scraper's JSON) has no UTF-8 form: the JSON export of a
    post tagged with one failed. It is exported with U+FFFD in the half's place."""
    row = payloads.tiktok_video(hashtags=[{"name": "focus\ud83d"}, {"name": "fyp"}])
    posts = normalise_items([row], tiktok.SHAPE, datetime.now(UTC)).posts
    for fmt in ("csv", "json", "markdown"):
        await export_posts(posts, fmt, tmp_path, "cut")
    doc = json.loads((await export_posts(posts, "json", tmp_path, "cut")).read_text("utf-8"))
    assert doc["items"][0]["hashtags"][:2] == ["focus\ufffd", "fyp"]
