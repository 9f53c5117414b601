"""The YouTube specialist: Shorts-first searches with the original product's defaults."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from tests.agent.support import Script, call, echo
from tests.fakes.apify import ApifyFake
from tests.platforms.payloads import youtube_video
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


async def test_top_five_shorts_are_the_five_most_viewed_of_a_pool(
    make_deps, apify: ApifyFake
) -> None:
    # what the actor returns: the first maxResultsShorts Shorts; every fourth one is viral
    shorts = [
        youtube_video(
            id=f"short{i:03d}",
            url=f"https://www.youtube.com/shorts/short{i:03d}",
            viewCount=200_000 + i * 1_000 if i % 4 == 0 else 8_000,
            date=datetime.now(UTC).isoformat(),
        )
        for i in range(60)
    ]
    apify.set_items(
        "streamers/youtube-scraper", lambda _a, run_input: shorts[: run_input["maxResultsShorts"]]
    )
    script = Script(
        {"youtube": [call("search_youtube", {"keywords": "cats", "max_shorts": 5}), echo()]}
    )

    result = await youtube_agent.run("top 5 cat shorts", deps=make_deps(script.model))

    [run] = apify.runs_started
    assert (run.run_input["maxResultsShorts"], run.run_input["maxResults"]) == (50, 0)
    assert "YouTube search 'cats' (limit 5, 100,000+ views" in result.output
    assert ": 5 videos, top 5 by views:" in result.output
    shown = re.findall(r"/shorts/short(\d+)", result.output)
    assert [int(i) for i in shown] == [48, 44, 40, 36, 32]
