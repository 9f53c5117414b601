"""The Facebook Ad Library specialist: keyword and page searches, judged by days running."""

from __future__ import annotations

import csv
import re

from tests.agent.support import Script, call, echo
from tests.fakes.apify import ApifyFake
from tests.platforms.payloads import facebook_ad
from viraltracker_bot.agent.agents.facebook_agent import facebook_agent
from viraltracker_bot.agent.dependencies import SharedFilters


async def test_search_ads_reports_days_running_and_status(make_deps, apify: ApifyFake) -> None:
    script = Script(
        {
            "facebook": [
                call(
                    "search_facebook_ads",
                    {"keyword_or_url": "meal kit", "active_status": "active", "country": "us"},
                ),
                echo(),
            ]
        }
    )
    deps = make_deps(script.model)

    result = await facebook_agent.run('active "meal kit" ads in the US', deps=deps)

    [run] = apify.runs_started
    assert run.actor_id == "curious_coder/facebook-ads-library-scraper"
    url = run.run_input["urls"][0]["url"]
    assert "meal" in url and "country=US" in url
    cached = deps.result_cache.last_facebook_query
    assert cached is not None and cached.ads and not cached.posts
    days = [a.days_running or 0 for a in cached.ads]
    assert days == sorted(days, reverse=True)  # long-running ads first: the winners
    assert "days" in result.output and "active" in result.output
    assert "longest-running first" in result.output


async def test_page_ads_then_export_csv(make_deps, apify: ApifyFake) -> None:
    script = Script(
        {
            "facebook": [
                call("scrape_facebook_page_ads", {"page": "HelloFresh"}),
                call("export_facebook_ads", {"format": "csv"}),
                echo(),
            ]
        }
    )
    deps = make_deps(script.model)

    await facebook_agent.run("HelloFresh's ads as csv", deps=deps)

    assert deps.result_cache.last_facebook_query.query.kind == "page_ads"
    [path] = deps.files
    assert path.suffix == ".csv"
    rows = list(csv.reader(path.open(encoding="utf-8-sig", newline="")))
    assert len(rows) == len(deps.result_cache.last_facebook_query.ads) + 1


async def test_no_ads_says_what_narrowed_the_search(make_deps, apify: ApifyFake) -> None:
    apify.set_items("curious_coder/facebook-ads-library-scraper", [])
    args = {"keyword_or_url": "zzqx", "active_status": "active", "country": "US"}
    script = Script({"facebook": [call("search_facebook_ads", args), echo()]})

    result = await facebook_agent.run("active zzqx ads in the US", deps=make_deps(script.model))

    assert "the Ad Library returned no ads" in result.output
    assert 'ads of the last 30 days (ask for the "last 90 days")' in result.output
    assert "only active ads (ask for all ads)" in result.output
    assert "only US (ask for all countries)" in result.output


async def test_an_ad_search_says_its_period_like_every_other_search(make_deps) -> None:
    script = Script(
        {
            "facebook": [
                call("search_facebook_ads", {"keyword_or_url": "meal kit", "period": "last14d"}),
                call("scrape_facebook_page_ads", {"page": "HelloFresh"}),  # any time
                echo(),
            ]
        }
    )
    deps = make_deps(script.model)

    result = await facebook_agent.run('"meal kit" ads of the last two weeks', deps=deps)

    assert "Facebook Ad Library search 'meal kit' (limit 50, last 336h):" in result.output
    assert "Facebook Ad Library page 'HelloFresh' (limit 50):" in result.output


async def test_a_one_day_comparison_asks_the_ad_library_for_one_day(
    make_deps, apify: ApifyFake
) -> None:
    script = Script(
        {"facebook": [call("search_facebook_ads", {"keyword_or_url": "meal kit"}), echo()]}
    )
    deps = make_deps(script.model)
    deps.shared_filters = SharedFilters(hours_back=24)  # "compare ... today" across platforms

    result = await facebook_agent.run('"meal kit" ads today', deps=deps)

    [run] = apify.runs_started
    assert run.run_input["period"] == "last24h"
    assert "(limit 50, last 24h)" in result.output


def ads_running_longer_down_the_list(count: int) -> list[dict]:
    """`count` inactive ads in the Ad Library's order; ad `i` ran `i + 1` days."""
    start = 1_700_000_000
    return [
        facebook_ad(
            ad_archive_id=str(1000 + i),
            ad_library_url=f"https://www.facebook.com/ads/library/?id={1000 + i}",
            is_active=False,
            start_date=start,
            end_date=start + (i + 1) * 86_400,
        )
        for i in range(count)
    ]


def serve_like_the_actor(apify: ApifyFake, ads: list[dict]) -> None:
    """Serve what the actor would: the first `count` ads."""
    apify.set_items(
        "curious_coder/facebook-ads-library-scraper",
        lambda _a, run_input: ads[: run_input["count"]],
    )


def shown_ads(output: str) -> list[int]:
    return [int(i) - 1000 for i in re.findall(r"library/\?id=(\d+)", output)]


async def test_top_five_ads_are_the_longest_running_of_a_pool(make_deps, apify: ApifyFake) -> None:
    serve_like_the_actor(apify, ads_running_longer_down_the_list(60))
    args = {"keyword_or_url": "meal kit", "count": 5}
    script = Script({"facebook": [call("search_facebook_ads", args), echo()]})

    result = await facebook_agent.run("top 5 meal kit ads", deps=make_deps(script.model))

    [run] = apify.runs_started
    assert run.run_input["count"] == 50
    assert "search 'meal kit' (limit 5, last 720h): 5 ads (0 active, 5 inactive)" in result.output
    assert shown_ads(result.output) == [49, 48, 47, 46, 45]  # 50, 49, ... days running


async def test_a_pages_five_ads_are_asked_for_as_five(make_deps, apify: ApifyFake) -> None:
    serve_like_the_actor(apify, ads_running_longer_down_the_list(60))
    args = {"page": "HelloFresh", "count": 5}
    script = Script({"facebook": [call("scrape_facebook_page_ads", args), echo()]})

    result = await facebook_agent.run("5 of HelloFresh's ads", deps=make_deps(script.model))

    [run] = apify.runs_started
    assert run.run_input["count"] == 5
    assert sorted(shown_ads(result.output)) == [0, 1, 2, 3, 4]
