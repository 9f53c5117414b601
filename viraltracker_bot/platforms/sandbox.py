"""Offline actor output: realistic, deterministic items in each actor's exact dataset shape.

Seeded by the actor and its run input, so the same search gives the same posts. Numbers follow
what real searches show: most posts are small, a long tail goes viral (heavy-tailed views, with
likes/comments/shares following views), authors span micro to mega accounts, and a few rows miss
fields the way real rows do.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
import string
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

Item = dict[str, Any]

# --- vocabulary ------------------------------------------------------------------------------

HOOKS = (
    "Nobody talks about this {t} trick",
    "I tried {t} for 30 days. Here's what happened",
    "POV: you finally understand {t}",
    "Stop doing {t} like this",
    "3 {t} mistakes that cost me $10k",
    "The {t} hack nobody tells you about",
    "{T} explained in 60 seconds",
    "Unpopular opinion: {t} is overrated",
    "This changed how I think about {t} forever",
    "Why is nobody talking about {t}?",
    "{T} tier list (you won't agree)",
    "I asked 100 people about {t}",
    "Day 1 of learning {t} until I'm good at it",
    "Beginner vs pro: {t} edition",
    "{T} is about to change everything",
    "Here's the {t} thread I wish I had a year ago",
    "If you're into {t}, watch this before you start",
    "The truth about {t} that influencers won't say",
    "Rating every {t} take on my feed",
    "How I'd learn {t} if I started over today",
)
BODIES = (
    "Saved me hours every week.",
    "Wild that this works.",
    "Part 2 if this blows up.",
    "Bookmark this for later.",
    "Took me way too long to figure out.",
    "Let me know if you want the full breakdown.",
    "Not financial advice, just my experience.",
    "Thoughts?",
    "Comment '{t}' and I'll send you the list.",
    "This is the part nobody shows you.",
)
ACCOUNT_TOPICS = ("AI", "startups", "markets", "fitness", "productivity", "crypto", "design")
EMOJI = ("🔥", "🤯", "👀", "🚀", "😭", "💡", "✅", "📈", "")
NAME_PARTS = (
    "daily",
    "real",
    "the",
    "its",
    "just",
    "hey",
    "mr",
    "ms",
    "big",
    "little",
    "studio",
    "lab",
    "guy",
    "girl",
    "club",
    "hq",
    "with",
    "by",
    "nerd",
    "mode",
    "talks",
    "pro",
    "life",
    "coach",
)
FIRST_NAMES = (
    "Alex",
    "Sam",
    "Jordan",
    "Maya",
    "Leo",
    "Priya",
    "Chris",
    "Nina",
    "Omar",
    "Tess",
    "Kai",
    "Zoe",
    "Ravi",
    "Lena",
    "Marco",
    "Ivy",
    "Theo",
    "Ana",
    "Jin",
    "Ruby",
)
GENERIC_TAGS = {
    "tweets": ("trending", "thread"),
    "tiktok": ("fyp", "foryou", "viral", "learnontiktok", "tiktokmademebuyit"),
    "youtube": ("shorts", "viral", "howto"),
}
AD_HOOKS = (
    "Tired of {t} that doesn't deliver? Meet {page}.",
    "{T}, finally done right.",
    "Why 50,000+ customers switched to {page} for {t}",
    "Limited time: save 40% on {t} this week only",
    "The {t} everyone's talking about is back in stock",
    "Stop overpaying for {t}.",
    "Your first {t} order ships free",
    "Rated 4.8/5 by real customers: {t} without the hassle",
    "New: {t} made for busy people",
)
AD_BODIES = (
    "Try it risk-free for 30 days.",
    "Cancel anytime. No hidden fees.",
    "Join thousands of happy customers.",
    "Offer ends Sunday.",
    "Free shipping on your first order.",
)
CTAS = ("Shop Now", "Learn More", "Sign Up", "Get Offer", "Download", "Book Now", "Subscribe")
AD_FORMATS = ("IMAGE", "VIDEO", "DCO", "CAROUSEL")
AD_PLATFORMS = ("FACEBOOK", "INSTAGRAM", "AUDIENCE_NETWORK", "MESSENGER")

DEFAULT_ACTORS = {
    "apidojo/tweet-scraper": "tweets",
    "clockworks/tiktok-scraper": "tiktok",
    "streamers/youtube-scraper": "youtube",
    "curious_coder/facebook-ads-library-scraper": "facebook_ads",
}


# --- entry point -----------------------------------------------------------------------------


def sandbox_items(
    actor_id: str, run_input: dict[str, Any], now: datetime | None = None
) -> list[Item]:
    """The dataset rows the actor would return for this input (same input, same rows)."""
    now = now or datetime.now(UTC)
    canonical = json.dumps(run_input, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    seed = int.from_bytes(hashlib.sha256(f"{actor_id}\n{canonical}".encode()).digest()[:8], "big")
    kind = actor_kind(actor_id, run_input)
    return GENERATORS[kind](run_input, random.Random(seed), now)


def actor_kind(actor_id: str, run_input: dict[str, Any]) -> str:
    """Which output shape an actor has: by its known ID, else by the input fields it was given."""
    normal = actor_id.replace("~", "/")
    if normal in DEFAULT_ACTORS:
        return DEFAULT_ACTORS[normal]
    if "searchTerms" in run_input or "twitterHandles" in run_input:
        return "tweets"
    if "maxResultsShorts" in run_input or "maxResults" in run_input:
        return "youtube"
    if "urls" in run_input:
        return "facebook_ads"
    return "tiktok"


# --- shared pieces ---------------------------------------------------------------------------


@dataclass
class Author:
    handle: str
    name: str
    followers: int
    verified: bool
    numeric_id: str


def make_author(rng: random.Random, topic: str, handle: str | None = None) -> Author:
    """Followers are log-normal: a crowd of micro accounts, a few mega ones."""
    followers = int(min(2e8, max(12, rng.lognormvariate(math.log(9_000), 2.1))))
    first = rng.choice(FIRST_NAMES)
    word = re.sub(r"[^a-z0-9]", "", topic.lower())[:12] or "creator"
    if handle is None:
        style = rng.randrange(4)
        handle = [
            f"{first.lower()}{rng.choice(NAME_PARTS)}",
            f"{word}{rng.choice(NAME_PARTS)}",
            f"{rng.choice(NAME_PARTS)}{word}{rng.randrange(10, 99)}",
            f"{first.lower()}_{word}",
        ][style]
    name = rng.choice(
        [f"{first} {rng.choice(string.ascii_uppercase)}.", f"{topic.title()} {first}", first]
    )
    verified = (followers > 500_000 and rng.random() < 0.6) or rng.random() < 0.03
    return Author(handle, name, followers, verified, str(rng.randrange(10**9, 10**19)))


def author_pool(rng: random.Random, topic: str, size: int) -> list[Author]:
    authors: dict[str, Author] = {}
    while len(authors) < size:
        author = make_author(rng, topic)
        authors.setdefault(author.handle, author)
    return list(authors.values())


@dataclass
class Metrics:
    views: int
    likes: int
    comments: int
    shares: int
    saves: int


def make_metrics(rng: random.Random, followers: int, like_rate: float) -> Metrics:
    """Views scale weakly with audience and carry a Pareto 'luck' factor: the viral tail."""
    audience = (max(followers, 100) / 10_000) ** 0.4
    luck = rng.paretovariate(1.25)
    views = int(rng.lognormvariate(math.log(2_500), 1.0) * audience * luck)
    views = min(max(views, rng.randrange(20, 200)), 300_000_000)
    rate = like_rate * rng.lognormvariate(0, 0.45)
    likes = int(views * min(rate, 0.35))
    comments = int(likes * rng.uniform(0.01, 0.06))
    shares = int(likes * rng.uniform(0.02, 0.25))
    saves = int(likes * rng.uniform(0.03, 0.2))
    return Metrics(views, likes, comments, shares, saves)


def spread_dates(
    rng: random.Random, now: datetime, window: timedelta, count: int
) -> list[datetime]:
    """Posting times in the window, denser towards now (search results skew recent)."""
    seconds = max(60.0, window.total_seconds())
    return [
        now - timedelta(seconds=min(seconds, rng.expovariate(3.0 / seconds))) for _ in range(count)
    ]


def write_text(
    rng: random.Random, term: str, platform: str, tags_extra: int = 2
) -> tuple[str, list[str]]:
    """A hook with the search term, a short body, an emoji and hashtags built from the term."""
    hook = rng.choice(HOOKS).format(t=term, T=term[:1].upper() + term[1:])
    body = rng.choice(BODIES).format(t=term.split()[0].lower())
    tag = re.sub(r"\W", "", term.lower())
    tags = [tag] if tag else []
    tags += rng.sample(GENERIC_TAGS[platform], k=min(tags_extra, len(GENERIC_TAGS[platform])))
    emoji = rng.choice(EMOJI)
    if rng.random() < 0.2:
        tags = []  # plenty of posts carry no hashtags at all
    text = f"{hook} {emoji}".strip() + f"\n\n{body}"
    if tags:
        text += "\n\n" + " ".join(f"#{t}" for t in tags)
    return text, tags


def snowflake(moment: datetime, rng: random.Random) -> str:
    """A Twitter-style id that encodes its timestamp, as real tweet ids do."""
    millis = int(moment.timestamp() * 1000) - 1288834974657
    return str((max(millis, 0) << 22) | rng.getrandbits(22))


def search_topics(query: str) -> list[str]:
    """The alternatives a Twitter search string is about, without its operators."""
    text = re.sub(r"\b(since|until|min_faves|min_retweets|lang|from|to):\S+", " ", query)
    text = re.sub(r"-filter:\S+|[()\"]", " ", text)
    return [" ".join(part.split()) for part in re.split(r"\bOR\b", text) if part.strip()]


def maybe_drop(rng: random.Random, item: Item, fields: tuple[str, ...], chance: float) -> Item:
    """Real rows miss counts now and then: drop or null a field in a few of them."""
    for name in fields:
        if name in item and rng.random() < chance:
            if rng.random() < 0.5:
                del item[name]
            else:
                item[name] = None
    return item


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


# --- Twitter (apidojo/tweet-scraper) ---------------------------------------------------------

_SINCE = re.compile(r"since:(\d{4}-\d{2}-\d{2})")
_FROM = re.compile(r"from:(\w+)")


def tweets(run_input: dict[str, Any], rng: random.Random, now: datetime) -> list[Item]:
    searches = [str(s) for s in run_input.get("searchTerms") or []]
    handles = [str(h).lstrip("@") for h in run_input.get("twitterHandles") or []]
    searches += [f"from:{h}" for h in handles]
    if not searches:
        return []
    count = max(1, int(run_input.get("maxItems") or 50))
    per_search = max(1, math.ceil(count / len(searches)))
    # "Top" search surfaces what the timeline algorithm already amplified: more reach per tweet.
    reach = 8 if str(run_input.get("sort") or "Top") == "Top" else 1
    items: list[Item] = []
    for search in searches:
        items += _tweets_for(search, per_search, rng, now, reach)
    return items[:count]


def _tweets_for(
    search: str, count: int, rng: random.Random, now: datetime, reach: int = 1
) -> list[Item]:
    since = _SINCE.search(search)
    window = timedelta(days=7)
    if since:
        start = datetime.strptime(since.group(1), "%Y-%m-%d").replace(tzinfo=UTC)
        window = max(timedelta(hours=1), now - start)
    terms = search_topics(search) or rng.sample(ACCOUNT_TOPICS, k=3)
    user = _FROM.search(search)
    fixed = make_author(rng, terms[0], handle=user.group(1)) if user else None
    authors = [fixed] if fixed else author_pool(rng, terms[0], max(5, count * 2 // 3))
    items = []
    for moment in spread_dates(rng, now, window, count):
        author = rng.choice(authors)
        items.append(_tweet(rng, rng.choice(terms), author, moment, now, reach))
    return items


def _tweet(
    rng: random.Random, term: str, author: Author, moment: datetime, now: datetime, reach: int = 1
) -> Item:
    metrics = make_metrics(rng, author.followers, like_rate=0.012)
    metrics.views, metrics.likes = metrics.views * reach, metrics.likes * reach
    metrics.shares, metrics.comments = metrics.shares * reach, metrics.comments * reach
    text, tags = write_text(rng, term, "tweets", tags_extra=1)
    tweet_id = snowflake(moment, rng)
    url = f"https://x.com/{author.handle}/status/{tweet_id}"
    item: Item = {
        "type": "tweet",
        "id": tweet_id,
        "url": url,
        "twitterUrl": url.replace("https://x.com", "https://twitter.com"),
        "text": text if len(text) <= 280 else text[:277] + "...",
        "fullText": text,
        "source": rng.choice(["Twitter for iPhone", "Twitter Web App", "Twitter for Android"]),
        "retweetCount": metrics.shares,
        "replyCount": metrics.comments,
        "likeCount": metrics.likes,
        "quoteCount": int(metrics.shares * rng.uniform(0.05, 0.3)),
        "viewCount": metrics.views,
        "bookmarkCount": metrics.saves,
        "createdAt": moment.strftime("%a %b %d %H:%M:%S +0000 %Y"),
        "lang": "en",
        "isReply": False,
        "isRetweet": False,
        "isQuote": rng.random() < 0.08,
        "conversationId": tweet_id,
        "media": [],
        "entities": {"hashtags": [{"text": t} for t in tags], "urls": [], "user_mentions": []},
        "author": {
            "type": "user",
            "userName": author.handle,
            "url": f"https://x.com/{author.handle}",
            "twitterUrl": f"https://twitter.com/{author.handle}",
            "id": author.numeric_id,
            "name": author.name,
            "isVerified": False,
            "isBlueVerified": author.verified,
            "profilePicture": f"https://pbs.twimg.com/profile_images/{author.numeric_id}/photo.jpg",
            "followers": author.followers,
            "following": rng.randrange(50, 3_000),
            "statusesCount": rng.randrange(100, 80_000),
            "createdAt": (now - timedelta(days=rng.randrange(200, 5_000))).strftime(
                "%a %b %d %H:%M:%S +0000 %Y"
            ),
        },
    }
    return maybe_drop(rng, item, ("viewCount", "bookmarkCount"), 0.04)


# --- TikTok (clockworks/tiktok-scraper) ------------------------------------------------------


def tiktok(run_input: dict[str, Any], rng: random.Random, now: datetime) -> list[Item]:
    per_source = max(1, int(run_input.get("resultsPerPage") or 10))
    sources: list[tuple[str, str]] = [
        ("search", str(q)) for q in run_input.get("searchQueries") or []
    ]
    sources += [("hashtag", str(h).lstrip("#")) for h in run_input.get("hashtags") or []]
    sources += [("profile", str(p)) for p in run_input.get("profiles") or []]
    items: list[Item] = []
    for kind, value in sources:
        if kind == "profile":
            handle = value.rstrip("/").rsplit("/", 1)[-1].lstrip("@")
            authors = [make_author(rng, handle, handle=handle)]
            term = handle
        else:
            term = value
            authors = author_pool(rng, term, max(5, per_source * 3 // 4))
        for moment in spread_dates(rng, now, timedelta(days=21), per_source):
            items.append(_tiktok(rng, term, rng.choice(authors), moment, kind, value))
    return items


def _tiktok(
    rng: random.Random, term: str, author: Author, moment: datetime, kind: str, source: str
) -> Item:
    metrics = make_metrics(rng, author.followers, like_rate=0.08)
    boost = 5  # the For You page amplifies reach far beyond the follower count
    metrics.views, metrics.likes = metrics.views * boost, metrics.likes * boost
    metrics.shares, metrics.saves = metrics.shares * boost, metrics.saves * boost
    text, tags = write_text(rng, term, "tiktok")
    video_id = str((int(moment.timestamp()) << 32) | rng.getrandbits(32))
    item: Item = {
        "id": video_id,
        "text": text.replace("\n\n", " "),
        "textLanguage": "en",
        "createTime": int(moment.timestamp()),
        "createTimeISO": _iso(moment),
        "isAd": rng.random() < 0.02,
        "authorMeta": {
            "id": author.numeric_id,
            "name": author.handle,
            "profileUrl": f"https://www.tiktok.com/@{author.handle}",
            "nickName": author.name,
            "verified": author.verified,
            "signature": f"{term} tips daily",
            "privateAccount": False,
            "fans": author.followers,
            "following": rng.randrange(10, 2_000),
            "heart": author.followers * rng.randrange(5, 40),
            "video": rng.randrange(5, 1_500),
            "digg": rng.randrange(0, 20_000),
        },
        "musicMeta": {"musicName": f"original sound - {author.handle}", "musicOriginal": True},
        "webVideoUrl": f"https://www.tiktok.com/@{author.handle}/video/{video_id}",
        "mediaUrls": [],
        "videoMeta": {
            "height": 1024,
            "width": 576,
            "duration": rng.choice([7, 9, 12, 15, 21, 28, 34, 45, 58, 62, 90, 145]),
            "coverUrl": f"https://p16-sign.tiktokcdn.com/obj/{video_id}.jpeg",
            "definition": "540p",
            "format": "mp4",
        },
        "diggCount": metrics.likes,
        "shareCount": metrics.shares,
        "playCount": metrics.views,
        "collectCount": metrics.saves,
        "commentCount": metrics.comments,
        "mentions": [],
        "hashtags": [
            {"id": str(rng.getrandbits(40)), "name": t, "title": "", "cover": ""} for t in tags
        ],
        "isSlideshow": False,
        "isPinned": kind == "profile" and rng.random() < 0.05,
    }
    if kind == "search":
        item["searchQuery"] = source
    elif kind == "hashtag":
        item["input"] = source
    return maybe_drop(rng, item, ("collectCount", "shareCount"), 0.03)


# --- YouTube (streamers/youtube-scraper) -----------------------------------------------------

DATE_WINDOWS = {"hour": 1 / 24, "today": 1, "week": 7, "month": 30, "year": 365}


def youtube(run_input: dict[str, Any], rng: random.Random, now: datetime) -> list[Item]:
    videos = max(0, int(run_input.get("maxResults") or 0))
    shorts = max(0, int(run_input.get("maxResultsShorts") or 0))
    window = timedelta(days=DATE_WINDOWS.get(str(run_input.get("dateFilter") or ""), 365))
    items: list[Item] = []
    for query in run_input.get("searchQueries") or []:
        term = str(query)
        authors = author_pool(rng, term, max(5, (videos + shorts) * 2 // 3))
        kinds = [True] * shorts + [False] * videos
        for is_short, moment in zip(kinds, spread_dates(rng, now, window, len(kinds)), strict=True):
            items.append(_video(rng, term, rng.choice(authors), moment, now, is_short))
    return items


def _video(
    rng: random.Random, term: str, author: Author, moment: datetime, now: datetime, is_short: bool
) -> Item:
    metrics = make_metrics(rng, author.followers, like_rate=0.035)
    boost = 3.0 if is_short else 0.8  # Shorts travel on the Shorts feed, long videos on search
    metrics.views, metrics.likes = int(metrics.views * boost), int(metrics.likes * boost)
    text, tags = write_text(rng, term, "youtube", tags_extra=1 if is_short else 0)
    title = text.split("\n")[0]
    if is_short and "#shorts" not in title:
        title += " #shorts"
    video_id = "".join(rng.choice(string.ascii_letters + string.digits + "-_") for _ in range(11))
    seconds = rng.randrange(8, 60) if is_short else rng.randrange(180, 2_400)
    item: Item = {
        "title": title,
        "id": video_id,
        "url": f"https://www.youtube.com/{'shorts/' if is_short else 'watch?v='}{video_id}",
        "thumbnailUrl": f"https://i.ytimg.com/vi/{video_id}/hqdefault.jpg",
        "viewCount": metrics.views,
        "date": _youtube_date(rng, moment, now),
        "likes": metrics.likes,
        "channelName": author.name,
        "channelUrl": f"https://www.youtube.com/@{author.handle}",
        "numberOfSubscribers": author.followers,
        "duration": _clock(seconds),
        "commentsCount": metrics.comments,
        "text": text,
        "hashtags": [f"#{t}" for t in tags],
        "fromYTUrl": f"https://www.youtube.com/results?search_query={term.replace(' ', '+')}",
    }
    return maybe_drop(rng, item, ("likes", "commentsCount", "numberOfSubscribers"), 0.05)


def _youtube_date(rng: random.Random, moment: datetime, now: datetime) -> str:
    """Plain search results give relative ages; detail pages give ISO timestamps."""
    if rng.random() < 0.6:
        return _iso(moment)
    age = now - moment
    for unit, size in (("year", 365), ("month", 30), ("week", 7), ("day", 1)):
        if age.days >= size:
            n = age.days // size
            return f"{n} {unit}{'s' if n > 1 else ''} ago"
    hours = max(1, int(age.total_seconds() // 3600))
    return f"{hours} hour{'s' if hours > 1 else ''} ago"


def _clock(seconds: int) -> str:
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


# --- Facebook Ad Library (curious_coder/facebook-ads-library-scraper) ------------------------

PERIOD_DAYS = {"last24h": 1, "last7d": 7, "last14d": 14, "last30d": 30, "last90d": 90}


def facebook_ads(run_input: dict[str, Any], rng: random.Random, now: datetime) -> list[Item]:
    count = max(1, int(run_input.get("count") or 10))
    status = str(run_input.get("scrapePageAds.activeStatus") or "all")
    days = PERIOD_DAYS.get(str(run_input.get("period") or ""), 180)
    items: list[Item] = []
    for entry in run_input.get("urls") or []:
        url = str(entry.get("url") if isinstance(entry, dict) else entry)
        topic, page = _ad_source(url)
        pages = [page] if page else [_brand(rng, topic) for _ in range(max(2, count // 8))]
        for _ in range(count):
            items.append(_ad(rng, topic, rng.choice(pages), now, days, status))
    return items


def _ad_source(url: str) -> tuple[str, str | None]:
    """(what the ads are about, the page name when the URL names one page)."""
    parts = urlsplit(url)
    params = parse_qs(parts.query)
    if params.get("q"):
        return params["q"][0], None
    if params.get("view_all_page_id"):
        return "brand", f"Page {params['view_all_page_id'][0]}"
    name = parts.path.strip("/").split("/")[0] or "brand"
    return name.replace("-", " "), name.replace("-", " ").title()


def _brand(rng: random.Random, topic: str) -> str:
    word = topic.split()[0].title() if topic.split() else "Brand"
    return rng.choice(
        [f"{word}ly", f"The {word} Co.", f"{word} Labs", f"Get{word}", f"{word} Academy"]
    )


def _placements(rng: random.Random) -> list[str]:
    """Most ads run on Facebook and Instagram; some add the smaller placements."""
    placements = ["FACEBOOK", "INSTAGRAM"] if rng.random() < 0.7 else [rng.choice(AD_PLATFORMS[:2])]
    placements += [p for p in AD_PLATFORMS[2:] if rng.random() < 0.25]
    return placements


def _ad(rng: random.Random, topic: str, page: str, now: datetime, days: int, status: str) -> Item:
    """Winners run for months; most ads stop within weeks."""
    start = now - timedelta(days=rng.uniform(0, days), hours=rng.uniform(0, 24))
    active = {"active": True, "inactive": False}.get(status, rng.random() < 0.7)
    run_days = rng.lognormvariate(math.log(12), 1.0)
    end = now if active else min(now, start + timedelta(days=run_days))
    archive_id = str(rng.randrange(10**14, 10**16))
    page_id = str(int(hashlib.sha256(page.encode()).hexdigest()[:12], 16))
    hook = rng.choice(AD_HOOKS).format(t=topic, T=topic[:1].upper() + topic[1:], page=page)
    body = " ".join(rng.sample(AD_BODIES, k=2))
    domain = re.sub(r"[^a-z]", "", page.lower()) or "brand"
    impressions = rng.choice([None, None, "<1K", "1K-5K", "5K-10K", "10K-50K", "100K-500K"])
    item: Item = {
        "ad_archive_id": archive_id,
        "ad_id": None,
        "page_id": page_id,
        "page_name": page,
        "is_active": active,
        "start_date": int(start.timestamp()),
        "end_date": int(end.timestamp()),
        "start_date_formatted": start.strftime("%Y-%m-%d %H:%M:%S"),
        "end_date_formatted": end.strftime("%Y-%m-%d %H:%M:%S"),
        "publisher_platform": _placements(rng),
        "currency": "USD",
        "spend": None,
        "impressions_with_index": {"impressions_text": impressions, "impressions_index": -1},
        "reach_estimate": None,
        "collation_id": str(rng.randrange(10**14, 10**15)),
        "collation_count": rng.choice([1, 1, 1, 2, 3, 5, 12]),
        "ad_library_url": f"https://www.facebook.com/ads/library/?id={archive_id}",
        "categories": ["UNKNOWN"],
        "entity_type": "PERSON_PROFILE",
        "snapshot": {
            "page_name": page,
            "page_id": page_id,
            "body": {"text": f"{hook}\n\n{body}"},
            "title": f"{page}: {topic.title()} made simple",
            "cta_text": rng.choice(CTAS),
            "link_url": f"https://{domain}.com/?utm_source=fb",
            "display_format": rng.choice(AD_FORMATS),
            "images": [],
            "videos": [],
            "cards": [],
        },
    }
    if rng.random() < 0.05:  # political/issue ads disclose spend ranges
        low = rng.choice([100, 500, 1_000, 5_000])
        item["spend"] = {"lower_bound": str(low), "upper_bound": str(low * 5 - 1)}
    return item


GENERATORS: dict[str, Callable[[dict[str, Any], random.Random, datetime], list[Item]]] = {
    "tweets": tweets,
    "tiktok": tiktok,
    "youtube": youtube,
    "facebook_ads": facebook_ads,
}
