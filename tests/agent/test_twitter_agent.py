"""The Twitter/X specialist: its tools through the Apify fake, the cache, analysis and exports."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta

from tests.agent.support import Script, call, echo, message, turn_results
from tests.fakes.apify import ApifyFake
from tests.platforms.payloads import tweet
from viraltracker_bot.agent.agents.twitter_agent import twitter_agent


async def test_search_twitter_runs_the_actor_and_caches_with_the_query(
    make_deps, apify: ApifyFake
) -> None:
    script = Script(
        {
            "twitter": [
                call("search_twitter", {"keywords": "bitcoin, btc", "hours_back": 48}),
                echo(),
            ]
        }
    )
    deps = make_deps(script.model)

    result = await twitter_agent.run("viral bitcoin tweets, last 2 days", deps=deps)

    [run] = apify.runs_started
    assert run.actor_id == "apidojo/tweet-scraper"
    assert "bitcoin OR btc" in run.run_input["searchTerms"][0]
    cached = deps.result_cache.last_twitter_query
    assert cached is not None and cached.posts
    assert cached.query.terms == ["bitcoin", "btc"] and cached.query.hours_back == 48
    views = [p.views or 0 for p in cached.posts]
    assert views == sorted(views, reverse=True)  # cached in the order the tool listed them
    assert "Twitter/X search 'bitcoin, btc'" in result.output
    assert cached.posts[0].url in result.output


async def test_scrape_twitter_user_asks_for_that_timeline(make_deps, apify: ApifyFake) -> None:
    script = Script({"twitter": [call("scrape_twitter_user", {"handle": "@saylor"}), echo()]})
    deps = make_deps(script.model)

    await twitter_agent.run("what has @saylor tweeted", deps=deps)

    [run] = apify.runs_started
    assert "from:saylor" in run.run_input["searchTerms"][0]
    assert deps.result_cache.last_twitter_query.query.kind == "user"


async def test_get_top_tweets_reads_what_earlier_searches_stored(
    make_deps, apify: ApifyFake
) -> None:
    first = Script({"twitter": [call("search_twitter", {"keywords": "bitcoin"}), echo()]})
    await twitter_agent.run("bitcoin", deps=make_deps(first.model))
    searched = apify.run_count

    script = Script({"twitter": [call("get_top_tweets", {"sort": "likes", "limit": 3}), echo()]})
    deps = make_deps(script.model)
    result = await twitter_agent.run("top 3 stored tweets by likes", deps=deps)

    assert apify.run_count == searched  # no new scraping
    cached = deps.result_cache.last_twitter_query
    assert cached is not None and cached.source == "database"
    assert len(cached.posts) == 3
    likes = [p.likes or 0 for p in cached.posts]
    assert likes == sorted(likes, reverse=True)
    assert "by likes" in result.output


async def test_stored_tweets_by_likes_are_exported_in_the_order_shown(
    make_deps, make_post, db
) -> None:
    from viraltracker_bot.storage.posts import upsert_posts

    # (views, likes): by likes the order is 1, 3, 4, 2; by views it is 2, 3, 4, 1
    figures = [(1_000, 900), (9_000, 100), (5_000, 500), (3_000, 300)]
    tweets = [make_post(views=views, likes=likes) for views, likes in figures]
    async with db.transaction() as session:
        await upsert_posts(session, tweets)
    script = Script(
        {
            "twitter": [
                call("get_top_tweets", {"sort": "likes", "limit": 4}),
                call("export_tweets", {"format": "csv", "limit": 2}),
                echo(),
            ]
        }
    )
    deps = make_deps(script.model)

    result = await twitter_agent.run("top stored tweets by likes, export 2", deps=deps)

    assert "4 tweets, top 4 by likes:" in result.output
    [path] = deps.files
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["likes"] for r in rows] == ["900", "500"]


async def test_analyze_tweet_explains_from_hook_format_timing_and_engagement(make_deps) -> None:
    script = Script(
        {
            "twitter": [
                call("search_twitter", {"keywords": "bitcoin"}),
                call("analyze_tweet", {"index": 2}),
                echo(),
            ]
        }
    )
    deps = make_deps(script.model)

    result = await twitter_agent.run("why did the second tweet do well", deps=deps)

    second = deps.result_cache.last_twitter_query.posts[1]
    for fact in ("Hook:", "Format:", "Timing:", "Engagement:", "engagement rate"):
        assert fact in result.output
    assert f"Tweet 2. @{second.author}" in result.output


async def test_analyze_tweet_without_results_asks_the_model_to_search_first(make_deps) -> None:
    script = Script({"twitter": [call("analyze_tweet", {"index": 1}), echo()]})
    deps = make_deps(script.model)

    await twitter_agent.run("analyze tweet 1", deps=deps)

    last_turn = script.requests[-1]
    assert last_turn == ("twitter", 1)  # the model was asked again, told why
    assert deps.result_cache.last_twitter_query is None and deps.files == []


async def test_a_retry_tells_the_model_what_to_do(make_deps) -> None:
    seen: list[str] = []

    def read(messages, info):
        seen.extend(str(r.content) for r in turn_results(messages))
        return echo()(messages, info)

    script = Script({"twitter": [call("analyze_tweet", {"index": 1}), read]})
    await twitter_agent.run("analyze tweet 1", deps=make_deps(script.model))

    assert any("no Twitter/X results" in s and "search first" in s for s in seen)


async def test_export_tweets_writes_a_csv_with_the_cached_posts(make_deps) -> None:
    script = Script(
        {
            "twitter": [
                call("search_twitter", {"keywords": "bitcoin"}),
                call("export_tweets", {"format": "csv", "limit": 5}),
                echo(),
            ]
        }
    )
    deps = make_deps(script.model)

    result = await twitter_agent.run("bitcoin tweets as csv", deps=deps)

    [path] = deps.files
    assert path.suffix == ".csv" and path.parent == deps.settings.export_dir.resolve()
    rows = list(csv.reader(path.open(encoding="utf-8")))
    urls = {cell for row in rows for cell in row}
    top5 = deps.result_cache.last_twitter_query.posts[:5]
    assert all(p.url in urls for p in top5)
    assert "(attached)" in result.output


def serve_tweets(apify: ApifyFake, views: list[int]) -> None:
    """The scraper returns one recent tweet per view count, in a shuffled order."""
    posted = f"{datetime.now(UTC) - timedelta(hours=1):%a %b %d %H:%M:%S +0000 %Y}"
    rows = [
        tweet(id=str(1000 + i), url=None, viewCount=v, createdAt=posted)
        for i, v in enumerate(views)
    ]
    apify.set_items("apidojo/tweet-scraper", rows)


async def test_viral_keeps_the_tweets_over_the_viral_minimum_when_enough_reach_it(
    make_deps, apify: ApifyFake
) -> None:
    serve_tweets(apify, [5_000, 450_000, 120_000, 90_000, 2_000_000, 300_000, 100_000, 40_000])
    script = Script(
        {"twitter": [call("search_twitter", {"keywords": "bitcoin", "viral": True}), echo()]}
    )
    deps = make_deps(script.model)

    result = await twitter_agent.run("find viral bitcoin tweets", deps=deps)

    cached = deps.result_cache.last_twitter_query
    assert [p.views for p in cached.posts] == [2_000_000, 450_000, 300_000, 120_000, 100_000]
    assert cached.query.min_views == 100_000  # the export states it too
    assert "viral: ranked by views, keeping those with 100,000+ views" in result.output
    assert "3 had fewer than 100,000 views" in result.output


async def test_viral_never_empties_the_tweets_it_ranks_them_by_views(
    make_deps, apify: ApifyFake
) -> None:
    serve_tweets(apify, [5_000, 45_000, 12_000, 150_000, 800])
    script = Script(
        {"twitter": [call("search_twitter", {"keywords": "bitcoin", "viral": True}), echo()]}
    )
    deps = make_deps(script.model)

    result = await twitter_agent.run("find viral bitcoin tweets", deps=deps)

    cached = deps.result_cache.last_twitter_query
    assert [p.views for p in cached.posts] == [150_000, 45_000, 12_000, 5_000, 800]
    assert cached.query.min_views is None
    assert "viral: ranked by views; 1 of the 5 tweets reached 100,000 views" in result.output
    assert '"over 10k views"' in result.output


async def test_the_offline_router_passes_viral_on(make_conversation, apify: ApifyFake) -> None:
    serve_tweets(apify, [5_000, 45_000, 12_000])

    reply = await make_conversation(None).handle(message("find viral bitcoin tweets"))

    assert "viral: ranked by views; none of the 3 tweets reached 100,000 views" in reply.text


async def test_no_tweets_left_says_which_filter_and_how_to_widen(
    make_deps, apify: ApifyFake
) -> None:
    serve_tweets(apify, [5_000, 45_000, 12_000])
    script = Script(
        {
            "twitter": [
                call("search_twitter", {"keywords": "bitcoin", "min_views": 1_000_000}),
                echo(),
            ]
        }
    )

    result = await twitter_agent.run("bitcoin tweets, 1M+ views", deps=make_deps(script.model))

    assert "3 tweets found, but none passed the filters" in result.output
    assert "3 had fewer than 1,000,000 views" in result.output
    assert 'ask for a lower view minimum ("over 100k views" or "any views")' in result.output


async def test_a_search_that_finds_nothing_says_so_and_suggests_more(
    make_deps, apify: ApifyFake
) -> None:
    apify.set_items("apidojo/tweet-scraper", [])
    script = Script({"twitter": [call("search_twitter", {"keywords": "zzqx"}), echo()]})

    result = await twitter_agent.run("zzqx tweets", deps=make_deps(script.model))

    assert "the search itself found no tweets in the last 24h" in result.output
    assert "broader keywords" in result.output and '"last 7 days"' in result.output


async def test_no_stored_tweets_says_to_search_first(make_deps) -> None:
    script = Script({"twitter": [call("get_top_tweets", {"keyword": "zzqx"}), echo()]})

    result = await twitter_agent.run("top stored zzqx tweets", deps=make_deps(script.model))

    assert 'none stored containing "zzqx"' in result.output
    assert 'search first ("find zzqx tweets")' in result.output
