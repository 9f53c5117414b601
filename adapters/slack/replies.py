"""Turning the core's Markdown Reply into Slack messages: mrkdwn, Block Kit, Slack's size limits."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

SECTION_LIMIT = 3000  # Block Kit section text
HEADER_LIMIT = 150  # Block Kit header text
MESSAGE_BUDGET = 12_000  # ours per message: far under Slack's 40,000 so a reply stays readable
MAX_MESSAGES = 4  # chat.postMessage allows about one message per second per channel
FALLBACK_LIMIT = 3000  # the notification text that travels beside the blocks
TRIMMED_NOTE = "_…trimmed to fit Slack. Ask me to export the results for the full list._"

_FENCE = re.compile(r"^\s*```")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_RULE = re.compile(r"^\s*(?:-{3,}|\*{3,}|_{3,})\s*$")
_BULLET = re.compile(r"^(\s*)[-*+]\s+(.*)$")
_TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_CODE_SPAN = re.compile(r"`[^`\n]+`")
# A link's address may hold balanced brackets (Wikipedia's `Cat_(disambiguation)`).
_ADDRESS = r"((?:[^()\s]|\([^()\s]*\))+)"
_IMAGE = re.compile(r"!\[([^\]]*)\]\(" + _ADDRESS + r"(?:\s+\"[^\"]*\")?\)")
_LINK = re.compile(r"\[([^\]]+)\]\(" + _ADDRESS + r"(?:\s+\"[^\"]*\")?\)")
_QUOTE = re.compile(r"^\s{0,3}(?:>\s?)+(.*)$")
_SLACK_SPAN = re.compile(r"<[^<>\n]*>")
_AUTOLINK = re.compile(r"<((?:https?|mailto):[^>\s]+)>")
_BOLD = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_ITALIC_STAR = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
_BOLD_MARK = "\x01"
_KEEP_OPEN, _KEEP_CLOSE = "\x02", "\x03"
_KEPT = re.compile(r"\x02(\d+)\x03")
_BARE_URL = re.compile(r"(?:https?|mailto):[^\s\x02\x03]+")
# Not kept with a bare URL: the emphasis or punctuation after it (**https://x.com**, ...).
_URL_TAIL = "*~.,;:!?"
_HANDLE = re.compile(r"(?<![\w@/\x02])@[A-Za-z0-9_.]*[A-Za-z0-9_]")


class SlackPost(BaseModel):
    """One chat.postMessage: blocks to show, and the text notifications and old clients use."""

    text: str
    blocks: list[dict[str, Any]]


# ---- Markdown -> mrkdwn ------------------------------------------------------------------


def escape(text: str) -> str:
    """Slack reads &, < and > as markup; everything else is shown as typed."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_mrkdwn(markdown: str) -> str:
    """Slack's mrkdwn for the Markdown the agents write (bold, links, lists, tables, code)."""
    out: list[str] = []
    lines = markdown.replace("\r\n", "\n").split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if _FENCE.match(line):
            block, i = _take_fence(lines, i)
            out.extend(block)
            continue
        if _TABLE_ROW.match(line):
            rows: list[str] = []
            while i < len(lines) and _TABLE_ROW.match(lines[i]):
                rows.append(lines[i])
                i += 1
            out.extend(_table(rows))
            continue
        out.append(_line(line))
        i += 1
    return "\n".join(out).strip("\n")


def _take_fence(lines: list[str], start: int) -> tuple[list[str], int]:
    """A fenced code block, kept verbatim (Slack has no language tags)."""
    body: list[str] = []
    i = start + 1
    while i < len(lines) and not _FENCE.match(lines[i]):
        body.append(escape(lines[i]))
        i += 1
    return ["```", *body, "```"], i + 1


