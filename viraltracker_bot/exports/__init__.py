"""Files a reply can carry: CSV/JSON/Markdown exports of posts and ads, and PNG charts."""

from viraltracker_bot.exports.charts import NothingToChart, comparison_chart, top_posts_chart
from viraltracker_bot.exports.files import export_ads, export_posts
from viraltracker_bot.exports.formatting import (
    ExportFormat,
    format_number,
    format_percent,
    parse_format,
    short_text,
)

__all__ = [
    "ExportFormat",
    "NothingToChart",
    "comparison_chart",
    "export_ads",
    "export_posts",
    "format_number",
    "format_percent",
    "parse_format",
    "short_text",
    "top_posts_chart",
]
