"""The analysis specialist works from the cache the platform specialists filled."""

from __future__ import annotations

from tests.agent.support import Script, call, echo
from viraltracker_bot.agent.agents.analysis_agent import analysis_agent
from viraltracker_bot.agent.dependencies import CachedResult, ResultCache
from viraltracker_bot.platforms.models import Platform, PlatformQuery


def _cache(make_post) -> ResultCache:
    tweets = [make_post(views=1_000 + i * 10, text=f"plain tweet {i}") for i in range(12)]
    tweets.append(make_post(views=900_000, text="Why does nobody talk about this? 5 tips"))
    videos = [
        make_post(platform=Platform.tiktok, views=50_000 * (i + 1), duration_s=20 + i)
        for i in range(6)
    ]
    cache = ResultCache()
    cache.put(
        Platform.twitter,
        CachedResult(query=PlatformQuery(platform=Platform.twitter, terms=["ai"]), posts=tweets),
    )
    cache.put(
        Platform.tiktok,
        CachedResult(query=PlatformQuery(platform=Platform.tiktok, terms=["ai"]), posts=videos),
    )
    return cache


async def test_analyze_viral_content_finds_the_outlier_and_attaches_a_chart(
    make_deps, make_post
) -> None:
    script = Script({"analysis": [call("analyze_viral_content", {"platform": "twitter"}), echo()]})
    deps = make_deps(script.model, cache=_cache(make_post))

    result = await analysis_agent.run("what made the viral tweets work", deps=deps)

    assert "Outliers by views" in result.output
    assert "900K views" in result.output
    assert "hooks that ask a question" in result.output.lower()
    [chart] = deps.files
    assert chart.suffix == ".png" and chart.stat().st_size > 1000
    assert deps.result_cache.last_analysis.kind == "outliers"


async def test_compare_platforms_side_by_side(make_deps, make_post) -> None:
    script = Script({"analysis": [call("compare_platforms"), echo()]})
    deps = make_deps(script.model, cache=_cache(make_post))

    result = await analysis_agent.run("compare them", deps=deps)

    assert "- Twitter/X: 13 posts" in result.output
    assert "- TikTok: 6 posts" in result.output
    assert "Highest median reach: TikTok." in result.output
    assert [p.suffix for p in deps.files] == [".png"]


async def test_generate_insights_gives_recommendations(make_deps, make_post) -> None:
    script = Script({"analysis": [call("generate_insights"), echo()]})
    deps = make_deps(script.model, cache=_cache(make_post))

    result = await analysis_agent.run("what should we post", deps=deps)

    assert "Recommendations:" in result.output
    assert deps.result_cache.last_analysis.kind == "insights"


async def test_nothing_cached_tells_the_model_to_search_first(make_deps) -> None:
    seen: list[str] = []

    def read_retry(messages, info):
        from tests.agent.support import turn_results

        seen.extend(str(r.content) for r in turn_results(messages))
        return echo()(messages, info)

    script = Script({"analysis": [call("compare_platforms"), read_retry]})
    deps = make_deps(script.model)

    await analysis_agent.run("compare", deps=deps)

    assert any("search first" in s for s in seen)
    assert deps.files == []
