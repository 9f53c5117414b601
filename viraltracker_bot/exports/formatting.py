"""Human-friendly numbers, percentages and snippets shared by exports and chat replies."""

from __future__ import annotations

import re
from typing import Literal, get_args

ExportFormat = Literal["csv", "json", "markdown"]

_FORMAT_ALIASES: dict[str, ExportFormat] = {
    "csv": "csv",
    "json": "json",
    "md": "markdown",
    "markdown": "markdown",
}
_SUFFIXES = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K"))
_WHITESPACE = re.compile(r"\s+")


def format_number(n: float | None, missing: str = "–") -> str:
    """1234 -> '1.2K', 1_250_000 -> '1.3M': compact enough for a chat line or a table cell."""
    if n is None:
        return missing
    sign = "-" if n < 0 else ""
    value = abs(float(n))
    for i, (size, suffix) in enumerate(_SUFFIXES):
        if value >= size:
            scaled = round(value / size, 1)
            # 999_950 rounds to 1000.0K: promote it to the next unit so it reads 1M.
            if scaled >= 1000 and i > 0:
                bigger_size, bigger_suffix = _SUFFIXES[i - 1]
                scaled, suffix = round(value / bigger_size, 1), bigger_suffix
            return f"{sign}{_trim(scaled)}{suffix}"
    if value >= 999.5:
        return f"{sign}1K"
    return f"{sign}{_trim(round(value, 1))}" if value < 10 else f"{sign}{round(value)}"


def _trim(x: float) -> str:
    text = f"{x:.1f}"
    return text[:-2] if text.endswith(".0") else text


def format_percent(rate: float | None, missing: str = "–") -> str:
    """0.0456 -> '4.6%': engagement rates are fractions internally, percentages to people."""
    if rate is None:
        return missing
    pct = rate * 100
    return f"{pct:.2f}%" if 0 < abs(pct) < 0.1 else f"{pct:.1f}%"


def short_text(text: str | None, limit: int = 80) -> str:
    """One line, at most `limit` characters, ending in an ellipsis when cut."""
    flat = _WHITESPACE.sub(" ", text or "").strip()
    if len(flat) <= limit:
        return flat
    return flat[: max(1, limit - 1)].rstrip() + "…"


def parse_format(text: str) -> ExportFormat:
    """Accept what people type ('CSV', 'md', '.json', 'Markdown') and name the canonical format."""
    key = (text or "").strip().lower().lstrip(".")
    try:
        return _FORMAT_ALIASES[key]
    except KeyError:
        choices = ", ".join(get_args(ExportFormat))
        raise ValueError(
            f"Unknown export format {text!r}: choose one of {choices} (or md)."
        ) from None
