"""Storage against a real SQLite file: migrations, privacy of what is stored, concurrency."""

from __future__ import annotations

import asyncio
import csv
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.storage import MIGRATIONS, SCHEMA_VERSION, Storage, StorageError
from tests.conftest import run_bot

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def build_at(path: Path, version: int) -> None:
    """A database as an older bot left it: migrations up to `version`, with a row in it."""
    with sqlite3.connect(path) as conn:
        for v in range(version):
            for statement in MIGRATIONS[v]:
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {version}")
        if version >= 1:
            conn.execute("INSERT INTO unanswered (asked_at, kind, text) VALUES (?, 'fallback', 'gammelt spørgsmål')",
                         (NOW.isoformat(),))


@pytest.mark.parametrize("version", range(SCHEMA_VERSION + 1))
async def test_migrates_from_every_earlier_version_and_keeps_rows(tmp_path: Path, version: int) -> None:
    path = tmp_path / "bot.sqlite3"
    build_at(path, version)
    store = await Storage.open(path)
    try:
        assert await store.version() == SCHEMA_VERSION
        rows = await store.unanswered_since(NOW - timedelta(days=1))
        assert [r.text for r in rows] == (["gammelt spørgsmål"] if version >= 1 else [])
    finally:
        await store.close()


async def test_opening_twice_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    for _ in range(2):
        store = await Storage.open(path)
        await store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_a_newer_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    build_at(path, SCHEMA_VERSION)
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StorageError, match="newer than this bot"):
        await Storage.open(path)


async def test_only_unanswered_questions_keep_their_text(tmp_path: Path) -> None:
    store = await Storage.open(tmp_path / "bot.sqlite3")
    try:
        await store.log_question(kind="answer", entry_id="pcv", score=0.9, text="hvad er pcv", at=NOW)
        await store.log_question(kind="crisis", entry_id=None, score=None, text=None, at=NOW)
        await store.log_question(kind="fallback", entry_id=None, score=None, text="hvad koster det", at=NOW)
        assert [r.text for r in await store.unanswered_since(NOW - timedelta(hours=1))] == ["hvad koster det"]
        assert [r.kind for r in await store.questions_since(NOW - timedelta(hours=1))] == ["answer", "crisis", "fallback"]
    finally:
        await store.close()
    with sqlite3.connect(tmp_path / "bot.sqlite3") as conn:
        texts = [row for table in ("questions", "answers") for row in conn.execute(f"SELECT * FROM {table}")]
    assert not any("hvad er pcv" in str(row) for row in texts)


async def test_concurrent_writers_do_not_share_a_transaction(tmp_path: Path) -> None:
    store = await Storage.open(tmp_path / "bot.sqlite3")
    try:
        async def member(i: int) -> None:
            answer = await store.new_answer("pcv", NOW)
            await store.vote(answer, i, 1, NOW)
            await store.log_question(kind="fallback", entry_id=None, score=None, text=f"q{i}", at=NOW)

        await asyncio.gather(*(member(i) for i in range(50)))
        assert len(await store.unanswered_since(NOW - timedelta(hours=1))) == 50
        assert (await store.votes_per_entry(NOW - timedelta(hours=1)))["pcv"] == (50, 0)
    finally:
        await store.close()


async def test_failed_write_is_rolled_back(tmp_path: Path) -> None:
    store = await Storage.open(tmp_path / "bot.sqlite3")
    try:
        with pytest.raises(sqlite3.IntegrityError):
            await store.log_question(kind="nonsense", entry_id=None, score=None, text="x", at=NOW)
        await store.log_question(kind="fallback", entry_id=None, score=None, text="y", at=NOW)
        assert [r.text for r in await store.unanswered_since(NOW - timedelta(hours=1))] == ["y"]
    finally:
        await store.close()


def test_export_unanswered_writes_grouped_csv(tmp_path: Path) -> None:
    db = tmp_path / "bot.sqlite3"

    async def fill() -> None:
        store = await Storage.open(db)
        now = datetime.now(UTC)
        for text in ("hvad koster et medlemskab", "Hvad koster et medlemskab?", "hvornår er landsmødet"):
            await store.log_question(kind="fallback", entry_id=None, score=None, text=text, at=now)
        await store.close()

    asyncio.run(fill())
    out = tmp_path / "ubesvarede.csv"
    result = run_bot("export-unanswered", str(out), env={"BOT_DB": str(db)})
    assert result.returncode == 0, result.stderr
    with out.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert rows[0]["antal"] == "2" and "medlemskab" in rows[0]["spørgsmål"]
    assert rows[1]["antal"] == "1" and rows[1]["spørgsmål"] == "hvornår er landsmødet"


def test_export_without_database_says_so(tmp_path: Path) -> None:
    result = run_bot("export-unanswered", str(tmp_path / "x.csv"), env={"BOT_DB": str(tmp_path / "none.sqlite3")})
    assert result.returncode == 1 and "databasen findes ikke" in result.stderr
