"""Replies cut to Discord's limits: 2,000-character messages, ten files, upload size, embeds."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.discord.render import (
    EMBED_DESCRIPTION_LIMIT,
    FILES_PER_MESSAGE,
    MESSAGE_LIMIT,
    Attachment,
    render_reply,
    split_text,
)
from viraltracker_bot.conversation import Reply

lines = st.lists(
    st.one_of(
        st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300),
        st.just("```csv"),
        st.just("```"),
        st.text(alphabet="ab ", min_size=2500, max_size=4500),
    ),
    max_size=60,
)


@settings(max_examples=80, deadline=None)
@given(lines)
def test_every_chunk_fits_and_no_word_is_lost(parts: list[str]) -> None:
    text = "\n".join(parts)
    chunks = split_text(text)
    assert all(0 < len(chunk) <= MESSAGE_LIMIT for chunk in chunks)
    words = [w for w in text.split() if not w.startswith("```")]
    kept = [w for c in chunks for w in c.split() if not w.startswith("```")]
    assert "".join(kept) == "".join(words)


def test_a_code_block_cut_in_two_is_closed_and_reopened() -> None:
    rows = "\n".join(f"row {n},{'x' * 40}" for n in range(100))
    chunks = split_text(f"Here is the data:\n```csv\n{rows}\n```\nThat's all.")
    assert len(chunks) > 1
    for chunk in chunks:
        assert chunk.count("```") % 2 == 0, chunk
    assert chunks[1].startswith("```csv\n")


def test_a_code_block_ending_at_the_limit_is_not_reopened_empty() -> None:
    for count in range(380, 420):  # one of these puts the closing fence right at the limit
        rows = "\n".join("x" * 4 for _ in range(count))
        chunks = split_text(f"```csv\n{rows}\n```\nThat's all.")
        assert not any(chunk.startswith("```csv\n```") for chunk in chunks), count


def test_short_answers_stay_one_message() -> None:
    assert split_text("  Found 3 viral tweets.\n\n1. @a 10K views  ") == [
        "Found 3 viral tweets.\n\n1. @a 10K views"
    ]


def test_files_ride_on_the_last_text_message_ten_at_a_time() -> None:
    files = [Attachment(f"chart{n}.png", b"x" * 10) for n in range(13)]
    messages = render_reply(Reply(text="y" * 3000, files=[]), files)
    assert [len(m.attachments) for m in messages] == [0, FILES_PER_MESSAGE, 3]
    assert all(len(m.content) <= MESSAGE_LIMIT for m in messages)


def test_files_over_the_upload_limit_are_named_not_attached() -> None:
    small, big = Attachment("top.csv", b"a,b\n"), Attachment("huge.json", b"x" * 2048)
    messages = render_reply(Reply(text="Exported."), [small, big], upload_limit=1024)
    assert [a.name for m in messages for a in m.attachments] == ["top.csv"]
    assert "huge.json" in messages[0].content and "not attached" in messages[0].content.lower()


def test_errors_are_a_red_embed_within_embed_limits() -> None:
    messages = render_reply(Reply(text="Apify is down. " * 500, error=True), [])
    assert len(messages) == 1 and messages[0].embed is not None
    assert len(messages[0].embed.description or "") <= EMBED_DESCRIPTION_LIMIT
    assert messages[0].embed.colour is not None


def test_an_empty_reply_still_says_something() -> None:
    assert render_reply(Reply(text="   "), [])[0].content
