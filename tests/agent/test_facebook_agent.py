"""The Facebook Ad Library specialist: keyword and page searches, judged by days running."""

from __future__ import annotations

import csv

from tests.agent.support import Script, call, echo
from tests.fakes.apify import ApifyFake
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
