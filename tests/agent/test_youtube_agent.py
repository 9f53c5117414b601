"""The YouTube specialist: Shorts-first searches with the original product's defaults."""

from __future__ import annotations

from tests.agent.support import Script, call, echo
from tests.fakes.apify import ApifyFake
from viraltracker_bot.agent.agents.youtube_agent import youtube_agent


async def test_search_youtube_asks_for_100_shorts_and_no_long_videos(
    make_deps, apify: ApifyFake
) -> None:
    script = Script({"youtube": [call("search_youtube", {"keywords": "sourdough, bread"}), echo()]})
    deps = make_deps(script.model)

    result = await youtube_agent.run("viral sourdough shorts", deps=deps)

    [run] = apify.runs_started
    assert run.actor_id == "streamers/youtube-scraper"
    assert run.run_input["maxResultsShorts"] == 100
    assert run.run_input.get("maxResults", 0) == 0
    query = deps.result_cache.last_youtube_query.query
    assert query.terms == ["sourdough", "bread"]
    assert (query.min_views, query.max_followers) == (100_000, 50_000)
    assert "YouTube search 'sourdough, bread'" in result.output


async def test_days_back_and_export_markdown(make_deps, apify: ApifyFake) -> None:
    script = Script(
        {
            "youtube": [
                call("search_youtube", {"keywords": "sourdough", "days_back": 7, "min_views": 0}),
                call("export_youtube_videos", {"format": "markdown"}),
                echo(),
            ]
        }
    )
    deps = make_deps(script.model)

    await youtube_agent.run("sourdough this week as markdown", deps=deps)

    assert apify.runs_started[0].run_input.get("dateFilter") == "week"
    [path] = deps.files
    assert path.suffix == ".md" and "sourdough" in path.read_text(encoding="utf-8")
