"""The analysis specialist works from the cache the platform specialists filled."""

from __future__ import annotations

import json

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


def _put(cache: ResultCache, platform: Platform, posts, **query) -> None:
    cache.put(
        platform,
        CachedResult(query=PlatformQuery(platform=platform, terms=["ai"], **query), posts=posts),
    )


async def test_compare_says_when_the_results_were_not_searched_alike(make_deps, make_post) -> None:
    cache = ResultCache()
    cache.begin_turn()
    _put(cache, Platform.twitter, [make_post() for _ in range(5)], hours_back=24)
    tiktoks = [make_post(platform=Platform.tiktok, views=200_000) for _ in range(2)]
    _put(cache, Platform.tiktok, tiktoks, hours_back=240, min_views=100_000)
    script = Script({"analysis": [call("compare_platforms", {"chart": False}), echo()]})

    result = await analysis_agent.run("compare them", deps=make_deps(script.model, cache=cache))

    assert "Not like for like" in result.output
    assert "Twitter/X: last 24h, any views" in result.output
    assert "TikTok: last 240h, 100,000+ views" in result.output


async def test_compare_says_a_likes_minimum_held_on_one_platform_only(make_deps, make_post) -> None:
    """'over 10k likes' filters tweets (min_faves) and nothing else: the same window and views
    are no like for like when only one side kept its most liked posts."""
    cache = ResultCache()
    cache.begin_turn()
    tweets = [make_post(likes=20_000) for _ in range(5)]
    _put(cache, Platform.twitter, tweets, hours_back=168, options={"min_likes": 10_000})
    _put(
        cache,
        Platform.tiktok,
        [make_post(platform=Platform.tiktok) for _ in range(4)],
        hours_back=168,
    )
    script = Script({"analysis": [call("compare_platforms", {"chart": False}), echo()]})

    result = await analysis_agent.run("compare them", deps=make_deps(script.model, cache=cache))

    assert "Not like for like" in result.output
    assert "Twitter/X: last 168h, any views, 10,000+ likes" in result.output
    assert "TikTok: last 168h, any views, any likes" in result.output
    assert "only Twitter/X can filter by likes" in result.output


async def test_compare_takes_the_latest_search_not_stale_platforms(make_deps, make_post) -> None:
    cache = ResultCache()
    cache.begin_turn()  # an old YouTube search about something else
    _put(cache, Platform.youtube, [make_post(platform=Platform.youtube) for _ in range(3)])
    cache.begin_turn()  # then one message searching Twitter and TikTok alike
    _put(cache, Platform.twitter, [make_post() for _ in range(4)], hours_back=168)
    tiktoks = [make_post(platform=Platform.tiktok) for _ in range(6)]
    _put(cache, Platform.tiktok, tiktoks, hours_back=168)
    script = Script({"analysis": [call("compare_platforms", {"chart": False}), echo()]})

    result = await analysis_agent.run("compare", deps=make_deps(script.model, cache=cache))

    assert "- Twitter/X: 4 posts" in result.output and "- TikTok: 6 posts" in result.output
    assert "YouTube" not in result.output
    assert "Not like for like" not in result.output


async def test_export_results_puts_every_platform_of_the_latest_search_in_one_file(
    make_deps, make_post
) -> None:
    cache = ResultCache()
    cache.begin_turn()
    _put(cache, Platform.youtube, [make_post(platform=Platform.youtube)])  # an earlier message
    cache.begin_turn()
    _put(cache, Platform.twitter, [make_post(views=5_000) for _ in range(3)], hours_back=168)
    tiktoks = [make_post(platform=Platform.tiktok, views=90_000) for _ in range(2)]
    _put(cache, Platform.tiktok, tiktoks, hours_back=168)
    script = Script({"analysis": [call("export_results", {"format": "json"}), echo()]})
    deps = make_deps(script.model, cache=cache)

    result = await analysis_agent.run("export those as json", deps=deps)

    [path] = deps.files
    document = json.loads(path.read_text(encoding="utf-8"))
    assert [item["platform"] for item in document["items"]] == ["tiktok"] * 2 + ["twitter"] * 3
    assert {q["platform"] for q in document["queries"]} == {"twitter", "tiktok"}
    assert "5 posts (2 TikTok, 3 Twitter/X) in one file with a platform column" in result.output


