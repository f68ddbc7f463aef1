"""Reply -> Telegram HTML and inline keyboards; callback data in and out.

Telegram limits: a message is at most 4,096 characters (counted in UTF-16 code units) and a
button's callback_data at most 64 bytes (UTF-8). Everything that did not come from us is
escaped with html.escape; everything from the knowledge base is escaped too.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.engine import Reply
from bot.knowledge import Knowledge

MAX_MESSAGE = 4096
MAX_CALLBACK = 64
MAX_BUTTON_TEXT = 60
SEP = "|"


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def split_message(text: str, limit: int = MAX_MESSAGE) -> list[str]:
    """Split between paragraphs (then lines, then words) so no part exceeds `limit`.

    Our HTML never opens a tag on one line and closes it on another, so a split at a line
    break keeps every part valid.
    """
    parts: list[str] = []
    current = ""
    for paragraph in text.split("\n\n"):
        for piece in _fit(paragraph, limit):
            candidate = f"{current}\n\n{piece}" if current else piece
            if utf16_len(candidate) <= limit:
                current = candidate
            else:
                parts.append(current)
                current = piece
    if current:
        parts.append(current)
    return parts or [text[:1] or " "]


def _fit(text: str, limit: int) -> list[str]:
    """`text` in pieces of at most `limit`: whole lines where possible, else words, else cut."""
    if utf16_len(text) <= limit:
        return [text]
    pieces: list[str] = []
    current = ""
    for line in text.split("\n"):
        for word in _words_of(line, limit):
            sep = " " if current and not current.endswith("\n") else ""
            candidate = current + sep + word
            if utf16_len(candidate) <= limit:
                current = candidate
            else:
                pieces.append(current)
                current = word
        if utf16_len(current + "\n") <= limit:
            current += "\n"
    pieces.append(current.rstrip("\n"))
    return [p for p in pieces if p]


def _words_of(line: str, limit: int) -> list[str]:
    out = []
    for word in line.split(" "):
        while utf16_len(word) > limit:
            cut = limit // 2  # a UTF-16 unit count: surrogate pairs take two
            out.append(word[:cut])
            word = word[cut:]
        out.append(word)
    return out


def short(text: str, limit: int = MAX_BUTTON_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# -- callback data -------------------------------------------------------------------------

@dataclass(frozen=True)
class Callback:
    action: str  # a = answer entry, t = topic, T = topic list, v = vote
    args: tuple[str, ...]


def callback(action: str, *args: object) -> str:
    data = SEP.join([action, *map(str, args)])
    if len(data.encode("utf-8")) > MAX_CALLBACK:
        raise ValueError(f"callback data over {MAX_CALLBACK} bytes: {data!r}")
    return data


def parse_callback(data: str | None) -> Callback | None:
    if not data or len(data.encode("utf-8")) > MAX_CALLBACK:
        return None
    action, *args = data.split(SEP)
    return Callback(action, tuple(args))


# -- replies ------------------------------------------------------------------------------

def reply_html(reply: Reply) -> str:
    parts = [escape(reply.body.strip())]
    if reply.source:
        parts.append(f"<i>Kilde: {escape(reply.source)}</i>")
    return "\n\n".join(parts)


def reply_keyboard(reply: Reply, answer_id: int | None = None) -> InlineKeyboardMarkup | None:
    rows: list[list[InlineKeyboardButton]] = []
    for link in reply.links:
        rows.append([InlineKeyboardButton(short(f"Læs mere: {link.title}"), url=link.url)])
    for ref in reply.suggestions:
        rows.append([InlineKeyboardButton(short(ref.title), callback_data=callback("a", ref.entry))])
    for ref in reply.related:
        rows.append([InlineKeyboardButton(short(f"↪ {ref.title}"), callback_data=callback("a", ref.entry))])
    if reply.topics:
        rows.extend(topic_rows(reply.topics))
    if answer_id is not None:
        rows.append([
            InlineKeyboardButton("👍", callback_data=callback("v", answer_id, "u")),
            InlineKeyboardButton("👎", callback_data=callback("v", answer_id, "d")),
        ])
    return InlineKeyboardMarkup(rows) if rows else None


def topic_rows(topics: tuple[tuple[str, str], ...]) -> list[list[InlineKeyboardButton]]:
    return [[InlineKeyboardButton(short(title), callback_data=callback("t", topic_id, 0))]
            for topic_id, title in topics]


TOPIC_PAGE = 8


def topic_page(knowledge: Knowledge, topic_id: str, page: int) -> tuple[str, InlineKeyboardMarkup] | None:
    topic = knowledge.topics.get(topic_id)
    if topic is None:
        return None
    entries = sorted((e for e in knowledge.entries if e.topic == topic_id),
                     key=lambda e: (e.type not in ("overview", "document"), e.title))
    pages = max(1, -(-len(entries) // TOPIC_PAGE))
    page = max(0, min(page, pages - 1))
    chunk = entries[page * TOPIC_PAGE:(page + 1) * TOPIC_PAGE]
    rows = [[InlineKeyboardButton(short(e.title), callback_data=callback("a", e.id))] for e in chunk]
    nav = []
    if page > 0:
        nav.append(InlineKeyboardButton("◀ Forrige", callback_data=callback("t", topic_id, page - 1)))
    nav.append(InlineKeyboardButton("Alle emner", callback_data=callback("T")))
    if topic.group == "maerkesag" and topic.id != "maerkesager":
        # each mærkesag is a quiz theme of its own (see bot.quiz.themes)
        rows.append([InlineKeyboardButton("🧠 Quiz om emnet", callback_data=callback("qs", topic.id))])
    if page < pages - 1:
        nav.append(InlineKeyboardButton("Næste ▶", callback_data=callback("t", topic_id, page + 1)))
    rows.append(nav)
    text = f"<b>{escape(topic.title)}</b>\nVælg et spørgsmål ({page + 1}/{pages}):"
    return text, InlineKeyboardMarkup(rows)
