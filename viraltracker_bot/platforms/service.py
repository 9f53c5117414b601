"""Platform searches for the agents: cache, budget, actor or sandbox, normalise, store, filter."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from viraltracker_bot.config import Settings
from viraltracker_bot.conversation import Progress
from viraltracker_bot.platforms.apify import ActorRunner, RunBudget
from viraltracker_bot.platforms.catalog import spec_for
from viraltracker_bot.platforms.filters import filtered_out, longest_running, viral_posts
from viraltracker_bot.platforms.models import PlatformQuery, SearchResult
from viraltracker_bot.platforms.normalise import Normalised, normalise_items
from viraltracker_bot.platforms.sandbox import sandbox_items
from viraltracker_bot.platforms.spec import PlatformSpec
from viraltracker_bot.storage import posts as post_store
from viraltracker_bot.storage import queries as query_store
from viraltracker_bot.storage import searches as search_store
from viraltracker_bot.storage.database import Database

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def cache_key(actor: str, run_input: dict[str, Any]) -> str:
    """Identical actor + identical input = identical search, whatever the wording that led to it."""
    canonical = json.dumps(run_input, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{actor}\n{canonical}".encode()).hexdigest()


@dataclass(frozen=True)
class _Fetched:
    items: list[Any]
    run_id: str | None


class _Flight:
    """A search in progress in this process, and how many callers wait on it."""

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0


class PlatformServices:
    """One per process: shares the Apify client and the database between conversations."""

    def __init__(self, settings: Settings, db: Database, *, clock: Clock | None = None) -> None:
        self.settings = settings
        self.db = db
        self._clock = clock or (lambda: datetime.now(UTC))
        self._runner: ActorRunner | None = None
        self._inflight: dict[str, _Flight] = {}
        self._storing: dict[str, asyncio.Task[None]] = {}
        """Searches whose results are still being written, by cache key (see `run`'s `writes`)."""

    async def run(
        self,
        query: PlatformQuery,
        *,
        budget: RunBudget | None = None,
        progress: Progress | None = None,
        writes: list[asyncio.Task[None]] | None = None,
    ) -> SearchResult:
        """Answer from a fresh cached run, or run the actor (spending budget) and store it.

        With `writes`, the result comes back before it is stored: the store runs as a task put
        in that list, for the caller to await before its work counts as done. An agent's next
        step is a model request of a second or more, and the store (fifty posts with their raw
        items, SQLite's one writer) then overlaps it instead of delaying the answer; a second
        caller of the same search waits for it and reads the cache.
        """
        spec = spec_for(query.platform)
        now = self._clock()
        run_input = spec.run_input(query, self.settings, now)
        actor = spec.actor_id(self.settings)
        key = cache_key(actor, run_input)
        # Two identical searches at once in this process share one run.
        flight = self._inflight.setdefault(key, _Flight())
        flight.users += 1
        try:
            async with flight.lock:
                cached = await self._from_cache(query, key, now)
                if cached is not None:
                    return cached
                if budget is not None:
                    budget.take()
                if progress is not None:
                    await progress(f"Searching {query.platform.label}...")
                return await self._scrape(spec, query, actor, run_input, key, now, writes)
        finally:
            flight.users -= 1
            if flight.users == 0:
                self._inflight.pop(key, None)

    async def _from_cache(
        self, query: PlatformQuery, key: str, now: datetime
    ) -> SearchResult | None:
        storing = self._storing.get(key)
        if storing is not None:  # the same search, still being written: read it once stored
            await asyncio.wait([storing])
        async with self.db.transaction() as session:
            row = await query_store.find_fresh(
                session,
                key,
                max_age_s=self.settings.apify_cache_ttl_s,
                sandbox=self.settings.sandbox,
                now=now,
            )
            if row is None:
                return None
            post_ids, ad_ids = await query_store.linked_ids(session, row.id)
            posts = await post_store.load_posts(session, post_ids) if post_ids else []
            ads = await post_store.load_ads(session, ad_ids) if ad_ids else []
        log.info("cache hit for %s (query %s)", query.describe(), row.id)
        fetched_at = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
        return SearchResult(
            query=query,
            posts=viral_posts(posts, query, now),
            ads=longest_running(ads, query),
            scraped=row.item_count,
            filtered_out=filtered_out(posts, query, now),
            skipped=row.skipped,
            from_cache=True,
            sandbox=row.sandbox,
            fetched_at=fetched_at,
        )

    async def _scrape(
        self,
        spec: PlatformSpec,
        query: PlatformQuery,
        actor: str,
        run_input: dict[str, Any],
        key: str,
        now: datetime,
        writes: list[asyncio.Task[None]] | None = None,
    ) -> SearchResult:
        fetched = await self._fetch(actor, run_input, now)
        found = normalise_items(fetched.items, spec.shape, now)
        if found.skipped:
            log.warning("%s: skipped %d malformed items", actor, found.skipped)
        store = self._store(query, actor, run_input, key, now, fetched, found)
        if writes is None:
            await store
        else:
            writes.append(self._in_background(key, store))
        return SearchResult(
            query=query,
            posts=viral_posts(found.posts, query, now),
            ads=longest_running(found.ads, query),
            scraped=len(fetched.items),
            filtered_out=filtered_out(found.posts, query, now),
            skipped=found.skipped,
            from_cache=False,
            sandbox=self.settings.sandbox,
            fetched_at=now,
        )

    def _in_background(self, key: str, store: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(store, name=f"store:{key[:12]}")
        self._storing[key] = task

        def forget(done: asyncio.Task[None]) -> None:
            if self._storing.get(key) is done:
                del self._storing[key]

        task.add_done_callback(forget)
        return task

    async def _store(
        self,
        query: PlatformQuery,
        actor: str,
        run_input: dict[str, Any],
        key: str,
        now: datetime,
        fetched: _Fetched,
        found: Normalised,
    ) -> None:
        """The posts and ads found, and the run that found them (the cache of this search)."""
        run = query_store.RecordedRun(
            cache_key=key,
            platform=query.platform.value,
            kind=query.kind,
            query=query.model_dump(mode="json"),
            actor=actor,
            run_input=run_input,
            run_id=fetched.run_id,
            sandbox=self.settings.sandbox,
            item_count=len(fetched.items),
            skipped=found.skipped,
            created_at=now,
        )
        await search_store.store_search(self.db, run, found.posts, found.ads)

    async def _fetch(self, actor: str, run_input: dict[str, Any], now: datetime) -> _Fetched:
        """The live actor, or the sandbox: the same rows either way, capped the same way."""
        if self.settings.sandbox:
            items = sandbox_items(actor, run_input, now)
            return _Fetched(items[: self.settings.max_items_per_run], None)
        if self._runner is None:
            self._runner = ActorRunner(self.settings)
        output = await self._runner.run(actor, run_input)
        return _Fetched(output.items, output.run_id)

    async def stored(self) -> None:
        """Wait until every search found so far is stored (for readers of the stored posts)."""
        if self._storing:
            await asyncio.wait(list(self._storing.values()))

    async def close(self) -> None:
        """Finish the stores still running, then close the Apify client."""
        await self.stored()
        if self._runner is not None:
            await self._runner.close()
            self._runner = None
