"""The orchestrator routes from the catalog: handoffs, concurrent fan-out, pre-routing, limits."""

from __future__ import annotations

import time

import pytest
from pydantic_ai.exceptions import UsageLimitExceeded
from pydantic_ai.usage import UsageLimits

from tests.agent.support import Script, call, echo, text
from tests.fakes.apify import ApifyFake
from viraltracker_bot.agent import registry
from viraltracker_bot.agent.dependencies import CachedResult, ResultCache
from viraltracker_bot.agent.orchestrator import answer, pre_route, which_list
from viraltracker_bot.platforms.models import Platform, PlatformQuery

SEARCHES = {
    "twitter": ("search_twitter", {"keywords": "bitcoin"}),
    "tiktok": ("search_tiktok", {"keywords": "bitcoin", "min_views": 0, "max_followers": 0}),
    "youtube": ("search_youtube", {"keywords": "bitcoin", "min_views": 0, "max_subscribers": 0}),
    "facebook": ("search_facebook_ads", {"keyword_or_url": "bitcoin"}),
}


def specialist_script(name: str) -> list:
    tool, args = SEARCHES[name]
    return [call(tool, args), echo(f"[{name}] ")]


async def test_routing_tools_come_from_the_catalog(make_deps) -> None:
    offered: set[str] = set()

    def look(messages, info):
        offered.update(t.name for t in info.output_tools)
        return text("hello")

    script = Script({"orchestrator": [look]})
    reply = await answer("hello there", make_deps(script.model))

    assert reply == "hello"
    routing = {f"handoff_to_{e.name}" for e in registry.CATALOG} | {"ask_specialists"}
    assert routing <= offered
    assert offered - routing == {"schedule_digest", "list_digests", "remove_digest"}


async def test_single_platform_answer_needs_one_orchestrator_request(make_deps) -> None:
    script = Script(
        {
            "orchestrator": [call("handoff_to_tiktok", {"request": "viral bitcoin videos"})],
            "tiktok": specialist_script("tiktok"),
        }
    )
    deps = make_deps(script.model)

    reply = await answer("what's viral about bitcoin right now? videos please", deps)

    assert reply.startswith("[tiktok] TikTok search 'bitcoin'")
    assert script.count("orchestrator") == 1  # the specialist's answer went straight to the user
    assert script.count("tiktok") == 2
    assert deps.result_cache.last_tiktok_query is not None
    assert deps.result_cache.last_tiktok_query.query.terms == ["bitcoin"]


async def test_an_explicit_platform_skips_the_orchestrator_model(make_deps) -> None:
    script = Script({"twitter": specialist_script("twitter")})  # no orchestrator script
    deps = make_deps(script.model)

    reply = await answer("top tweets about bitcoin", deps)

    assert "[twitter]" in reply
    assert script.count("orchestrator") == 0
    assert [r.agent for r in deps.run_log] == ["twitter"]
    assert script.prompts[0] == ("twitter", "top tweets about bitcoin")


async def test_digest_requests_are_not_taken_for_searches(make_deps) -> None:
    request = "every weekday at 9am post the top new TikToks about #ai here"
    script = Script({"orchestrator": [call("schedule_digest", {"request": request})]})
    deps = make_deps(script.model)  # no TikTok script: the specialist may not be asked

    scheduled = await answer(request, deps)
    paused = await answer("pause digest 1", deps)

    assert scheduled.startswith("Scheduled digest #1")
    assert "Paused digest #1" in paused
    assert script.requests == [("orchestrator", 0)]  # pausing needed no model at all


def test_pre_route_only_takes_plain_single_platform_requests() -> None:
    assert pre_route("find viral bitcoin tweets").name == "twitter"
    assert pre_route("#productivity tiktoks this week").name == "tiktok"
    assert pre_route("compare bitcoin on twitter and tiktok") is None
    assert pre_route("bitcoin on youtube, compared with last week") is None
    assert pre_route("what is going viral about bitcoin") is None
    assert pre_route("give me insights on those tweets") is None


