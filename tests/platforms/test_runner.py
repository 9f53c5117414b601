"""The actor runner's waits and give-ups, and the fake's fidelity to the Apify v2 protocol."""

from __future__ import annotations

import time

import aiohttp
import pytest
from apify_client._models import Run

from tests.fakes.apify import ApifyFake
from viraltracker_bot.config import Settings
from viraltracker_bot.platforms.apify import ActorRunner, RunBudget
from viraltracker_bot.platforms.errors import ActorBudgetExceeded, ActorRunFailed, PlatformError


@pytest.fixture
def runner_settings(apify: ApifyFake) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        apify_token=apify.token,
        apify_api_base_url=apify.url,
        apify_max_retries=2,
        apify_retry_base_delay_s=0.01,
        apify_run_timeout_s=30,
    )


async def test_waits_by_long_polling_not_busy_polling(
    runner_settings: Settings, apify: ApifyFake
) -> None:
    apify.latency_s = 1.0
    runner = ActorRunner(runner_settings)
    try:
        started = time.monotonic()
        output = await runner.run(
            "clockworks/tiktok-scraper", {"hashtags": ["x"], "resultsPerPage": 5}
        )
        elapsed = time.monotonic() - started
    finally:
        await runner.close()
    assert len(output.items) == 5 and output.run_id == apify.runs_started[0].id
    assert elapsed >= 1.0
    polls = [r for r in apify.requests if r.path.startswith("/v2/actor-runs/")]
    assert 1 <= len(polls) <= 3
    assert all(int(p.query["waitForFinish"]) > 0 for p in polls)


async def test_stuck_run_is_abandoned_and_aborted(
    runner_settings: Settings, apify: ApifyFake
) -> None:
    apify.enforce_run_timeouts = False
    apify.latency_s = 120
    settings = runner_settings.model_copy(update={"apify_run_timeout_s": 1.0})
    runner = ActorRunner(settings)
    try:
        with pytest.raises(ActorRunFailed) as caught:
            await runner.run("streamers/youtube-scraper", {"searchQueries": ["x"]})
    finally:
        await runner.close()
    assert caught.value.status == "RUNNING"
    assert "no result within" in caught.value.message
    assert any(r.path.endswith("/abort") for r in apify.requests)
    assert apify.runs_started[0].status == "ABORTED"


async def test_large_inputs_arrive_intact(runner_settings: Settings, apify: ApifyFake) -> None:
    big = {"searchQueries": [f"query number {n}" for n in range(300)], "resultsPerPage": 1}
    runner = ActorRunner(runner_settings)
    try:
        await runner.run("clockworks/tiktok-scraper", big)
    finally:
        await runner.close()
    assert apify.runs_started[0].run_input == big


def test_runner_needs_a_token() -> None:
    with pytest.raises(PlatformError, match="APIFY_TOKEN"):
        ActorRunner(Settings(_env_file=None, apify_token=None))  # type: ignore[call-arg]


def test_budget_counts_and_refuses() -> None:
    budget = RunBudget(2)
    budget.take()
    budget.take()
    assert budget.used == 2 and budget.remaining == 0
    with pytest.raises(ActorBudgetExceeded):
        budget.take()
    assert budget.used == 2


@pytest.mark.parametrize("collection", ["acts", "actors"])
async def test_fake_speaks_both_run_paths_with_valid_run_json(
    apify: ApifyFake, collection: str
) -> None:
    headers = {"Authorization": f"Bearer {apify.token}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        url = f"{apify.url}/v2/{collection}/apidojo~tweet-scraper/runs?waitForFinish=5"
        async with http.post(url, json={"searchTerms": ["x"], "maxItems": 50}) as response:
            assert response.status == 201
            run = Run.model_validate((await response.json())["data"])
        assert run.status == "SUCCEEDED"
        items_url = f"{apify.url}/v2/datasets/{run.default_dataset_id}/items?offset=10&limit=5"
        async with http.get(items_url) as response:
            items = await response.json()
            assert len(items) == 5
            assert response.headers["x-apify-pagination-total"] == "50"
            assert response.headers["x-apify-pagination-offset"] == "10"
        async with http.get(f"{apify.url}/v2/actor-runs/nope") as response:
            assert response.status == 404
            assert (await response.json())["error"]["type"] == "record-not-found"


async def test_fake_checks_the_bearer_token(apify: ApifyFake) -> None:
    async with aiohttp.ClientSession() as http:
        url = f"{apify.url}/v2/acts/apidojo~tweet-scraper/runs"
        async with http.post(url, json={}, headers={"Authorization": "Bearer wrong"}) as response:
            assert response.status == 401
    assert apify.run_count == 0
