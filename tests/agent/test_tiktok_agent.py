"""The TikTok specialist: keyword, hashtag and creator searches; video and batch analysis."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from tests.agent.support import Script, call, echo
from tests.fakes.apify import ApifyFake
from tests.platforms.payloads import tiktok_video
from viraltracker_bot.agent.agents.tiktok_agent import tiktok_agent


async def test_hashtag_search_uses_the_viral_defaults(make_deps, apify: ApifyFake) -> None:
    script = Script(
        {"tiktok": [call("search_tiktok_hashtag", {"hashtag": "#productivity"}), echo()]}
    )
    deps = make_deps(script.model)

    result = await tiktok_agent.run("#productivity", deps=deps)

    [run] = apify.runs_started
    assert run.actor_id == "clockworks/tiktok-scraper"
    assert run.run_input["hashtags"] == ["productivity"]
    query = deps.result_cache.last_tiktok_query.query
    assert (query.kind, query.min_views, query.max_followers) == ("hashtag", 100_000, 50_000)
    assert query.hours_back == 10 * 24
    for post in deps.result_cache.last_tiktok_query.posts:
        assert post.views >= 100_000 and post.author_followers <= 50_000
    assert "TikTok hashtag '#productivity'" in result.output


async def test_zero_lifts_the_viral_filters(make_deps) -> None:
    script = Script(
        {
            "tiktok": [
                call(
                    "search_tiktok", {"keywords": "sourdough", "min_views": 0, "max_followers": 0}
                ),
                echo(),
            ]
        }
    )
    deps = make_deps(script.model)

    await tiktok_agent.run("all sourdough videos", deps=deps)

    query = deps.result_cache.last_tiktok_query.query
    assert query.min_views is None and query.max_followers is None


async def test_scrape_user_then_analyse_one_video_and_the_batch(make_deps, apify) -> None:
    script = Script(
        {
            "tiktok": [
                call("scrape_tiktok_user", {"username": "@chef"}),
                call("analyze_tiktok_video", {"index": 1}),
                call("analyze_tiktok_batch"),
                echo(),
            ]
        }
    )
    deps = make_deps(script.model)

    result = await tiktok_agent.run("what works for @chef", deps=deps)

    assert apify.runs_started[0].run_input["profiles"][0].endswith("@chef")
    assert "Video 1." in result.output and "Hook:" in result.output
    assert "Patterns in" in result.output and "standout posts" in result.output


async def test_export_tiktok_videos_as_json(make_deps) -> None:
    script = Script(
        {
            "tiktok": [
                call("search_tiktok", {"keywords": "ai tools", "min_views": 0}),
                call("export_tiktok_videos", {"format": "json"}),
                echo(),
            ]
        }
    )
    deps = make_deps(script.model)

    await tiktok_agent.run("ai tools videos as json", deps=deps)

    [path] = deps.files
    assert path.suffix == ".json" and path.read_text(encoding="utf-8").lstrip().startswith("{")


def serve_videos(apify: ApifyFake, rows: list[tuple[int, int]]) -> None:
    """One recent video per (views, creator followers)."""
    posted = int(time.time()) - 3600
    videos = [
        tiktok_video(
            id=str(7300000000000000000 + i),
            webVideoUrl=None,
            playCount=views,
            createTime=posted,
            createTimeISO=None,
            authorMeta={"name": f"creator{i}", "fans": fans},
        )
        for i, (views, fans) in enumerate(rows)
    ]
    apify.set_items("clockworks/tiktok-scraper", videos)


async def test_few_viral_videos_left_says_what_the_filters_removed(
    make_deps, apify: ApifyFake
) -> None:
    serve_videos(apify, [(1_400_000, 3_000), (90_000, 2_000), (50_000, 9_000), (500_000, 900_000)])
    script = Script({"tiktok": [call("search_tiktok", {"keywords": "bitcoin"}), echo()]})
    deps = make_deps(script.model)

    result = await tiktok_agent.run("find viral bitcoin tiktoks", deps=deps)

    # the original product's defaults for one platform: viral videos by small creators
    query = deps.result_cache.last_tiktok_query.query
    assert (query.min_views, query.max_followers, query.hours_back) == (100_000, 50_000, 240)
    assert "(limit 50, last 240h, 100,000+ views, authors ≤50,000 followers): 1 video:" in (
        result.output
    )
    assert "the filters removed 3 of the 4 videos found" in result.output
    assert "2 had fewer than 100,000 views" in result.output
    assert "1 came from authors with more than 50,000 followers" in result.output
    assert '"over 10k views" or "any views"' in result.output
    assert '"under 1m followers" or "any size"' in result.output


async def test_a_creator_with_no_videos_gets_a_check_the_handle_reply(
    make_deps, apify: ApifyFake
) -> None:
    apify.set_items("clockworks/tiktok-scraper", [])
    script = Script({"tiktok": [call("scrape_tiktok_user", {"username": "@nobody_zzqx"}), echo()]})

    result = await tiktok_agent.run("@nobody_zzqx tiktoks", deps=make_deps(script.model))

    assert "TikTok user 'nobody_zzqx'" in result.output
    assert "the search itself found no videos" in result.output
    assert "Check the handle's spelling" in result.output


def serve_like_the_actor(apify: ApifyFake, videos: list[dict]) -> None:
    """Serve what clockworks/tiktok-scraper would: the first `resultsPerPage` videos."""
    apify.set_items(
        "clockworks/tiktok-scraper", lambda _actor, run_input: videos[: run_input["resultsPerPage"]]
    )


def recent_videos(count: int, views: Callable[[int], int], author: str = "") -> list[dict]:
    """`count` videos by small creators (or by `author`), newest first (one an hour), video `i`
    with `views(i)` views."""
    now = int(time.time())
    return [
        tiktok_video(
            id=str(7300000000000000000 + i),
            webVideoUrl=None,
            playCount=views(i),
            createTime=now - 3600 * (i + 1),
            createTimeISO=None,
            authorMeta={"name": author or f"creator{i}", "fans": 5_000},
        )
        for i in range(count)
    ]


def shown_videos(output: str) -> list[int]:
    """Which of `recent_videos` the reply lists, in its order."""
    return [int(v) - 7300000000000000000 for v in re.findall(r"/video/(\d+)", output)]


async def test_top_five_are_the_five_most_viewed_of_a_pool_of_fifty(
    make_deps, apify: ApifyFake
) -> None:
    # every fourth video is viral (100K+ views), the later ones the more viewed
    videos = recent_videos(60, lambda i: 100_000 + i * 1_000 if i % 4 == 0 else 5_000)
    serve_like_the_actor(apify, videos)
    script = Script({"tiktok": [call("search_tiktok", {"keywords": "cats", "count": 5}), echo()]})

    result = await tiktok_agent.run("top 5 viral tiktoks about cats", deps=make_deps(script.model))

    [run] = apify.runs_started
    assert run.run_input["resultsPerPage"] == 50  # not 5: the filters and ranking need a pool
    assert "(limit 5, last 240h, 100,000+ views, authors ≤50,000 followers): 5 videos" in (
        result.output
    )
    # the 13 viral videos among the 50 are 0, 4, ..., 48: the top 5 by views are the last five
    assert shown_videos(result.output) == [48, 44, 40, 36, 32]
    assert "the filters removed 37 of the 50 videos found" in result.output
    assert "for more, ask" not in result.output  # five were asked for, five are shown


async def test_a_creators_last_five_are_their_five_newest_not_a_pool(
    make_deps, apify: ApifyFake
) -> None:
    # older videos have more views: ranking a larger pool would show old ones
    serve_like_the_actor(apify, recent_videos(60, lambda i: 1_000 * (i + 1), author="nasa"))
    script = Script(
        {"tiktok": [call("scrape_tiktok_user", {"username": "@nasa", "count": 5}), echo()]}
    )

    result = await tiktok_agent.run("@nasa's last 5 tiktoks", deps=make_deps(script.model))

    [run] = apify.runs_started
    assert run.run_input["resultsPerPage"] == 5
    assert "TikTok user 'nasa' (limit 5): 5 videos" in result.output
    assert sorted(shown_videos(result.output)) == [0, 1, 2, 3, 4]


async def test_a_creators_last_five_leave_out_old_pinned_videos(
    make_deps, apify: ApifyFake
) -> None:
    """The actor lists a profile's pinned videos first, on top of the count asked for: pinned
    videos are often old hits, and ranking by views kept them instead of the newest five."""
    videos = recent_videos(60, lambda i: 1_000 * (i + 1), author="nasa")
    pinned = [
        {**video, "createTime": int(time.time()) - 86_400 * 300, "playCount": 9_000_000 + i}
        for i, video in enumerate(recent_videos(62, lambda i: 1, author="nasa")[60:])
    ]
    apify.set_items(
        "clockworks/tiktok-scraper",
        lambda _actor, run_input: pinned + videos[: run_input["resultsPerPage"]],
    )
    script = Script(
        {"tiktok": [call("scrape_tiktok_user", {"username": "@nasa", "count": 5}), echo()]}
    )

    result = await tiktok_agent.run("@nasa's last 5 tiktoks", deps=make_deps(script.model))

    assert "TikTok user 'nasa' (limit 5): 5 videos" in result.output
    assert sorted(shown_videos(result.output)) == [0, 1, 2, 3, 4]  # not the pinned 60 and 61


async def test_three_asked_for_and_shown_are_not_called_too_few(
    make_deps, apify: ApifyFake
) -> None:
    serve_like_the_actor(apify, recent_videos(60, lambda i: 100_000 + i if i % 4 == 0 else 5_000))
    script = Script({"tiktok": [call("search_tiktok", {"keywords": "cats", "count": 3}), echo()]})

    result = await tiktok_agent.run("top 3 viral tiktoks about cats", deps=make_deps(script.model))

    assert ": 3 videos, top 3 by views:" in result.output
    assert "the filters removed 37 of the 50 videos found" in result.output
    assert "for more, ask" not in result.output  # 13 passed: the 3 shown are the 3 asked for