def test_follow_ups_on_the_latest_results_skip_the_model_too(make_post) -> None:
    cache = ResultCache()
    assert pre_route("export those as csv", cache) is None  # nothing to refer to
    for platform in (Platform.twitter, Platform.tiktok):  # one message each; tiktok the newest
        cache.begin_turn()
        query = PlatformQuery(platform=platform, terms=["ai"])
        cache.put(platform, CachedResult(query=query, posts=[make_post(platform=platform)]))

    assert pre_route("export those as csv", cache).name == "tiktok"
    assert pre_route("why did #2 do so well?", cache).name == "tiktok"
    assert pre_route("export the tweets as json", cache).name == "twitter"
    assert pre_route("what do they have in common?", cache) is None
    cache.begin_turn()  # one message searching both: "those" are both platforms' results
    for platform in (Platform.twitter, Platform.tiktok):
        query = PlatformQuery(platform=platform, terms=["ai"])
        cache.put(platform, CachedResult(query=query, posts=[make_post(platform=platform)]))
    assert pre_route("export those as csv", cache).name == "analysis"
    assert pre_route("export the tweets as json", cache).name == "twitter"


def test_a_bare_number_after_a_multi_platform_reply_is_asked_about(make_post) -> None:
    cache = ResultCache()
    cache.begin_turn()  # one message listed twitter (3 posts) and tiktok (2), each from 1
    for platform, n in ((Platform.twitter, 3), (Platform.tiktok, 2)):
        posts = [make_post(platform=platform, author=f"{platform.value}{i}") for i in range(n)]
        cache.put(platform, CachedResult(query=PlatformQuery(platform=platform), posts=posts))

    question = which_list("why did #2 do so well?", cache)

    assert pre_route("why did #2 do so well?", cache) is None  # not whichever finished last
    assert question is not None and "which #2" in question
    assert "*Twitter/X* 2. @twitter1" in question and "*TikTok* 2. @tiktok1" in question
    assert "“twitter #2” or “tiktok #2”" in question
    # only twitter showed a #3; a named platform needs no question
    assert which_list("why did #3 do so well?", cache) is None
    assert pre_route("why did #3 do so well?", cache).name == "twitter"
    assert which_list("why did tiktok #2 do so well?", cache) is None
    assert pre_route("why did tiktok #2 do so well?", cache).name == "tiktok"


def fan_out_script(keyword: str) -> Script:
    tasks = [{"agent": name, "request": f"{keyword} on {name}"} for name in SEARCHES]
    steps = {}
    for name, (tool, args) in SEARCHES.items():
        key = "keyword_or_url" if name == "facebook" else "keywords"
        steps[name] = [call(tool, {**args, key: keyword}), echo(f"[{name}] ")]
    return Script({"orchestrator": [call("ask_specialists", {"tasks": tasks})], **steps})


async def test_four_platform_fan_out_runs_concurrently(make_deps, apify: ApifyFake) -> None:
    # A first fan-out with instant actors opens the database and HTTP connections.
    await answer("warm up everywhere", make_deps(fan_out_script("warm up").model))
    apify.latency_s = 1.0
    script = fan_out_script("bitcoin")
    deps = make_deps(script.model)

    started = time.perf_counter()
    reply = await answer("bitcoin everywhere", deps)
    elapsed = time.perf_counter() - started

    assert apify.run_count == 8
    assert elapsed < 2.5, f"4 actors of 1 s each took {elapsed:.2f} s: not concurrent"
    for platform in Platform:
        assert f"*{platform.label}*" in reply
        assert deps.result_cache.get(platform) is not None
    assert script.count("orchestrator") == 1


async def test_fan_out_then_analysis_compares_what_the_specialists_cached(make_deps) -> None:
    tasks = [{"agent": "twitter", "request": "bitcoin"}, {"agent": "tiktok", "request": "bitcoin"}]
    script = Script(
        {
            "orchestrator": [
                call("ask_specialists", {"tasks": tasks, "then_analyze": "compare them"})
            ],
            "twitter": specialist_script("twitter"),
            "tiktok": specialist_script("tiktok"),
            "analysis": [call("compare_platforms", {"chart": True}), echo("[analysis] ")],
        }
    )
    deps = make_deps(script.model)

    reply = await answer("compare bitcoin on twitter and tiktok", deps)

    assert "*Analysis*" in reply
    assert "Twitter/X:" in reply and "TikTok:" in reply and "median" in reply
    assert [p.suffix for p in deps.files] == [".png"]
    assert deps.result_cache.last_analysis is not None
    assert deps.result_cache.last_analysis.kind == "comparison"


async def test_one_failed_platform_does_not_sink_the_others(make_deps, apify: ApifyFake) -> None:
    apify.end_runs_with("FAILED")
    tasks = [{"agent": "twitter", "request": "bitcoin"}, {"agent": "youtube", "request": "bitcoin"}]
    script = Script(
        {
            "orchestrator": [call("ask_specialists", {"tasks": tasks})],
            "twitter": specialist_script("twitter"),
            "youtube": specialist_script("youtube"),
        }
    )
    deps = make_deps(script.model)

    reply = await answer("bitcoin on twitter and youtube", deps)

    assert "Could not get results" in reply
    assert "failed" in reply
    assert "[twitter]" in reply or "[youtube]" in reply


