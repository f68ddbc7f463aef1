"""Privacy: what a member can see and delete, retention, backups, and logs without secrets."""

from __future__ import annotations

import logging
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from telegram import Update

from bot.storage import Storage
from tests.conftest import run_bot
from tests.fakes import TOKEN, FakeTelegram
from tests.conftest import COORDINATOR, Harness

MEMBER = 777001
OTHER = 777002


async def member_activity(bot: Harness, user: int) -> None:
    """A member who does everything: asks, votes, subscribes, quizzes, joins a group quiz."""
    (answer,) = await bot.say("hvad er oslo standarden", user_id=user)
    up = next(b["callback_data"] for b in FakeTelegram.buttons(answer) if b["text"] == "👍")
    await bot.tap(bot.fake.last_message(user), up, user_id=user)
    await bot.say("hvem vinder fodboldkampen", user_id=user)
    await bot.tap(bot.fake.message_update("x", user_id=user)["message"], "sub|alle", user_id=user)
    _, question = await bot.say("/quiz", user_id=user)
    data = FakeTelegram.buttons(question)[0]["callback_data"]
    await bot.tap(bot.fake.last_message(user), data, user_id=user)
    await bot.say("/send_nu", user_id=COORDINATOR)
    from bot.telegram.campaign import deliver_pending

    await deliver_pending(bot.app)


def every_value(db: Path) -> list[tuple[str, str, object]]:
    """(table, column, value) for every cell of every table, read from the schema."""
    out = []
    with sqlite3.connect(db) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            columns = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
            for row in conn.execute(f"SELECT * FROM {table}"):
                out.extend((table, c, v) for c, v in zip(columns, row, strict=True))
    return out


async def test_delete_my_data_leaves_no_row_with_my_id_anywhere(bot: Harness) -> None:
    await member_activity(bot, MEMBER)
    await member_activity(bot, OTHER)
    voter = await bot.app.bot_data.db._voter(MEMBER)
    assert any(v in (MEMBER, voter) for _, _, v in every_value(bot.db))

    (shown,) = await bot.say("/mine_data", user_id=MEMBER)
    assert "tilmeldt (alle)" in shown["text"] and "1 runder" in shown["text"] and "1 stemmer" in shown["text"]

    (confirm,) = await bot.say("/slet_mine_data", user_id=MEMBER)
    no, ok = FakeTelegram.buttons(confirm)[1]["callback_data"], FakeTelegram.buttons(confirm)[0]["callback_data"]
    await bot.tap(bot.fake.last_message(MEMBER), no, user_id=MEMBER)
    assert any(v == MEMBER for _, _, v in every_value(bot.db))  # "Nej" deletes nothing
    calls = await bot.tap(bot.fake.last_message(MEMBER), ok, user_id=MEMBER)
    assert "Dine data er slettet" in [p for m, p in calls if m == "editMessageText"][0]["text"]

    leftovers = [(t, c) for t, c, v in every_value(bot.db) if v in (MEMBER, voter, str(MEMBER))]
    assert leftovers == []
    assert any(v == OTHER for _, _, v in every_value(bot.db))  # the other member keeps theirs
    (after,) = await bot.say("/mine_data", user_id=MEMBER)
    assert "ikke tilmeldt" in after["text"] and "0 runder" in after["text"]


async def test_privacy_text(bot: Harness) -> None:
    (msg,) = await bot.say("/privatliv")
    assert "90 dage" in msg["text"] and "/slet_mine_data" in msg["text"] and "fare for liv" in msg["text"]


async def test_retention_deletes_old_question_texts(tmp_path: Path) -> None:
    store = await Storage.open(tmp_path / "bot.sqlite3")
    now = datetime(2026, 11, 22, tzinfo=UTC)
    await store.log_question(kind="fallback", entry_id=None, score=None, text="gammel", at=now - timedelta(days=91))
    await store.log_question(kind="fallback", entry_id=None, score=None, text="ny", at=now - timedelta(days=89))
    assert await store.forget_old_questions(now - timedelta(days=90)) == 1
    assert [r.text for r in await store.unanswered_since(now - timedelta(days=365))] == ["ny"]
    await store.close()


async def test_backup_while_running_and_restore(tmp_path: Path) -> None:
    db = tmp_path / "bot.sqlite3"
    store = await Storage.open(db)  # the running bot holds the database open
    now = datetime.now(UTC)
    await store.log_question(kind="fallback", entry_id=None, score=None, text="før kopien", at=now)
    result = run_bot("backup", str(tmp_path / "kopi.sqlite3"), env={"BOT_DB": str(db)})
    assert result.returncode == 0, result.stderr
    await store.log_question(kind="fallback", entry_id=None, score=None, text="efter kopien", at=now)
    await store.close()
    # restore: the copy replaces the database
    db.unlink()
    for extra in (Path(f"{db}-wal"), Path(f"{db}-shm")):
        extra.unlink(missing_ok=True)
    (tmp_path / "kopi.sqlite3").rename(db)
    store = await Storage.open(db)
    assert [r.text for r in await store.unanswered_since(now - timedelta(hours=1))] == ["før kopien"]
    await store.close()
    again = run_bot("backup", str(db), env={"BOT_DB": str(db)})
    assert again.returncode == 1 and "findes allerede" in again.stderr


async def test_no_log_line_holds_text_names_or_token(bot: Harness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secret_text = "hemmeligt spørgsmål om min bror Mogens"
    update = bot.fake.message_update(secret_text, user_id=MEMBER)
    update["message"]["from"]["first_name"] = "Mogens"
    await bot.app.process_update(Update.de_json(update, bot.app.bot))
    await bot.say("jeg vil ikke leve mere", user_id=MEMBER)
    await member_activity(bot, MEMBER)
    await bot.app.bot_data.db.close()  # errors get logged too
    await bot.say("hvad er oslo standarden", user_id=MEMBER)
    text = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert caplog.records, "the session logged nothing at all"
    for secret in (secret_text, "Mogens", "ikke leve mere", "oslo standarden", TOKEN, TOKEN.split(":")[1]):
        assert secret not in text, secret
