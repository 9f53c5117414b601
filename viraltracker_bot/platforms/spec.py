"""What the service knows about one platform: its actor, its input builder, its item shape."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from viraltracker_bot.config import Settings
from viraltracker_bot.platforms.errors import InvalidQuery
from viraltracker_bot.platforms.models import Platform, PlatformQuery, QueryKind
from viraltracker_bot.platforms.normalise import ItemShape

InputBuilder = Callable[[PlatformQuery, Settings, datetime], dict[str, Any]]


@dataclass(frozen=True)
class PlatformSpec:
    """One platform as data; adding a platform means adding one module that defines one of these."""

    platform: Platform
    actor_setting: str
    shape: ItemShape
    build_input: InputBuilder
    kinds: frozenset[QueryKind]

    def actor_id(self, settings: Settings) -> str:
        return str(getattr(settings, self.actor_setting))

    def run_input(self, query: PlatformQuery, settings: Settings, now: datetime) -> dict[str, Any]:
        """The actor input for a query, refusing queries this platform cannot answer."""
        if query.platform != self.platform:
            raise InvalidQuery(f"A {query.platform.label} query was sent to {self.platform.label}.")
        if query.kind not in self.kinds:
            raise InvalidQuery(f"{self.platform.label} cannot run a '{query.kind}' search.")
        if not clean_terms(query.terms):
            raise InvalidQuery(f"A {self.platform.label} search needs at least one keyword.")
        return self.build_input(query, settings, now)


def clean_terms(terms: list[str]) -> list[str]:
    """Trimmed, non-empty, de-duplicated terms, in the order given."""
    seen: dict[str, str] = {}
    for term in terms:
        text = term.strip()
        if text:
            seen.setdefault(text.lower(), text)
    return list(seen.values())


def split_terms(text: str) -> list[str]:
    """'btc, bitcoin' -> ['btc', 'bitcoin']: commas separate alternatives a user typed."""
    return clean_terms(text.split(","))


POOL = 50
"""Items a keyword or hashtag search asks for at least, whatever its limit (the default count)."""

POOLED_KINDS: frozenset[QueryKind] = frozenset({"search", "hashtag"})
"""Searches whose posts are filtered and ranked before they are cut to the limit."""


def pool_size(query: PlatformQuery, settings: Settings) -> int:
    """How many items a query needs before its filters and ranking run, within the per-run cap.

    "Top 5 viral TikToks about cats" ranks and filters what the actor returns: asking for 5 left
    fewer than 5 (often none) and never the top 5 of anything, so a search asks for at least
    `POOL`. A creator's or page's latest N are exactly N: more would cost more and, ranked by
    views, turn "the last 5" into "the 5 most viewed of the last 50".
    """
    wanted = max(query.limit, POOL) if query.kind in POOLED_KINDS else query.limit
    return min(wanted, settings.max_items_per_run)


def item_count(query: PlatformQuery, settings: Settings, minimum: int = 1) -> int:
    """How many items to ask the actor for: the query's pool, at least the actor's minimum."""
    return max(minimum, pool_size(query, settings))


def per_term_cap(terms: int, settings: Settings) -> int:
    """The most one search term may ask for when the actor counts per term (YouTube's
    maxResults/maxResultsShorts, TikTok's resultsPerPage): the per-run cap split across the
    terms, so three terms cannot ask for three times the cap (the run's cost limit)."""
    return max(1, settings.max_items_per_run // max(1, terms))
