"""Reply -> what a person reads: plain text (terminal, `ask`) and JSON (`ask --json`).

Telegram HTML and keyboards are rendered in bot/telegram/; the plain text here is the
reference form of every reply.
"""

from __future__ import annotations

import json
from typing import Any

from bot.engine import Reply


def to_text(reply: Reply) -> str:
    parts = [reply.body.strip()]
    if reply.source:
        parts.append(f"Kilde: {reply.source}")
    if reply.topics:
        parts.append("\n".join(f"• {title}" for _, title in reply.topics))
    if reply.links:
        parts.append("\n".join(f"Læs mere: {link.title} – {link.url}" for link in reply.links))
    return "\n\n".join(parts)


def to_json(reply: Reply) -> dict[str, Any]:
    return {
        "kind": reply.kind,
        "text": to_text(reply),
        "entry": reply.entry,
        "score": reply.score,
        # The document the answer rests on (it has no URL of its own), then its links.
        "sources": ([{"title": reply.source, "url": None}] if reply.source else [])
        + [{"title": link.title, "url": link.url} for link in reply.links],
        "suggestions": [{"entry": s.entry, "title": s.title} for s in reply.suggestions],
    }


def to_json_line(reply: Reply) -> str:
    return json.dumps(to_json(reply), ensure_ascii=False)