def _older_search_about_something_else(make_post) -> ResultCache:
    """TikTok videos about cats, then (a later message) tweets about bitcoin."""
    cache = ResultCache()
    cache.begin_turn()
    cats = [make_post(platform=Platform.tiktok, views=900_000 + i) for i in range(6)]
    cache.put(
        Platform.tiktok,
        CachedResult(query=PlatformQuery(platform=Platform.tiktok, terms=["cats"]), posts=cats),
    )
    cache.begin_turn()
    bitcoin = [make_post(views=1_000 + i * 10) for i in range(8)]
    cache.put(
        Platform.twitter,
        CachedResult(
            query=PlatformQuery(platform=Platform.twitter, terms=["bitcoin"]), posts=bitcoin
        ),
    )
    return cache


async def test_analysis_of_these_leaves_out_an_older_search_about_something_else(
    make_deps, make_post
) -> None:
    cache = _older_search_about_something_else(make_post)
    script = Script({"analysis": [call("analyze_viral_content", {"chart": False}), echo()]})

    result = await analysis_agent.run(
        "what do these have in common?", deps=make_deps(script.model, cache=cache)
    )

    assert "among 8 cached posts from Twitter/X:" in result.output
    assert "TikTok" not in result.output


async def test_insights_leave_out_an_older_search_about_something_else(
    make_deps, make_post
) -> None:
    cache = _older_search_about_something_else(make_post)
    script = Script({"analysis": [call("generate_insights"), echo()]})

    result = await analysis_agent.run("insights", deps=make_deps(script.model, cache=cache))

    assert "- Twitter/X: 8 posts" in result.output
    assert "TikTok" not in result.output


async def test_insights_keep_an_earlier_platform_searched_for_the_same_subject(
    make_deps, make_post
) -> None:
    cache = _older_search_about_something_else(make_post)
    cache.begin_turn()  # "now compare with YouTube": YouTube alone, about cats too
    videos = [make_post(platform=Platform.youtube, views=5_000 + i) for i in range(3)]
    query = PlatformQuery(platform=Platform.youtube, terms=["Cats"])
    cache.put(Platform.youtube, CachedResult(query=query, posts=videos))
    script = Script({"analysis": [call("generate_insights"), echo()]})

    result = await analysis_agent.run("insights", deps=make_deps(script.model, cache=cache))

    assert "- YouTube: 3 posts" in result.output and "- TikTok: 6 posts" in result.output
    assert "Twitter/X" not in result.output


async def test_median_duration_compares_videos_with_videos_not_with_tweets(
    make_deps, make_post
) -> None:
    cache = ResultCache()
    cache.begin_turn()  # one search on TikTok and Twitter: tweets have no duration
    videos = [make_post(platform=Platform.tiktok, views=2_000_000, duration_s=15) for _ in range(2)]
    videos += [make_post(platform=Platform.tiktok, views=20_000, duration_s=60) for _ in range(4)]
    _put(cache, Platform.tiktok, videos)
    _put(cache, Platform.twitter, [make_post(views=10_000) for _ in range(12)])
    script = Script({"analysis": [call("analyze_viral_content", {"chart": False}), echo()]})

    result = await analysis_agent.run("what stands out", deps=make_deps(script.model, cache=cache))

    assert "2 standout posts of 18" in result.output
    assert "Median duration: standouts 15s vs others 60s." in result.output


async def test_patterns_of_posts_without_view_counts_say_so(make_deps, make_post) -> None:
    cache = ResultCache()
    cache.begin_turn()  # older tweets: the platform shows no view count for them
    _put(cache, Platform.twitter, [make_post(views=None, likes=10 * i) for i in range(5)])
    script = Script({"analysis": [call("analyze_viral_content", {"chart": False}), echo()]})

    result = await analysis_agent.run("what stands out", deps=make_deps(script.model, cache=cache))

    assert "None of the 5 posts has a view count" in result.output
