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


def item_count(query: PlatformQuery, settings: Settings, minimum: int = 1) -> int:
    """How many items to ask the actor for: the query's limit, within the per-run cap."""
    return max(minimum, min(query.limit, settings.max_items_per_run))
