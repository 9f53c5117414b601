"""Dataset rows shaped like the real actors' output (field names per their docs)."""

from __future__ import annotations

from typing import Any


def tweet(**overrides: Any) -> dict[str, Any]:
    """An apidojo/tweet-scraper row."""
    row: dict[str, Any] = {
        "type": "tweet",
        "id": "1728108619189874825",
        "url": "https://x.com/satoshifan/status/1728108619189874825",
        "twitterUrl": "https://twitter.com/satoshifan/status/1728108619189874825",
        "text": "Bitcoin just did something it hasn't done since 2021 #btc",
        "fullText": "Bitcoin just did something it hasn't done since 2021 #btc\n\nThread 🧵",
        "retweetCount": 312,
        "replyCount": 87,
        "likeCount": 2411,
        "quoteCount": 19,
        "viewCount": 184_220,
        "bookmarkCount": 140,
        "createdAt": "Fri Nov 24 17:49:36 +0000 2023",
        "lang": "en",
        "isReply": False,
        "isRetweet": False,
        "isQuote": False,
        "conversationId": "1728108619189874825",
        "media": [],
        "author": {
            "type": "user",
            "userName": "satoshifan",
            "name": "Satoshi Fan",
            "id": "44196397",
            "isVerified": False,
            "isBlueVerified": True,
            "followers": 23_100,
            "following": 410,
            "profilePicture": "https://pbs.twimg.com/profile_images/1/a.jpg",
        },
    }
    row.update(overrides)
    return row


def tiktok_video(**overrides: Any) -> dict[str, Any]:
    """A clockworks/tiktok-scraper row."""
    row: dict[str, Any] = {
        "id": "7301234567890123456",
        "text": "3 productivity apps I can't live without #productivity #fyp",
        "createTime": 1700000000,
        "createTimeISO": "2023-11-14T22:13:20.000Z",
        "webVideoUrl": "https://www.tiktok.com/@deskhacks/video/7301234567890123456",
        "playCount": 1_250_000,
        "diggCount": 98_400,
        "commentCount": 1_210,
        "shareCount": 5_600,
        "collectCount": 12_000,
        "isAd": False,
        "hashtags": [{"name": "productivity"}, {"name": "fyp"}],
        "authorMeta": {
            "id": "6811111111111111111",
            "name": "deskhacks",
            "nickName": "Desk Hacks",
            "verified": False,
            "fans": 41_300,
            "heart": 2_000_000,
            "video": 220,
        },
        "videoMeta": {"duration": 23, "coverUrl": "https://p16-sign.tiktokcdn.com/x.jpeg"},
    }
    row.update(overrides)
    return row


def youtube_video(**overrides: Any) -> dict[str, Any]:
    """A streamers/youtube-scraper row (a Short)."""
    row: dict[str, Any] = {
        "id": "dQw4w9WgXcQ",
        "title": "10 minute home workout, no equipment #shorts",
        "url": "https://www.youtube.com/shorts/dQw4w9WgXcQ",
        "viewCount": 2_400_000,
        "likes": 91_000,
        "commentsCount": 1_800,
        "channelName": "Fit At Home",
        "channelUrl": "https://www.youtube.com/@fitathome",
        "numberOfSubscribers": 38_000,
        "duration": "0:45",
        "date": "2024-03-02T15:00:10.000Z",
        "text": "Save this for later! #homeworkout",
        "thumbnailUrl": "https://i.ytimg.com/vi/dQw4w9WgXcQ/hqdefault.jpg",
        "fromYTUrl": "https://www.youtube.com/results?search_query=home+workout",
    }
    row.update(overrides)
    return row


def facebook_ad(**overrides: Any) -> dict[str, Any]:
    """A curious_coder/facebook-ads-library-scraper row (snake_case, unix dates)."""
    row: dict[str, Any] = {
        "ad_archive_id": "1034567890123456",
        "ad_id": None,
        "page_id": "102938475610",
        "page_name": "Mealbox",
        "is_active": True,
        "start_date": 1_700_000_000,
        "end_date": 1_702_592_000,
        "start_date_formatted": "2023-11-14 22:13:20",
        "publisher_platform": ["FACEBOOK", "INSTAGRAM"],
        "currency": "USD",
        "spend": None,
        "impressions_with_index": {"impressions_text": "10K-50K", "impressions_index": -1},
        "collation_count": 3,
        "ad_library_url": "https://www.facebook.com/ads/library/?id=1034567890123456",
        "snapshot": {
            "page_name": "Mealbox",
            "body": {"text": "Dinner in 15 minutes. First box 60% off."},
            "title": "Mealbox: dinner, sorted",
            "cta_text": "Order Now",
            "link_url": "https://mealbox.example/offer",
            "display_format": "VIDEO",
            "images": [],
            "videos": [],
            "cards": [],
        },
    }
    row.update(overrides)
    return row
