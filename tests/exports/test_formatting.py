"""Compact numbers and format names as people read and type them."""

from __future__ import annotations

import pytest

from viraltracker_bot.exports.formatting import format_number, format_percent, parse_format


@pytest.mark.parametrize(
    ("n", "shown"),
    [
        (0, "0"),
        (999, "999"),
        (1000, "1K"),
        (1234, "1.2K"),
        (15_500, "15.5K"),
        (999_950, "1M"),
        (1_000_000, "1M"),
        (2_400_000_000, "2.4B"),
        (-1234, "-1.2K"),
        (None, "–"),
    ],
)
def test_format_number(n: int | None, shown: str) -> None:
    assert format_number(n) == shown


def test_format_percent() -> None:
    assert format_percent(0.0456) == "4.6%"
    assert format_percent(None) == "–"


@pytest.mark.parametrize(
    ("typed", "fmt"),
    [("csv", "csv"), ("CSV", "csv"), (" Json ", "json"), ("md", "markdown"),
     ("Markdown", "markdown"), (".md", "markdown")],
)  # fmt: skip
def test_parse_format_accepts_what_people_type(typed: str, fmt: str) -> None:
    assert parse_format(typed) == fmt


def test_parse_format_rejects_unknown_with_the_choices() -> None:
    with pytest.raises(ValueError, match="csv, json, markdown"):
        parse_format("xlsx")