def _line(line: str) -> str:
    if _RULE.match(line):
        return ""
    quote = _QUOTE.match(line)
    if quote:
        # Slack quotes a line starting with a bare '>' (escaped, it shows the character).
        return f"> {_line(quote.group(1))}".rstrip()
    heading = _HEADING.match(line)
    if heading:
        return f"*{_inline(heading.group(2)).replace('*', '')}*"
    bullet = _BULLET.match(line)
    if bullet:
        indent = "    " * (len(bullet.group(1).expandtabs(4)) // 2)
        return f"{indent}• {_inline(bullet.group(2))}"
    return _inline(line)


def _inline(text: str) -> str:
    """Inline Markdown to mrkdwn; code spans are left alone."""
    parts: list[str] = []
    last = 0
    for span in _CODE_SPAN.finditer(text):
        parts.append(_inline_text(text[last : span.start()]))
        parts.append(escape(span.group(0)))
        last = span.end()
    parts.append(_inline_text(text[last:]))
    return "".join(parts)


def _inline_text(text: str) -> str:
    """Inline Markdown to mrkdwn, with addresses and @handles kept exactly as written.

    A TikTok link like `tiktok.com/@__cat__/video/1` holds what Markdown reads as bold; turned
    into `@*cat*` the link leads nowhere. So links, bare URLs and handles are set aside
    before the emphasis rules run, and put back after.
    """
    kept: list[str] = []

    def keep(value: str) -> str:
        kept.append(value)
        return f"{_KEEP_OPEN}{len(kept) - 1}{_KEEP_CLOSE}"

    text = _AUTOLINK.sub(lambda m: m.group(1), text)
    text = escape(text)
    text = _IMAGE.sub(lambda m: f"<{keep(m.group(2))}|{m.group(1) or 'image'}>", text)
    text = _LINK.sub(lambda m: f"<{keep(m.group(2))}|{m.group(1)}>", text)
    text = _BARE_URL.sub(lambda m: _kept_url(m.group(0), keep), text)
    text = _HANDLE.sub(lambda m: keep(m.group(0)), text)
    text = _BOLD.sub(lambda m: f"{_BOLD_MARK}{m.group(2)}{_BOLD_MARK}", text)
    text = _ITALIC_STAR.sub(lambda m: f"_{m.group(1)}_", text)
    text = _STRIKE.sub(lambda m: f"~{m.group(1)}~", text)
    text = _KEPT.sub(lambda m: kept[int(m.group(1))], text)
    return text.replace(_BOLD_MARK, "*")


def _kept_url(url: str, keep: Callable[[str], str]) -> str:
    """A bare URL set aside, without the emphasis marks or punctuation that close around it."""
    address = url.rstrip(_URL_TAIL)
    return keep(address) + url[len(address) :] if address else url


def _cells(row: str) -> list[str]:
    return [cell.strip() for cell in row.strip().strip("|").split("|")]


def _table(rows: list[str]) -> list[str]:
    """Slack has no tables: rows with links become bullet lines, numbers an aligned block."""
    cells = [_cells(row) for row in rows if not _TABLE_RULE.match(row)]
    if not cells:
        return []
    header, body = cells[0], cells[1:]
    if any(_LINK.search(cell) or "http" in cell for row in body for cell in row):
        lines = [f"*{' · '.join(_inline(c) for c in header)}*"]
        lines += [f"• {' · '.join(_inline(c) for c in row if c)}" for row in body]
        return lines
    width = max(len(row) for row in cells)
    padded = [row + [""] * (width - len(row)) for row in cells]
    sizes = [max(len(row[c]) for row in padded) for c in range(width)]
    text = [
        "  ".join(cell.ljust(sizes[c]) for c, cell in enumerate(row)).rstrip() for row in padded
    ]
    return ["```", *(escape(t) for t in text), "```"]


# ---- sizes ---------------------------------------------------------------------------------


def split_text(text: str, limit: int) -> list[str]:
    """Pieces of at most `limit` characters, cut between paragraphs or lines where possible.

    A code block cut in two is closed at the end of one piece and reopened in the next, so
    each piece renders on its own.
    """
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    in_code = False
    for line in _short_lines(text, limit - 8):
        fence = line.strip().startswith("```")
        reserve = 4 if in_code or fence else 0
        if current and size + len(line) + 1 + reserve > limit:
            if in_code:
                current.append("```")
            pieces.append("\n".join(current).strip("\n"))
            current, size = (["```"], 4) if in_code else ([], 0)
        current.append(line)
        size += len(line) + 1
        if fence:
            in_code = not in_code
    if current:
        pieces.append("\n".join(current).strip("\n"))
    return [p for p in pieces if p.strip() and p.strip() != "```\n```"]


def _short_lines(text: str, limit: int) -> list[str]:
    """Lines no longer than `limit`, a long one cut at its last space before the limit."""
    out: list[str] = []
    for line in text.split("\n"):
        while len(line) > limit:
            cut = _cut_at(line, limit)
            out.append(line[:cut])
            line = line[cut:].lstrip(" ")
        out.append(line)
    return out


def _cut_at(line: str, limit: int) -> int:
    """Where to cut a line too long for one piece: a space outside Slack's `<link|label>`.

    A link cut in two shows its markup and leads nowhere; it goes whole into the next piece
    unless it alone is longer than a piece.
    """
    spans = [m.span() for m in _SLACK_SPAN.finditer(line) if m.start() < limit]
    cut = limit
    while cut > limit // 2:
        cut = line.rfind(" ", 0, cut)
        if cut <= limit // 2:
            break
        if not any(start < cut < end for start, end in spans):
            return cut
    inside = next((start for start, end in spans if start < limit < end), 0)
    return inside if inside > 0 else limit


def trim(text: str, limit: int, note: str = "…") -> str:
    """At most `limit` characters, ending in `note` when cut."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(note) - 1)].rstrip() + "\n" + note


# ---- Block Kit -----------------------------------------------------------------------------


def reply_posts(markdown: str, *, error: bool = False) -> list[SlackPost]:
    """The Slack messages of one reply: headers, dividers and sections, split to Slack's limits."""
    blocks = _blocks(markdown, error=error)
    posts: list[SlackPost] = []
    current: list[dict[str, Any]] = []
    size = 0
    for block in blocks:
        length = _block_length(block)
        if current and (size + length > MESSAGE_BUDGET or len(current) >= 45):
            posts.append(_post(current))
            current, size = [], 0
        current.append(block)
        size += length
    if current:
        posts.append(_post(current))
    if not posts:
        posts = [_post([_section("_(no answer)_")])]
    if len(posts) > MAX_MESSAGES:
        posts = posts[:MAX_MESSAGES]
        note = {"type": "context", "elements": [_mrkdwn(TRIMMED_NOTE)]}
        posts[-1] = _post([*posts[-1].blocks, note])
    return posts


def _blocks(markdown: str, *, error: bool) -> list[dict[str, Any]]:
    """Markdown headings become header blocks, rules dividers, the rest mrkdwn sections."""
    blocks: list[dict[str, Any]] = []
    pending: list[str] = []

    def flush() -> None:
        text = to_mrkdwn("\n".join(pending)).strip()
        pending.clear()
        blocks.extend(_section(piece) for piece in split_text(text, SECTION_LIMIT) if text)

    in_code = False
    for line in markdown.replace("\r\n", "\n").split("\n"):
        if _FENCE.match(line):
            in_code = not in_code
        heading = None if in_code else _HEADING.match(line)
        if heading and len(heading.group(1)) <= 2:
            flush()
            blocks.append(_header(heading.group(2)))
        elif not in_code and _RULE.match(line):
            flush()
            blocks.append({"type": "divider"})
        else:
            pending.append(line)
    flush()
    if error:
        first = next((b for b in blocks if b["type"] == "section"), None)
        if first is None:
            blocks.insert(0, first := _section(""))
        text = first["text"]["text"]
        if not text.startswith((":warning:", "⚠")):
            first["text"]["text"] = trim(f":warning: {text}".strip(), SECTION_LIMIT)
    while blocks and blocks[-1]["type"] == "divider":
        blocks.pop()
    return blocks


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": _mrkdwn(text)}


def _header(text: str) -> dict[str, Any]:
    """A header block: plain text, so the Markdown emphasis goes, and nothing else.

    Underscores stay: they belong to hashtags and handles (#cat_videos, @leo_cats).
    """
    plain = _LINK.sub(lambda m: m.group(1), text)
    plain = _BOLD.sub(lambda m: m.group(2), plain)
    plain = _STRIKE.sub(lambda m: m.group(1), plain)
    plain = _ITALIC_STAR.sub(lambda m: m.group(1), plain)
    plain = plain.replace("`", "").strip() or " "
    return {"type": "header", "text": {"type": "plain_text", "text": trim(plain, HEADER_LIMIT)}}


def _block_text(block: dict[str, Any]) -> str:
    text = block.get("text")
    return str(text.get("text", "")) if isinstance(text, dict) else ""


def _block_length(block: dict[str, Any]) -> int:
    return len(_block_text(block)) + 1


def _post(blocks: list[dict[str, Any]]) -> SlackPost:
    fallback = "\n".join(_block_text(b) for b in blocks if _block_text(b)).strip()
    return SlackPost(text=trim(fallback or " ", FALLBACK_LIMIT), blocks=blocks)


def files_note(names: list[str]) -> str:
    """The comment shared with the files: which exports and charts these are."""
    return "Files: " + ", ".join(f"`{escape(name)}`" for name in names)
