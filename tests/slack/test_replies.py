"""Replies read well in Slack and always fit its limits."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from adapters.slack.events import plain_text, read_message
from adapters.slack.replies import (
    MAX_MESSAGES,
    MESSAGE_BUDGET,
    SECTION_LIMIT,
    reply_posts,
    split_text,
    to_mrkdwn,
)


def test_markdown_becomes_mrkdwn() -> None:
    markdown = (
        "## Top posts\n"
        "- **Bold** and *italic* and ~~gone~~\n"
        "* [the post](https://tiktok.com/@a/video/1) by `@a`\n"
        "Q&A <b>not html</b>\n"
        "<https://example.com/x>"
    )
    assert to_mrkdwn(markdown).split("\n") == [
        "*Top posts*",
        "• *Bold* and _italic_ and ~gone~",
        "• <https://tiktok.com/@a/video/1|the post> by `@a`",
        "Q&amp;A &lt;b&gt;not html&lt;/b&gt;",
        "https://example.com/x",
    ]


def test_code_is_kept_verbatim() -> None:
    assert to_mrkdwn("```python\nx = **1** < 2\n```") == "```\nx = **1** &lt; 2\n```"


def test_tables_become_aligned_text_or_lines_with_links() -> None:
    numbers = to_mrkdwn("| platform | views |\n|---|---:|\n| TikTok | 1.2M |\n| YouTube | 900K |")
    assert numbers.split("\n") == [
        "```",
        "platform  views",
        "TikTok    1.2M",
        "YouTube   900K",
        "```",
    ]
    links = to_mrkdwn("| # | post |\n|---|---|\n| 1 | [cat](https://t.co/1) |")
    assert links.split("\n") == ["*# · post*", "• 1 · <https://t.co/1|cat>"]


def test_long_replies_are_split_into_messages_within_limits() -> None:
    paragraph = "A viral post about cats with many views. " * 40
    markdown = "# Results\n" + "\n\n".join(f"{i}. {paragraph}" for i in range(30))
    posts = reply_posts(markdown)
    assert 1 < len(posts) <= MAX_MESSAGES
    assert posts[0].blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Results"},
    }
    for post in posts:
        assert len(post.blocks) <= 50
        assert sum(len(b.get("text", {}).get("text", "")) for b in post.blocks) <= MESSAGE_BUDGET
        for block in post.blocks:
            if block["type"] == "section":
                assert 0 < len(block["text"]["text"]) <= SECTION_LIMIT


def test_a_reply_too_long_for_slack_says_it_was_trimmed() -> None:
    markdown = "\n\n".join("word " * 500 for _ in range(60))
    posts = reply_posts(markdown)
    assert len(posts) == MAX_MESSAGES
    assert "trimmed" in posts[-1].blocks[-1]["elements"][0]["text"]


def test_error_replies_are_marked() -> None:
    posts = reply_posts("Apify is down.", error=True)
    assert posts[0].blocks[0]["text"]["text"] == ":warning: Apify is down."


@given(st.text(alphabet=st.sampled_from("ab \n`"), max_size=3000), st.integers(40, 400))
def test_split_pieces_fit_and_keep_every_word(text: str, limit: int) -> None:
    pieces = split_text(text, limit)
    assert all(len(p) <= limit for p in pieces)
    words = [w for w in text.replace("`", " ").split() if w]
    kept = [w for p in pieces for w in p.replace("`", " ").split() if w]
    assert kept == words


def test_a_code_block_cut_in_two_stays_a_code_block() -> None:
    text = "```\n" + "\n".join(f"line {i}" for i in range(200)) + "\n```"
    pieces = split_text(text, 300)
    assert len(pieces) > 1
    assert all(p.startswith("```") and p.endswith("```") for p in pieces)


def test_what_the_person_typed_is_read_without_slack_markup() -> None:
    text = "<@U0BOT> find <https://www.tiktok.com/@x|tiktok.com/@x> in <#C1|general> &amp; <@U2>"
    assert plain_text(text, "U0BOT") == "find https://www.tiktok.com/@x in #general & @U2"


def test_only_people_s_messages_are_read() -> None:
    base = {"type": "message", "channel": "C1", "user": "U1", "ts": "1.1", "text": "hi"}
    assert read_message({"team_id": "T1", "event": base}) is not None
    for extra in ({"bot_id": "B1"}, {"subtype": "message_changed"}, {"subtype": "bot_message"}):
        assert read_message({"team_id": "T1", "event": {**base, **extra}}) is None
    shared = read_message({"team_id": "T1", "event": {**base, "subtype": "file_share"}})
    assert shared is not None and shared.event_id == "C1:1.1"
