"""The only module with SQL: schema, versioned migrations, and small async functions.

SQLite through aiosqlite, one connection per process:
- WAL journal, `synchronous=FULL` (a committed row survives a power cut; the bot writes a few
  rows per question, so the cost does not matter), `busy_timeout` 5 s, foreign keys on;
- every write runs in its own `BEGIN IMMEDIATE … COMMIT` under an asyncio lock, so two
  handlers never share a half-open transaction;
- `PRAGMA user_version` holds the schema version; MIGRATIONS take any earlier version to the
  newest, each step in one transaction.

Privacy: questions are counted without user id; only questions the bot could not answer keep
their text (for the coordinators' review list), also without user id. Feedback votes carry
a keyed hash of the voter, so one member has one vote per answer without storing who it is.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import aiosqlite

BUSY_TIMEOUT_MS = 5000

# Each migration is a list of statements run in one transaction; index i takes version i to i+1.
MIGRATIONS: list[list[str]] = [
    [
        """CREATE TABLE questions (
            id INTEGER PRIMARY KEY,
            asked_at TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('answer', 'suggest', 'fallback', 'crisis', 'intent')),
            entry_id TEXT,
            score REAL
        )""",
        "CREATE INDEX questions_asked_at ON questions (asked_at)",
        """CREATE TABLE unanswered (
            id INTEGER PRIMARY KEY,
            asked_at TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('suggest', 'fallback')),
            text TEXT NOT NULL
        )""",
        "CREATE INDEX unanswered_asked_at ON unanswered (asked_at)",
        """CREATE TABLE answers (
            id INTEGER PRIMARY KEY,
            entry_id TEXT NOT NULL,
            sent_at TEXT NOT NULL
        )""",
        """CREATE TABLE feedback (
            answer_id INTEGER NOT NULL REFERENCES answers (id) ON DELETE CASCADE,
            voter TEXT NOT NULL,
            vote INTEGER NOT NULL CHECK (vote IN (-1, 1)),
            voted_at TEXT NOT NULL,
            PRIMARY KEY (answer_id, voter)
        )""",
        """CREATE TABLE coordinators (
            user_id INTEGER PRIMARY KEY,
            added_by INTEGER,
            added_at TEXT NOT NULL
        )""",
        """CREATE TABLE meta (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        )""",
    ],
]
SCHEMA_VERSION = len(MIGRATIONS)


class StorageError(Exception):
    pass


@dataclass(frozen=True)
class QuestionRow:
    asked_at: datetime
    kind: str
    entry_id: str | None


@dataclass(frozen=True)
class UnansweredRow:
    asked_at: datetime
    kind: str
    text: str


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return moment.isoformat()


class Storage:
    def __init__(self, conn: aiosqlite.Connection, path: Path):
        self._conn = conn
        self.path = path
        self._lock = asyncio.Lock()
        self._salt: bytes | None = None

    # -- opening -------------------------------------------------------------------------

    @classmethod
    async def open(cls, path: Path) -> Storage:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(path, isolation_level=None)
        store = cls(conn, path)
        try:
            await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            await conn.execute("PRAGMA journal_mode = WAL")
            await conn.execute("PRAGMA synchronous = FULL")
            await conn.execute("PRAGMA foreign_keys = ON")
            async with conn.execute("PRAGMA integrity_check") as cur:
                result = [row[0] for row in await cur.fetchall()]
            if result != ["ok"]:
                raise StorageError(f"{path}: integrity_check failed: {'; '.join(result[:5])}")
            await store.migrate()
        except BaseException:
            await conn.close()
            raise
        return store

    async def close(self) -> None:
        await self._conn.close()

    async def version(self) -> int:
        async with self._conn.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def migrate(self) -> None:
        current = await self.version()
        if current > SCHEMA_VERSION:
            raise StorageError(
                f"{self.path}: database schema version {current} is newer than this bot "
                f"({SCHEMA_VERSION}); update the bot"
            )
        for version in range(current, SCHEMA_VERSION):
            async with self._tx() as conn:
                for statement in MIGRATIONS[version]:
                    await conn.execute(statement)
                await conn.execute(f"PRAGMA user_version = {version + 1}")

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            await self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                await self._conn.execute("ROLLBACK")
                raise
            await self._conn.execute("COMMIT")

    async def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        async with self._lock:
            async with self._conn.execute(sql, params) as cur:
                return [tuple(r) for r in await cur.fetchall()]

    # -- questions -----------------------------------------------------------------------

    async def log_question(self, *, kind: str, entry_id: str | None, score: float | None,
                           text: str | None, at: datetime) -> None:
        """Count a question; keep its text only when the bot could not answer it."""
        async with self._tx() as conn:
            await conn.execute(
                "INSERT INTO questions (asked_at, kind, entry_id, score) VALUES (?, ?, ?, ?)",
                (_iso(at), kind, entry_id, score),
            )
            if kind in ("suggest", "fallback") and text:
                await conn.execute(
                    "INSERT INTO unanswered (asked_at, kind, text) VALUES (?, ?, ?)",
                    (_iso(at), kind, text),
                )

    async def questions_since(self, since: datetime) -> list[QuestionRow]:
        rows = await self._read(
            "SELECT asked_at, kind, entry_id FROM questions WHERE asked_at >= ? ORDER BY asked_at",
            (_iso(since),),
        )
        return [QuestionRow(datetime.fromisoformat(a), k, e) for a, k, e in rows]

    async def unanswered_since(self, since: datetime) -> list[UnansweredRow]:
        rows = await self._read(
            "SELECT asked_at, kind, text FROM unanswered WHERE asked_at >= ? ORDER BY asked_at",
            (_iso(since),),
        )
        return [UnansweredRow(datetime.fromisoformat(a), k, t) for a, k, t in rows]

    # -- answers and feedback ------------------------------------------------------------

    async def new_answer(self, entry_id: str, at: datetime) -> int:
        async with self._tx() as conn:
            cur = await conn.execute(
                "INSERT INTO answers (entry_id, sent_at) VALUES (?, ?)", (entry_id, _iso(at))
            )
            return int(cur.lastrowid or 0)

    async def answer_entry(self, answer_id: int) -> str | None:
        rows = await self._read("SELECT entry_id FROM answers WHERE id = ?", (answer_id,))
        return rows[0][0] if rows else None

    async def _voter(self, user_id: int) -> str:
        if self._salt is None:
            async with self._tx() as conn:
                async with conn.execute("SELECT value FROM meta WHERE key = 'voter_salt'") as cur:
                    row = await cur.fetchone()
                if row is None:
                    value = secrets.token_hex(32)
                    await conn.execute("INSERT INTO meta (key, value) VALUES ('voter_salt', ?)", (value,))
                else:
                    value = row[0]
            self._salt = bytes.fromhex(value)
        return hmac.new(self._salt, str(user_id).encode(), hashlib.sha256).hexdigest()

    async def vote(self, answer_id: int, user_id: int, vote: int, at: datetime) -> str:
        """Record a 👍 (1) or 👎 (-1): 'new', 'changed', 'same', or 'unknown' (no such answer)."""
        voter = await self._voter(user_id)
        async with self._tx() as conn:
            async with conn.execute("SELECT 1 FROM answers WHERE id = ?", (answer_id,)) as cur:
                if await cur.fetchone() is None:
                    return "unknown"
            async with conn.execute(
                "SELECT vote FROM feedback WHERE answer_id = ? AND voter = ?", (answer_id, voter)
            ) as cur:
                row = await cur.fetchone()
            if row is not None and row[0] == vote:
                return "same"
            await conn.execute(
                "INSERT INTO feedback (answer_id, voter, vote, voted_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (answer_id, voter) DO UPDATE SET vote = excluded.vote, voted_at = excluded.voted_at",
                (answer_id, voter, vote, _iso(at)),
            )
            return "new" if row is None else "changed"

    async def votes_per_entry(self, since: datetime) -> dict[str, tuple[int, int]]:
        rows = await self._read(
            "SELECT a.entry_id, SUM(f.vote = 1), SUM(f.vote = -1) FROM feedback f "
            "JOIN answers a ON a.id = f.answer_id WHERE f.voted_at >= ? GROUP BY a.entry_id",
            (_iso(since),),
        )
        return {e: (int(up or 0), int(down or 0)) for e, up, down in rows}

    # -- coordinators --------------------------------------------------------------------

    async def coordinators(self) -> set[int]:
        return {int(r[0]) for r in await self._read("SELECT user_id FROM coordinators")}

    async def add_coordinator(self, user_id: int, added_by: int | None, at: datetime) -> bool:
        async with self._tx() as conn:
            cur = await conn.execute(
                "INSERT OR IGNORE INTO coordinators (user_id, added_by, added_at) VALUES (?, ?, ?)",
                (user_id, added_by, _iso(at)),
            )
            return cur.rowcount == 1

    async def remove_coordinator(self, user_id: int) -> bool:
        async with self._tx() as conn:
            cur = await conn.execute("DELETE FROM coordinators WHERE user_id = ?", (user_id,))
            return cur.rowcount == 1
