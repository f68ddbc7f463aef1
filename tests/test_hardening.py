"""Hardening: arbitrary Unicode through the engine and the Telegram renderer, and a process
killed right after a commit."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import sys
from html.parser import HTMLParser
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.engine import Engine
from bot.render import to_json, to_text
from bot.telegram.render import MAX_CALLBACK, reply_html, reply_keyboard, split_message, utf16_len

ALLOWED_TAGS = {"b", "i", "a", "code"}

nasty = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=st.characters(blacklist_categories=()), max_size=200),
    st.sampled_from(["\u200b\u200c\u200d", "\u202e\u202d", "<b>fed</b>", "<script>alert(1)</script>", "&amp; &lt;",
                     "æøå ÆØÅ", "🙂" * 50, "\x00\x07\x1b", "selvmord " * 100, "ᚠᛇᚻ", "مرحبا", "שלום"]),
    st.builds(lambda s, n: s * n, st.text(min_size=1, max_size=20), st.integers(1, 600)),
)


class TagChecker(HTMLParser):
    """Telegram HTML: only the tags we use, properly nested."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.bad: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self.bad.append(tag)
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.bad.append(f"/{tag}")


def valid_telegram_html(text: str) -> bool:
    checker = TagChecker()
    checker.feed(text)
    checker.close()
    return not checker.bad and not checker.stack


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(message=nasty)
def test_any_message_gets_a_valid_reply(engine: Engine, message: str) -> None:
    reply = engine.reply(message)
    text = to_text(reply)
    assert 1 <= utf16_len(text)
    assert to_json(reply)["kind"] in ("answer", "suggest", "fallback", "crisis", "intent")
    html = reply_html(reply)
    for part in split_message(html):
        assert 1 <= utf16_len(part) <= 4096
        assert valid_telegram_html(part)
    # whatever the member wrote never reaches the HTML unescaped
    if "<" in message:
        assert "<script" not in html
    keyboard = reply_keyboard(reply, answer_id=2**62)
    for row in (keyboard.inline_keyboard if keyboard else ()):
        for button in row:
            if button.callback_data is not None:
                assert len(str(button.callback_data).encode()) <= MAX_CALLBACK


def test_a_10000_character_message(engine: Engine) -> None:
    reply = engine.reply("pårørende " * 1000)
    assert all(utf16_len(p) <= 4096 for p in split_message(reply_html(reply)))


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=20_000))
def test_split_message_never_exceeds_the_limit_and_keeps_the_text(text: str) -> None:
    parts = split_message(text)
    assert all(1 <= utf16_len(p) <= 4096 for p in parts) or text == ""
    if text.strip():
        assert "".join(parts).replace(" ", "").replace("\n", "") == text.replace(" ", "").replace("\n", "")


KILLER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA journal_mode = WAL"); conn.execute("PRAGMA synchronous = FULL")
conn.execute("BEGIN IMMEDIATE")
conn.execute("INSERT INTO unanswered (asked_at, kind, text) VALUES ('2026-11-22T09:00:00+00:00', 'fallback', 'committed')")
conn.execute("COMMIT")
print("committed", flush=True)
conn.execute("BEGIN IMMEDIATE")
conn.execute("INSERT INTO unanswered (asked_at, kind, text) VALUES ('2026-11-22T09:00:00+00:00', 'fallback', 'open')")
import time; time.sleep(60)
"""


async def test_sigkill_right_after_a_commit_keeps_the_row_and_a_sound_file(tmp_path: Path) -> None:
    from bot.storage import Storage

    db = tmp_path / "bot.sqlite3"
    store = await Storage.open(db)
    await store.close()
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", KILLER, str(db),
                                                stdout=asyncio.subprocess.PIPE)
    assert (await asyncio.wait_for(proc.stdout.readline(), 20)).strip() == b"committed"  # type: ignore[union-attr]
    proc.send_signal(signal.SIGKILL)
    await proc.wait()
    store = await Storage.open(db)  # runs integrity_check
    await store.close()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert [t for (t,) in conn.execute("SELECT text FROM unanswered")] == ["committed"]
