"""Export file names: safe, unique, and always inside the export directory."""

# Tests inspect the files they produced; blocking reads are fine here.
# ruff: noqa: ASYNC240

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from viraltracker_bot.exports.files import export_posts
from viraltracker_bot.exports.paths import MAX_STEM_CHARS, sanitise_name
from viraltracker_bot.platforms.models import Post

HOSTILE = [
    "../../etc/passwd",
    "/etc/passwd",
    "..",
    "",
    "~/.ssh/authorized_keys",
    "C:\\Windows\\system32",
    "a/../../b",
    "name\x00with nul",
    "😀 emoji only 😀",
    ".hidden",
    "x" * 500,
]
SAFE = re.compile(r"^[A-Za-z0-9._-]+$")


@pytest.mark.parametrize("name", HOSTILE)
async def test_hostile_names_stay_inside_the_directory(
    tmp_path: Path, posts: list[Post], name: str
) -> None:
    export_dir = tmp_path / "exports"
    path = await export_posts(posts, "csv", export_dir, name)
    assert path.parent == export_dir.resolve()
    assert path.exists()
    assert SAFE.match(path.name)
    assert not path.name.startswith(".")
    assert len(path.name) <= MAX_STEM_CHARS + 40
    assert list(tmp_path.rglob("*.csv")) == [path]


def test_sanitise_keeps_readable_names() -> None:
    assert sanitise_name("top tiktok #productivity") == "top_tiktok_productivity"
    assert sanitise_name("../../etc/passwd") == "etc_passwd"
    assert sanitise_name("..") == "export"


async def test_same_second_exports_never_clash(tmp_path: Path, posts: list[Post]) -> None:
    paths = await asyncio.gather(
        *(export_posts(posts, "json", tmp_path, "same") for _ in range(20))
    )
    assert len(set(paths)) == 20
    assert len(list(tmp_path.glob("same_*.json"))) == 20


async def test_export_dir_is_created(tmp_path: Path, posts: list[Post]) -> None:
    path = await export_posts(posts, "markdown", tmp_path / "a" / "b", "report")
    assert path.parent == (tmp_path / "a" / "b").resolve()
    assert re.match(r"^report_\d{8}T\d{6}Z_[0-9a-f]{6}\.md$", path.name)