async def test_the_seed_import_path_still_runs_the_orchestrator(make_deps) -> None:
    from viraltracker_bot.agent.agent import agent

    script = Script(
        {
            "orchestrator": [call("handoff_to_youtube", {"request": "sourdough shorts"})],
            "youtube": specialist_script("youtube"),
        }
    )
    deps = make_deps(script.model)

    result = await agent.run("sourdough", deps=deps)

    assert result.output.startswith("[youtube] YouTube search")


async def test_delegation_counts_usage_against_the_message_limit(make_deps) -> None:
    script = Script(
        {
            "orchestrator": [call("handoff_to_twitter", {"request": "bitcoin"})],
            "twitter": specialist_script("twitter"),
        }
    )
    deps = make_deps(script.model)
    deps.usage_limits = UsageLimits(request_limit=2)

    with pytest.raises(UsageLimitExceeded):
        await answer("what is viral about bitcoin", deps)
    assert script.count("twitter") == 1  # the third request (twitter's answer) was refused


def compare_script(**filters) -> Script:
    """Twitter and TikTok compared; each specialist searches with its own single-platform
    defaults (24 h for tweets; 100K+ views, <=50K followers, 10 days for TikToks)."""
    tasks = [{"agent": "twitter", "request": "bitcoin"}, {"agent": "tiktok", "request": "bitcoin"}]
    return Script(
        {
            "orchestrator": [
                call("ask_specialists", {"tasks": tasks, "then_analyze": "compare", **filters})
            ],
            "twitter": [call("search_twitter", {"keywords": "bitcoin"}), echo("[twitter] ")],
            "tiktok": [call("search_tiktok", {"keywords": "bitcoin"}), echo("[tiktok] ")],
            "analysis": [call("compare_platforms", {"chart": False}), echo("[analysis] ")],
        }
    )


def searched_with(deps) -> dict[str, tuple]:
    return {
        p.value: (r.query.hours_back, r.query.limit, r.query.min_views, r.query.max_followers)
        for p, r in deps.result_cache.filled().items()
    }


async def test_a_comparison_searches_every_platform_with_the_same_filters(make_deps) -> None:
    script = compare_script()
    deps = make_deps(script.model)

    reply = await answer("compare bitcoin on twitter and tiktok", deps)

    # a week on both, no viral filters on either: apples to apples
    assert searched_with(deps) == {
        "twitter": (168, 50, None, None),
        "tiktok": (168, 50, None, None),
    }
    assert reply.startswith("Searched with the same filters on every platform: last 168h")
    assert deps.result_cache.last_tiktok_query.count > 1
    assert "Not like for like" not in reply
    assert deps.shared_filters is None  # only while the fan-out runs


async def test_a_comparison_applies_viral_filters_only_when_asked(make_deps) -> None:
    script = compare_script(viral=True, micro_creators=True, hours_back=72)
    deps = make_deps(script.model)

    await answer("compare viral bitcoin posts by micro-influencers on twitter and tiktok", deps)

    alike = (72, 50, 100_000, 50_000)
    assert searched_with(deps) == {"twitter": alike, "tiktok": alike}


async def test_compare_with_another_platform_uses_the_cached_results_filters(make_deps) -> None:
    first = Script(
        {"twitter": [call("search_twitter", {"keywords": "bitcoin", "hours_back": 48}), echo()]}
    )
    deps = make_deps(first.model)
    await answer("bitcoin tweets from the last 48 hours", deps)
    tasks = [{"agent": "tiktok", "request": "bitcoin"}]
    later = Script(
        {
            "orchestrator": [
                call("ask_specialists", {"tasks": tasks, "then_analyze": "compare them"})
            ],
            "tiktok": [call("search_tiktok", {"keywords": "bitcoin"}), echo()],
            "analysis": [call("compare_platforms", {"chart": False}), echo()],
        }
    )
    deps = make_deps(later.model, cache=deps.result_cache)

    reply = await answer("now compare with tiktok", deps)

    assert searched_with(deps) == {"twitter": (48, 50, None, None), "tiktok": (48, 50, None, None)}
    assert "as the results it is compared with: last 48h" in reply
    assert "- Twitter/X:" in reply and "- TikTok:" in reply
