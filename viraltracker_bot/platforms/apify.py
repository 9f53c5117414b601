"""Running Apify actors: start, bounded wait, read the dataset, turn failures into typed errors."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from datetime import timedelta
from typing import Any

from apify_client import ApifyClientAsync
from apify_client.errors import ApifyApiError, ApifyClientError
from pydantic import BaseModel, Field

from viraltracker_bot.config import Settings
from viraltracker_bot.platforms.errors import (
    ActorBudgetExceeded,
    ActorRunFailed,
    ApifyUnavailable,
    PlatformError,
)

log = logging.getLogger(__name__)

TERMINAL_OK = "SUCCEEDED"
TERMINAL_STATUSES = frozenset({"SUCCEEDED", "FAILED", "TIMED-OUT", "ABORTED"})
PAGE_SIZE = 1000


class RunBudget:
    """How many actor runs one chat message may start: runs cost money, loops must not."""

    def __init__(self, max_runs: int) -> None:
        self.max_runs = max_runs
        self.used = 0

    @property
    def remaining(self) -> int:
        return max(0, self.max_runs - self.used)

    def take(self) -> None:
        """Reserve one run, or refuse once the message has used its share."""
        if self.used >= self.max_runs:
            raise ActorBudgetExceeded(self.max_runs)
        self.used += 1


class ActorOutput(BaseModel):
    """The raw dataset rows of one finished run, capped at the per-run item limit."""

    actor: str
    run_id: str | None = None
    items: list[Any] = Field(default_factory=list)
    truncated: bool = False


class ActorRunner:
    """One Apify client per process; every actor run goes through `run`."""

    def __init__(self, settings: Settings) -> None:
        if settings.apify_token is None:
            raise PlatformError("No APIFY_TOKEN is configured, so live scraping is off.")
        self._settings = settings
        # The client's own retry loop is the only one: 429/5xx/transport errors are retried at most
        # `apify_max_retries` times per request, with exponential backoff from the base delay.
        self._client = ApifyClientAsync(
            settings.apify_token.get_secret_value(),
            api_url=settings.apify_api_base_url,
            max_retries=max(0, settings.apify_max_retries),
            min_delay_between_retries=timedelta(seconds=settings.apify_retry_base_delay_s),
        )
        self._http_used = False

    async def run(self, actor_id: str, run_input: dict[str, Any]) -> ActorOutput:
        """Start the actor, wait (bounded), return its items; any failure is a PlatformError."""
        run_s = max(1.0, self._settings.apify_run_timeout_s)
        # Our wait outlives the actor's own timeout a little, so Apify reports TIMED-OUT itself.
        wait_s = run_s + min(30.0, max(1.0, run_s * 0.25))
        deadline = time.monotonic() + wait_s
        self._http_used = True
        try:
            async with asyncio.timeout(wait_s + 60.0):
                ids = await self._start(actor_id, run_input, run_s)
                status = await self._wait(actor_id, ids, deadline)
                if status != TERMINAL_OK:
                    raise ActorRunFailed(actor_id, status, ids.run_id)
                items, truncated = await self._read_items(ids.dataset_id)
        except TimeoutError as exc:
            raise ApifyUnavailable("requests to Apify kept hanging") from exc
        except ApifyApiError as exc:
            raise _api_error(actor_id, exc) from exc
        except ApifyClientError as exc:
            raise ApifyUnavailable(f"unexpected reply: {exc}") from exc
        except PlatformError:
            raise
        except Exception as exc:  # transport errors surface as the HTTP library's own types
            raise ApifyUnavailable(f"{type(exc).__name__}: {exc}") from exc
        log.info("actor %s run %s: %d items", actor_id, ids.run_id, len(items))
        return ActorOutput(actor=actor_id, run_id=ids.run_id, items=items, truncated=truncated)

    async def _start(self, actor_id: str, run_input: dict[str, Any], run_s: float) -> _RunIds:
        run = await self._client.actor(actor_id).start(
            run_input=run_input,
            run_timeout=timedelta(seconds=math.ceil(run_s)),
            max_items=self._settings.max_items_per_run,
        )
        log.info("actor %s started run %s", actor_id, run.id)
        return _RunIds(run_id=run.id, dataset_id=run.default_dataset_id)

    async def _wait(self, actor_id: str, ids: _RunIds, deadline: float) -> str:
        """Long-poll the run until it ends or our deadline passes; abort it if we give up."""
        run_client = self._client.run(ids.run_id)
        remaining = max(0.0, deadline - time.monotonic())
        run = await run_client.wait_for_finish(wait_duration=timedelta(seconds=remaining))
        if run is None:
            raise ActorRunFailed(actor_id, "UNKNOWN", ids.run_id, "Apify lost track of the run")
        status = str(run.status)
        if status not in TERMINAL_STATUSES:
            await self._abort_quietly(ids.run_id)
            raise ActorRunFailed(
                actor_id,
                status,
                ids.run_id,
                f"no result within {self._settings.apify_run_timeout_s:.0f}s",
            )
        return status

    async def _abort_quietly(self, run_id: str) -> None:
        """A run we stopped waiting for would keep costing money: ask Apify to stop it."""
        try:
            async with asyncio.timeout(10.0):
                await self._client.run(run_id).abort()
        except Exception as exc:  # best effort: the caller already reports the failure
            log.warning("could not abort run %s: %s", run_id, exc)

    async def _read_items(self, dataset_id: str) -> tuple[list[Any], bool]:
        """Page through the dataset, stopping at the per-run item cap."""
        cap = self._settings.max_items_per_run
        dataset = self._client.dataset(dataset_id)
        items: list[Any] = []
        total = None
        while len(items) < cap:
            page = await dataset.list_items(
                offset=len(items), limit=min(PAGE_SIZE, cap - len(items))
            )
            total = page.total
            items.extend(page.items)
            if not page.items or len(items) >= page.total:
                break
        truncated = total is not None and total > len(items)
        return items[:cap], truncated

    async def close(self) -> None:
        """Release the HTTP connection pool (only if a request was ever made)."""
        if self._http_used:
            await self._client.http_client.aclose()
            self._http_used = False


class _RunIds(BaseModel):
    run_id: str
    dataset_id: str


def _api_error(actor_id: str, exc: ApifyApiError) -> PlatformError:
    """Map an API error to what the user should hear (retries are already spent by now)."""
    code = exc.status_code
    if code == 429 or code >= 500:
        return ApifyUnavailable(f"HTTP {code} after retries", status_code=code)
    if code in (401, 403):
        return PlatformError(
            f"Apify refused the configured APIFY_TOKEN (HTTP {code}); check the token and its plan."
        )
    if code == 404:
        return PlatformError(f"Apify has no actor or run called {actor_id!r} (HTTP 404).")
    return PlatformError(f"Apify rejected the {actor_id} run (HTTP {code}): {exc.message}")
