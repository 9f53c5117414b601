"""PNG charts for chat replies: the top posts by views and a cross-platform comparison.

Figures are built with matplotlib's object API on the Agg canvas (never pyplot, whose global
figure registry is not safe across threads) and rendered in a worker thread. Charting nothing
raises NothingToChart instead of attaching an empty picture; callers say so in words.
matplotlib is imported by the drawing code itself, in that worker thread, the first time a chart
is drawn: it takes most of a second to load, and most runs (every CLI start) draw no chart.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from viraltracker_bot.exports.formatting import format_number, format_percent, short_text
from viraltracker_bot.exports.paths import write_export
from viraltracker_bot.platforms.models import Platform, Post

if TYPE_CHECKING:
    from matplotlib.figure import Figure

SIZE_INCHES = (8.0, 5.0)
DPI = 100  # 800 x 500 px: what Slack and Discord show inline without shrinking the text away
TOP_N = 10
PLATFORM_COLOURS = {
    "twitter": "#1D9BF0",
    "tiktok": "#EE1D52",
    "youtube": "#FF0000",
    "facebook": "#1877F2",
}
FALLBACK_COLOUR = "#6C757D"


class NothingToChart(ValueError):
    """There is no data to draw; the message is fit to show to the user."""


@lru_cache(maxsize=1)
def _renderable_codepoints() -> frozenset[int]:
    """Characters the default font can draw (read once; the font file does not change)."""
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    path = font_manager.findfont(font_manager.FontProperties())
    return frozenset(FT2Font(path).get_charmap())


def label_text(text: str | None, limit: int) -> str:
    """Text safe for a matplotlib label: drawable glyphs only, '$' not taken as math."""
    drawable = _renderable_codepoints()
    kept = "".join(ch for ch in (text or "") if ord(ch) in drawable or ch.isspace())
    return short_text(kept, limit).replace("$", r"\$")


def _platform_label(key: Any) -> str:
    try:
        return Platform(str(getattr(key, "value", key))).label
    except ValueError:
        return str(key)


def _colour(key: Any) -> str:
    return PLATFORM_COLOURS.get(str(getattr(key, "value", key)), FALLBACK_COLOUR)


def _png(fig: Figure) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    buffer = io.BytesIO()
    FigureCanvasAgg(fig).print_png(buffer)
    return buffer.getvalue()


def _new_figure() -> Figure:
    from matplotlib.figure import Figure

    fig = Figure(figsize=SIZE_INCHES, dpi=DPI, layout="constrained")
    fig.set_facecolor("white")
    return fig


def _tidy(ax: Any) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=11)


def _platform_legend(ax: Any, platforms: Sequence[Any]) -> None:
    """Colours encode platform; say which when more than one is on the chart."""
    from matplotlib.patches import Patch

    shown = list(dict.fromkeys(platforms))
    if len(shown) < 2:
        return
    handles = [Patch(color=_colour(p), label=_platform_label(p)) for p in shown]
    ax.legend(handles=handles, loc="lower right", fontsize=10, frameon=False)


def _post_label(post: Post) -> str:
    who = f"@{post.author}" if post.author else post.author_name or "unknown"
    snippet = label_text(post.text, 34)
    return f"{label_text(who, 24)}\n{snippet}" if snippet else label_text(who, 24)


def _draw_top_posts(posts: Sequence[Post], title: str) -> bytes:
    from matplotlib.ticker import FuncFormatter

    fig = _new_figure()
    ax = fig.add_subplot()
    views = [p.views or 0 for p in posts]
    colours = [_colour(p.platform) for p in posts]
    rows = range(len(posts))
    ax.barh(rows, views, color=colours, height=0.7)
    ax.set_yticks(rows, [_post_label(p) for p in posts], fontsize=9.5 if len(posts) > 6 else 11)
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: format_number(x)))
    ax.set_xlim(0, max(views) * 1.45)
    for row, post in zip(rows, posts, strict=True):
        note = f" {format_number(post.views)} · {format_percent(post.engagement_rate)} eng."
        ax.text(post.views or 0, row, note, va="center", ha="left", fontsize=10.5)
    ax.set_xlabel("Views", fontsize=12)
    _platform_legend(ax, [p.platform for p in posts])
    ax.set_title(label_text(title, 70), fontsize=15, fontweight="bold", loc="left")
    _tidy(ax)
    ax.grid(axis="x", alpha=0.25)
    ax.set_axisbelow(True)
    return _png(fig)


async def top_posts_chart(
    posts: list[Post],
    export_dir: Path,
    name: str,
    title: str | None = None,
    top_n: int = TOP_N,
) -> Path:
    """Horizontal bars of the most viewed posts, labelled by author and text, with engagement."""
    ranked = sorted((p for p in posts if p.views), key=lambda p: p.views or 0, reverse=True)
    if not ranked:
        raise NothingToChart("There are no posts with view counts to chart.")
    ranked = ranked[: max(1, top_n)]
    heading = title or f"Top {len(ranked)} posts by views"
    data = await asyncio.to_thread(_draw_top_posts, ranked, heading)
    return await write_export(export_dir, name, "png", data)


def _field(stats: Any, name: str) -> Any:
    if isinstance(stats, Mapping):
        return stats.get(name)
    return getattr(stats, name, None)


def _platform_rows(comparison: Any) -> list[tuple[Any, Any]]:
    """Accept a mapping {platform: stats} or an object holding one (PlatformComparison)."""
    if isinstance(comparison, Mapping):
        return list(comparison.items())
    for attr in ("platforms", "per_platform", "by_platform", "stats"):
        inner = getattr(comparison, attr, None)
        if isinstance(inner, Mapping):
            return list(inner.items())
        if isinstance(inner, Iterable) and not isinstance(inner, str | bytes):
            return [(_field(item, "platform"), item) for item in inner]
    raise TypeError(f"Cannot read per-platform stats from {type(comparison).__name__}")


def _number(value: Any, scale: float = 1.0) -> float | None:
    return None if value is None else float(value) * scale


def _draw_comparison(rows: list[tuple[Any, Any]]) -> bytes:
    from matplotlib.ticker import FuncFormatter

    fig = _new_figure()
    views_ax, rate_ax = fig.subplots(1, 2)
    labels = [
        f"{_platform_label(k)}\n(n={_field(s, 'count') or 0})".replace(" Ad Library", "")
        for k, s in rows
    ]
    colours = [_colour(k) for k, _ in rows]
    views = [_number(_field(s, "median_views")) for _, s in rows]
    rates = [_number(_field(s, "median_engagement_rate"), scale=100) for _, s in rows]
    panels = (
        (views_ax, views, "Median views", colours, format_number),
        (rate_ax, rates, "Median engagement rate", colours, None),
    )
    for ax, measured, heading, colour, fmt in panels:
        values = [v or 0.0 for v in measured]
        bars = ax.bar(labels, values, color=colour, width=0.6, alpha=1.0 if fmt else 0.7)
        shown = ["no data" if v is None else fmt(v) if fmt else f"{v:.1f}%" for v in measured]
        ax.bar_label(bars, shown, padding=3, fontsize=11, fontweight="bold")
        ax.set_ylim(0, (max(values) or 1) * 1.2)
        ax.set_title(heading, fontsize=13, fontweight="bold")
        ax.yaxis.set_major_formatter(
            FuncFormatter((lambda x, _: format_number(x)) if fmt else (lambda x, _: f"{x:g}%"))
        )
        _tidy(ax)
        ax.grid(axis="y", alpha=0.25)
        ax.set_axisbelow(True)
    fig.suptitle("Cross-platform comparison", fontsize=15, fontweight="bold")
    return _png(fig)


async def comparison_chart(comparison: Any, export_dir: Path, name: str) -> Path:
    """Two panels, median views and median engagement rate, one bar per platform compared."""
    rows = [(k, s) for k, s in _platform_rows(comparison) if s is not None]
    if not rows:
        raise NothingToChart("There are no platforms to compare yet.")
    data = await asyncio.to_thread(_draw_comparison, rows)
    return await write_export(export_dir, name, "png", data)
