"""Twitter/X through apidojo/tweet-scraper: query builders, run input, tweet field map."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from viraltracker_bot.config import Settings
from viraltracker_bot.platforms.models import Platform, PlatformQuery, Post
from viraltracker_bot.platforms.normalise import ItemShape, dig, to_bool
from viraltracker_bot.platforms.spec import PlatformSpec, clean_terms, item_count, split_terms

MIN_ITEMS = 50
"""The actor refuses to run for fewer items than this."""


def search_query(
    keywords: str,
    hours_back: int = 24,
    limit: int = 50,
    min_views: int | None = None,
    *,
    sort: str = "Top",
    max_followers: int | None = None,
    min_likes: int | None = None,
    language: str | None = None,
    include_replies: bool = False,
    only_verified: bool = False,
    only_video: bool = False,
) -> PlatformQuery:
    """Tweets matching any of the comma-separated keywords ('btc,bitcoin') in the last hours."""
    options: dict[str, Any] = {
        "min_likes": min_likes,
        "language": language,
        "include_replies": include_replies or None,
        "only_verified": only_verified or None,
        "only_video": only_video or None,
    }
    return PlatformQuery(
        platform=Platform.twitter,
        kind="search",
        terms=split_terms(keywords),
        limit=limit,
        hours_back=hours_back,
        min_views=min_views,
        max_followers=max_followers,
        sort=sort,
        options={k: v for k, v in options.items() if v is not None},
    )


def user_query(
    handle: str,
    hours_back: int | None = 24 * 7,
    limit: int = 50,
    min_views: int | None = None,
    *,
    include_replies: bool = False,
) -> PlatformQuery:
    """One account's recent tweets (its timeline, without retweets)."""
    return PlatformQuery(
        platform=Platform.twitter,
        kind="user",
        terms=[handle.strip().lstrip("@")],
        limit=limit,
        hours_back=hours_back,
        min_views=min_views,
        sort="Latest",
        options={"include_replies": True} if include_replies else {},
    )


def build_input(query: PlatformQuery, settings: Settings, now: datetime) -> dict[str, Any]:
    """Search operators do the narrowing at Twitter's end; `since:` has day granularity."""
    terms = clean_terms(query.terms)
    if query.kind == "user":
        base = " OR ".join(f"from:{t.lstrip('@')}" for t in terms)
        base = f"({base})" if len(terms) > 1 else base
    else:
        base = _any_of(terms)
    parts = [base]
    if query.hours_back:
        parts.append(f"since:{(now - timedelta(hours=query.hours_back)):%Y-%m-%d}")
    opts = query.options
    if opts.get("min_likes"):
        parts.append(f"min_faves:{int(opts['min_likes'])}")
    parts.append("-filter:retweets")
    if not opts.get("include_replies"):
        parts.append("-filter:replies")
    run_input: dict[str, Any] = {
        "searchTerms": [" ".join(parts)],
        "maxItems": item_count(query, settings, MIN_ITEMS),
        "sort": _sort(query.sort),
    }
    if opts.get("language"):
        run_input["tweetLanguage"] = opts["language"]
    if opts.get("only_verified"):
        run_input["onlyVerifiedUsers"] = True
    if opts.get("only_video"):
        run_input["onlyVideo"] = True
    return run_input


def _any_of(terms: list[str]) -> str:
    """OR the alternatives; a multi-word alternative stays one phrase."""
    quoted = [
        f'"{t}"' if " " in t and len(terms) > 1 and not t.startswith('"') else t for t in terms
    ]
    return quoted[0] if len(quoted) == 1 else "(" + " OR ".join(quoted) + ")"


def _sort(sort: str | None) -> str:
    return "Latest" if (sort or "").lower() in ("latest", "recent", "new", "newest") else "Top"


def _derive(item: dict[str, Any], values: dict[str, Any], _now: datetime) -> None:
    """Verified means either badge; a tweet URL can be rebuilt from handle and id."""
    if any(to_bool(dig(item, f"author.{badge}")) for badge in ("isVerified", "isBlueVerified")):
        values["author_verified"] = True
    if not values.get("url") and values.get("platform_id") and values.get("author"):
        values["url"] = f"https://x.com/{values['author']}/status/{values['platform_id']}"


SHAPE = ItemShape(
    model=Post,
    id_field="platform_id",
    fixed={"platform": Platform.twitter, "is_short": None},
    fields={
        "platform_id": ("id", "id_str"),
        "url": ("url", "twitterUrl"),
        "author": ("author.userName", "author.screen_name"),
        "author_name": ("author.name",),
        "author_followers": ("author.followers", "author.followersCount"),
        "author_verified": ("author.isVerified",),
        "text": ("fullText", "text"),
        "views": ("viewCount", "views"),
        "likes": ("likeCount", "favoriteCount"),
        "comments": ("replyCount",),
        "shares": ("retweetCount",),
        "posted_at": ("createdAt",),
        "hashtags": ("entities.hashtags",),
    },
    required_type="tweet",
    derive=_derive,
)

SPEC = PlatformSpec(
    platform=Platform.twitter,
    actor_setting="twitter_actor",
    shape=SHAPE,
    build_input=build_input,
    kinds=frozenset({"search", "user"}),
)
