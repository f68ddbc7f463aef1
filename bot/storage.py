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
import json
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
# v2: quiz rounds, answers, spaced repetition, group polls.
MIGRATIONS.append([
    """CREATE TABLE quiz_rounds (
        id INTEGER PRIMARY KEY,
        user_id INTEGER NOT NULL,
        chat_id INTEGER NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('private', 'group')),
        theme TEXT NOT NULL,
        asked TEXT NOT NULL,
        position INTEGER NOT NULL DEFAULT 0,
        score INTEGER NOT NULL DEFAULT 0,
        state TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'done', 'abandoned')),
        started_at TEXT NOT NULL,
        finished_at TEXT
    )""",
    "CREATE INDEX quiz_rounds_user ON quiz_rounds (user_id, state)",
    """CREATE TABLE quiz_answers (
        round_id INTEGER NOT NULL REFERENCES quiz_rounds (id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        user_id INTEGER NOT NULL,
        question_id TEXT NOT NULL,
        chosen INTEGER NOT NULL,
        correct INTEGER NOT NULL CHECK (correct IN (0, 1)),
        answered_at TEXT NOT NULL,
        PRIMARY KEY (round_id, position, user_id)
    )""",
    "CREATE INDEX quiz_answers_time ON quiz_answers (answered_at)",
    """CREATE TABLE quiz_repetition (
        user_id INTEGER NOT NULL,
        question_id TEXT NOT NULL,
        streak INTEGER NOT NULL,
        level INTEGER NOT NULL,
        due_at TEXT NOT NULL,
        PRIMARY KEY (user_id, question_id)
    )""",
    """CREATE TABLE quiz_polls (
        poll_id TEXT PRIMARY KEY,
        round_id INTEGER NOT NULL REFERENCES quiz_rounds (id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        question_id TEXT NOT NULL,
        correct_option INTEGER NOT NULL
    )""",
    """CREATE TABLE quiz_players (
        round_id INTEGER NOT NULL REFERENCES quiz_rounds (id) ON DELETE CASCADE,
        user_id INTEGER NOT NULL,
        name TEXT NOT NULL,
        PRIMARY KEY (round_id, user_id)
    )""",
])
# v3: daily talking points: subscribers, the point queue, custom points, broadcasts and the
# outbox (one row per broadcast and chat, sent at most once).
MIGRATIONS.append([
    """CREATE TABLE subscribers (
        chat_id INTEGER PRIMARY KEY,
        theme TEXT NOT NULL CHECK (theme IN ('alle', 'maerkesager', 'regionale')),
        cycle INTEGER NOT NULL DEFAULT 0,
        subscribed_at TEXT NOT NULL
    )""",
    """CREATE TABLE custom_points (
        id TEXT PRIMARY KEY,
        text TEXT NOT NULL,
        created_by INTEGER NOT NULL,
        created_at TEXT NOT NULL
    )""",
    """CREATE TABLE point_queue (
        point_id TEXT PRIMARY KEY,
        position INTEGER NOT NULL
    )""",
    """CREATE TABLE point_deliveries (
        chat_id INTEGER NOT NULL,
        point_id TEXT NOT NULL,
        cycle INTEGER NOT NULL,
        PRIMARY KEY (chat_id, point_id, cycle)
    )""",
    """CREATE TABLE broadcasts (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('daily', 'manual')),
        day TEXT,
        created_at TEXT NOT NULL,
        UNIQUE (kind, day)
    )""",
    """CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        broadcast_id INTEGER NOT NULL REFERENCES broadcasts (id) ON DELETE CASCADE,
        chat_id INTEGER NOT NULL,
        point_id TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending'
            CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'uncertain')),
        attempts INTEGER NOT NULL DEFAULT 0,
        error TEXT,
        updated_at TEXT NOT NULL,
        UNIQUE (broadcast_id, chat_id)
    )""",
    "CREATE INDEX outbox_state ON outbox (state)",
])
# v4: updates seen, so one delivered twice (a webhook retry) has one effect.
MIGRATIONS.append([
    """CREATE TABLE seen_updates (
        update_id INTEGER PRIMARY KEY,
        seen_at TEXT NOT NULL
    )""",
    "CREATE INDEX seen_updates_time ON seen_updates (seen_at)",
])
SCHEMA_VERSION = len(MIGRATIONS)


class StorageError(Exception):
    pass


@dataclass(frozen=True)
class QuestionRow:
    asked_at: datetime
    kind: str
    entry_id: str | None


@dataclass(frozen=True)
class QuizRound:
    id: int
    user_id: int
    chat_id: int
    kind: str
    theme: str
    asked: list[tuple[str, tuple[int, ...]]]  # (question id, option order) per position
    position: int
    score: int
    state: str
    started_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True)
class QuizAnswerRow:
    round_id: int
    user_id: int
    question_id: str
    correct: bool
    theme: str


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

    # -- quiz ----------------------------------------------------------------------------

    async def create_quiz_round(self, *, user_id: int, chat_id: int, kind: str, theme: str,
                                asked: list[tuple[str, tuple[int, ...]]], at: datetime) -> int:
        async with self._tx() as conn:
            if kind == "private":  # one active round per volunteer and chat
                await conn.execute(
                    "UPDATE quiz_rounds SET state = 'abandoned', finished_at = ? "
                    "WHERE user_id = ? AND chat_id = ? AND state = 'active'", (_iso(at), user_id, chat_id),
                )
            cur = await conn.execute(
                "INSERT INTO quiz_rounds (user_id, chat_id, kind, theme, asked, started_at) VALUES (?, ?, ?, ?, ?, ?)",
                (user_id, chat_id, kind, theme, json.dumps([[q, list(o)] for q, o in asked]), _iso(at)),
            )
            return int(cur.lastrowid or 0)

    @staticmethod
    def _round(row: tuple[Any, ...]) -> QuizRound:
        rid, user_id, chat_id, kind, theme, asked, position, score, state, started, finished = row
        return QuizRound(rid, user_id, chat_id, kind, theme,
                         [(q, tuple(o)) for q, o in json.loads(asked)], position, score, state,
                         datetime.fromisoformat(started),
                         datetime.fromisoformat(finished) if finished else None)

    _ROUND_COLUMNS = ("id, user_id, chat_id, kind, theme, asked, position, score, state, "
                      "started_at, finished_at")

    async def quiz_round(self, round_id: int) -> QuizRound | None:
        rows = await self._read(f"SELECT {self._ROUND_COLUMNS} FROM quiz_rounds WHERE id = ?", (round_id,))
        return self._round(rows[0]) if rows else None

    async def active_quiz_round(self, user_id: int, chat_id: int) -> QuizRound | None:
        rows = await self._read(
            f"SELECT {self._ROUND_COLUMNS} FROM quiz_rounds WHERE user_id = ? AND chat_id = ? "
            "AND state = 'active' AND kind = 'private' ORDER BY id DESC LIMIT 1", (user_id, chat_id),
        )
        return self._round(rows[0]) if rows else None

    async def quiz_repetitions(self, user_id: int) -> dict[str, tuple[int, int, datetime]]:
        """question id -> (streak, level, due_at)."""
        rows = await self._read(
            "SELECT question_id, streak, level, due_at FROM quiz_repetition WHERE user_id = ?", (user_id,)
        )
        return {q: (s, lv, datetime.fromisoformat(d)) for q, s, lv, d in rows}

    async def quiz_seen(self, user_id: int) -> dict[str, int]:
        rows = await self._read(
            "SELECT question_id, COUNT(*) FROM quiz_answers WHERE user_id = ? GROUP BY question_id", (user_id,)
        )
        return {q: int(n) for q, n in rows}

    async def answer_quiz(self, *, round_id: int, position: int, user_id: int, question_id: str,
                          chosen: int, correct: bool, at: datetime, advance: bool,
                          repetition: tuple[int, int, datetime] | None, keep_repetition: bool) -> bool:
        """Record one answer; False (and nothing changed) when it was answered already.

        `advance`: move the round on (private rounds). `repetition`: the new
        (streak, level, due_at), or None to drop the question from repetition.
        `keep_repetition`: leave repetition alone (group quizzes do not schedule).
        """
        async with self._tx() as conn:
            cur = await conn.execute(
                "INSERT OR IGNORE INTO quiz_answers (round_id, position, user_id, question_id, chosen, correct, answered_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (round_id, position, user_id, question_id, chosen, int(correct), _iso(at)),
            )
            if cur.rowcount != 1:
                return False
            if advance:
                await conn.execute(
                    "UPDATE quiz_rounds SET position = position + 1, score = score + ? WHERE id = ? AND position = ?",
                    (int(correct), round_id, position),
                )
            if not keep_repetition:
                if repetition is None:
                    await conn.execute("DELETE FROM quiz_repetition WHERE user_id = ? AND question_id = ?",
                                       (user_id, question_id))
                else:
                    streak, level, due = repetition
                    await conn.execute(
                        "INSERT INTO quiz_repetition (user_id, question_id, streak, level, due_at) VALUES (?, ?, ?, ?, ?) "
                        "ON CONFLICT (user_id, question_id) DO UPDATE SET streak = excluded.streak, "
                        "level = excluded.level, due_at = excluded.due_at",
                        (user_id, question_id, streak, level, _iso(due)),
                    )
            return True

    async def finish_quiz_round(self, round_id: int, at: datetime) -> None:
        async with self._tx() as conn:
            await conn.execute(
                "UPDATE quiz_rounds SET state = 'done', finished_at = ? WHERE id = ? AND state = 'active'",
                (_iso(at), round_id),
            )

    async def advance_group_round(self, round_id: int, position: int) -> bool:
        async with self._tx() as conn:
            cur = await conn.execute(
                "UPDATE quiz_rounds SET position = ? WHERE id = ? AND position = ? AND state = 'active'",
                (position + 1, round_id, position),
            )
            return cur.rowcount == 1

    async def earlier_quiz_scores(self, user_id: int, before_round: int) -> list[float]:
        rows = await self._read(
            "SELECT score, asked FROM quiz_rounds WHERE user_id = ? AND kind = 'private' AND state = 'done' AND id < ?",
            (user_id, before_round),
        )
        return [score / len(json.loads(asked)) for score, asked in rows if json.loads(asked)]

    async def round_answers(self, round_id: int) -> list[tuple[int, int, str, bool]]:
        """(position, user id, question id, correct) for every answer in a round."""
        rows = await self._read(
            "SELECT position, user_id, question_id, correct FROM quiz_answers WHERE round_id = ? ORDER BY position",
            (round_id,),
        )
        return [(p, u, q, bool(c)) for p, u, q, c in rows]

    async def save_quiz_poll(self, poll_id: str, round_id: int, position: int, question_id: str,
                             correct_option: int) -> None:
        async with self._tx() as conn:
            await conn.execute(
                "INSERT INTO quiz_polls (poll_id, round_id, position, question_id, correct_option) VALUES (?, ?, ?, ?, ?)",
                (poll_id, round_id, position, question_id, correct_option),
            )

    async def quiz_poll(self, poll_id: str) -> tuple[int, int, str, int] | None:
        rows = await self._read(
            "SELECT round_id, position, question_id, correct_option FROM quiz_polls WHERE poll_id = ?", (poll_id,)
        )
        return (int(rows[0][0]), int(rows[0][1]), rows[0][2], int(rows[0][3])) if rows else None

    async def add_quiz_player(self, round_id: int, user_id: int, name: str) -> None:
        async with self._tx() as conn:
            await conn.execute(
                "INSERT INTO quiz_players (round_id, user_id, name) VALUES (?, ?, ?) "
                "ON CONFLICT (round_id, user_id) DO UPDATE SET name = excluded.name",
                (round_id, user_id, name),
            )

    async def quiz_players(self, round_id: int) -> dict[int, str]:
        rows = await self._read("SELECT user_id, name FROM quiz_players WHERE round_id = ?", (round_id,))
        return {int(u): n for u, n in rows}

    async def quiz_answers_since(self, since: datetime, user_id: int | None = None) -> list[QuizAnswerRow]:
        """Quiz answers since `since`, everyone's or one volunteer's."""
        where = "" if user_id is None else " AND a.user_id = ?"
        rows = await self._read(
            "SELECT a.round_id, a.user_id, a.question_id, a.correct, r.theme FROM quiz_answers a "
            "JOIN quiz_rounds r ON r.id = a.round_id WHERE a.answered_at >= ?" + where,
            (_iso(since),) if user_id is None else (_iso(since), user_id),
        )
        return [QuizAnswerRow(int(r), int(u), q, bool(c), t) for r, u, q, c, t in rows]

    # -- settings kept in the database ---------------------------------------------------

    async def get_meta(self, key: str) -> str | None:
        rows = await self._read("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    async def set_meta(self, key: str, value: str) -> None:
        async with self._tx() as conn:
            await conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    async def delete_meta(self, key: str) -> bool:
        async with self._tx() as conn:
            cur = await conn.execute("DELETE FROM meta WHERE key = ?", (key,))
            return cur.rowcount == 1

    # -- subscribers ---------------------------------------------------------------------

    async def subscribe(self, chat_id: int, theme: str, at: datetime) -> bool:
        """True for a new subscriber, False when an existing one changed theme."""
        async with self._tx() as conn:
            cur = await conn.execute(
                "INSERT INTO subscribers (chat_id, theme, subscribed_at) VALUES (?, ?, ?) "
                "ON CONFLICT (chat_id) DO NOTHING", (chat_id, theme, _iso(at)),
            )
            if cur.rowcount == 1:
                return True
            await conn.execute("UPDATE subscribers SET theme = ? WHERE chat_id = ?", (theme, chat_id))
            return False

    async def unsubscribe(self, chat_id: int) -> bool:
        async with self._tx() as conn:
            cur = await conn.execute("DELETE FROM subscribers WHERE chat_id = ?", (chat_id,))
            await conn.execute("DELETE FROM point_deliveries WHERE chat_id = ?", (chat_id,))
            return cur.rowcount == 1

    async def subscriber(self, chat_id: int) -> str | None:
        rows = await self._read("SELECT theme FROM subscribers WHERE chat_id = ?", (chat_id,))
        return rows[0][0] if rows else None

    async def subscriber_count(self) -> int:
        return int((await self._read("SELECT COUNT(*) FROM subscribers"))[0][0])

    async def add_subscribers(self, rows: Sequence[tuple[int, str]], at: datetime) -> None:
        """Many at once (benchmarks and imports)."""
        async with self._tx() as conn:
            await conn.executemany(
                "INSERT OR IGNORE INTO subscribers (chat_id, theme, subscribed_at) VALUES (?, ?, ?)",
                [(c, t, _iso(at)) for c, t in rows],
            )

    # -- the point queue -----------------------------------------------------------------

    async def point_queue(self) -> list[str]:
        return [r[0] for r in await self._read("SELECT point_id FROM point_queue ORDER BY position")]

    async def set_point_queue(self, point_ids: Sequence[str]) -> None:
        async with self._tx() as conn:
            await conn.execute("DELETE FROM point_queue")
            await conn.executemany("INSERT INTO point_queue (point_id, position) VALUES (?, ?)",
                                   [(p, i) for i, p in enumerate(point_ids)])

    async def custom_points(self) -> list[tuple[str, str]]:
        return [(i, t) for i, t in await self._read("SELECT id, text FROM custom_points ORDER BY created_at")]

    async def add_custom_point(self, text: str, created_by: int, at: datetime) -> str:
        """Store a coordinator's point and put it first in the queue."""
        async with self._tx() as conn:
            async with conn.execute("SELECT COUNT(*) FROM custom_points") as cur:
                row = await cur.fetchone()
            point_id = f"eget-{int(row[0]) + 1 if row else 1}-{secrets.token_hex(3)}"
            await conn.execute("INSERT INTO custom_points (id, text, created_by, created_at) VALUES (?, ?, ?, ?)",
                               (point_id, text, created_by, _iso(at)))
            await conn.execute("UPDATE point_queue SET position = position + 1")
            await conn.execute("INSERT INTO point_queue (point_id, position) VALUES (?, 0)", (point_id,))
            return point_id

    # -- broadcasts and the outbox -------------------------------------------------------

    async def plan_inputs(self) -> tuple[list[tuple[int, str, int]], dict[int, set[str]]]:
        """Subscribers (chat, theme, cycle) and what each got in its current cycle."""
        async with self._lock:
            async with self._conn.execute("SELECT chat_id, theme, cycle FROM subscribers ORDER BY chat_id") as cur:
                subs = [(int(c), t, int(y)) for c, t, y in await cur.fetchall()]
            async with self._conn.execute(
                "SELECT d.chat_id, d.point_id FROM point_deliveries d JOIN subscribers s "
                "ON s.chat_id = d.chat_id AND s.cycle = d.cycle"
            ) as cur:
                delivered: dict[int, set[str]] = {}
                for c, p in await cur.fetchall():
                    delivered.setdefault(int(c), set()).add(p)
        return subs, delivered

    async def create_broadcast(self, *, kind: str, day: str | None, at: datetime,
                               rows: Sequence[tuple[int, str, bool]]) -> int | None:
        """A broadcast and its outbox rows (chat, point, starts a new cycle) in one transaction.

        None when the daily broadcast for `day` exists already: a day's point goes out once.
        """
        async with self._tx() as conn:
            cur = await conn.execute(
                "INSERT OR IGNORE INTO broadcasts (kind, day, created_at) VALUES (?, ?, ?)", (kind, day, _iso(at))
            )
            if cur.rowcount != 1:
                return None
            broadcast_id = int(cur.lastrowid or 0)
            for chat_id, point_id, new_cycle in rows:
                if new_cycle:
                    await conn.execute("UPDATE subscribers SET cycle = cycle + 1 WHERE chat_id = ?", (chat_id,))
                await conn.execute(
                    "INSERT INTO point_deliveries (chat_id, point_id, cycle) "
                    "SELECT ?, ?, cycle FROM subscribers WHERE chat_id = ? ON CONFLICT DO NOTHING",
                    (chat_id, point_id, chat_id),
                )
            await conn.executemany(
                "INSERT INTO outbox (broadcast_id, chat_id, point_id, updated_at) VALUES (?, ?, ?, ?)",
                [(broadcast_id, c, p, _iso(at)) for c, p, _ in rows],
            )
            return broadcast_id

    async def daily_broadcast_exists(self, day: str) -> bool:
        rows = await self._read("SELECT 1 FROM broadcasts WHERE kind = 'daily' AND day = ?", (day,))
        return bool(rows)

    async def recover_outbox(self, at: datetime) -> int:
        """After a crash: rows left in 'sending' may have arrived; never send them again."""
        async with self._tx() as conn:
            cur = await conn.execute(
                "UPDATE outbox SET state = 'uncertain', error = 'stopped while sending', updated_at = ? "
                "WHERE state = 'sending'", (_iso(at),),
            )
            return cur.rowcount

    async def pending_outbox(self, limit: int = 1000) -> list[tuple[int, int, int, str]]:
        """(row id, broadcast id, chat id, point id) waiting to be sent, oldest first."""
        rows = await self._read(
            "SELECT id, broadcast_id, chat_id, point_id FROM outbox WHERE state = 'pending' ORDER BY id LIMIT ?",
            (limit,),
        )
        return [(int(i), int(b), int(c), p) for i, b, c, p in rows]

    async def claim_outbox(self, row_id: int, at: datetime) -> bool:
        """pending -> sending, committed before the message goes out."""
        async with self._tx() as conn:
            cur = await conn.execute(
                "UPDATE outbox SET state = 'sending', attempts = attempts + 1, updated_at = ? "
                "WHERE id = ? AND state = 'pending'", (_iso(at), row_id),
            )
            return cur.rowcount == 1

    async def claim_outbox_batch(self, row_ids: Sequence[int], at: datetime) -> list[int]:
        """pending -> sending for several rows in one transaction; the ids that were pending."""
        claimed = []
        async with self._tx() as conn:
            for row_id in row_ids:
                cur = await conn.execute(
                    "UPDATE outbox SET state = 'sending', attempts = attempts + 1, updated_at = ? "
                    "WHERE id = ? AND state = 'pending'", (_iso(at), row_id),
                )
                if cur.rowcount == 1:
                    claimed.append(row_id)
        return claimed

    async def finish_outbox_batch(self, results: Sequence[tuple[int, str, str | None]], at: datetime) -> None:
        async with self._tx() as conn:
            await conn.executemany("UPDATE outbox SET state = ?, error = ?, updated_at = ? WHERE id = ?",
                                   [(state, error, _iso(at), row_id) for row_id, state, error in results])

    async def finish_outbox(self, row_id: int, state: str, at: datetime, error: str | None = None) -> None:
        async with self._tx() as conn:
            await conn.execute("UPDATE outbox SET state = ?, error = ?, updated_at = ? WHERE id = ?",
                               (state, error, _iso(at), row_id))

    async def migrate_chat(self, row_id: int, old_chat: int, new_chat: int) -> None:
        """A group became a supergroup: follow it to its new id."""
        async with self._tx() as conn:
            await conn.execute("UPDATE OR IGNORE subscribers SET chat_id = ? WHERE chat_id = ?", (new_chat, old_chat))
            await conn.execute("UPDATE OR IGNORE point_deliveries SET chat_id = ? WHERE chat_id = ?", (new_chat, old_chat))
            await conn.execute("UPDATE outbox SET chat_id = ? WHERE id = ?", (new_chat, row_id))

    async def recent_broadcasts(self, limit: int = 10) -> list[tuple[int, str, str | None, str, dict[str, int]]]:
        """(id, kind, day, created_at, {state: count}) newest first."""
        heads = await self._read("SELECT id, kind, day, created_at FROM broadcasts ORDER BY id DESC LIMIT ?", (limit,))
        out = []
        for bid, kind, day, created in heads:
            counts = {s: int(n) for s, n in await self._read(
                "SELECT state, COUNT(*) FROM outbox WHERE broadcast_id = ? GROUP BY state", (bid,))}
            out.append((int(bid), kind, day, created, counts))
        return out

    async def outbox_states(self, broadcast_id: int) -> dict[int, str]:
        rows = await self._read("SELECT chat_id, state FROM outbox WHERE broadcast_id = ?", (broadcast_id,))
        return {int(c): s for c, s in rows}

    # -- privacy -------------------------------------------------------------------------

    async def data_about(self, user_id: int, chat_id: int) -> dict[str, object]:
        """Everything stored about one member (for /mine_data)."""
        voter = await self._voter(user_id)
        one = lambda rows: rows[0][0] if rows else None  # noqa: E731
        return {
            "subscription": one(await self._read("SELECT theme FROM subscribers WHERE chat_id = ?", (chat_id,))),
            "points_received": one(await self._read("SELECT COUNT(*) FROM point_deliveries WHERE chat_id = ?", (chat_id,))),
            "quiz_rounds": one(await self._read("SELECT COUNT(*) FROM quiz_rounds WHERE user_id = ?", (user_id,))),
            "quiz_answers": one(await self._read("SELECT COUNT(*) FROM quiz_answers WHERE user_id = ?", (user_id,))),
            "quiz_repetition": one(await self._read("SELECT COUNT(*) FROM quiz_repetition WHERE user_id = ?", (user_id,))),
            "group_quiz_names": [r[0] for r in await self._read(
                "SELECT DISTINCT name FROM quiz_players WHERE user_id = ?", (user_id,))],
            "votes": one(await self._read("SELECT COUNT(*) FROM feedback WHERE voter = ?", (voter,))),
            "coordinator": bool(await self._read("SELECT 1 FROM coordinators WHERE user_id = ?", (user_id,))),
        }

    async def delete_member(self, user_id: int, chat_id: int) -> int:
        """Delete every row about one member in every table; the number of rows deleted."""
        voter = await self._voter(user_id)
        statements: list[tuple[str, tuple[object, ...]]] = [
            ("DELETE FROM subscribers WHERE chat_id = ?", (chat_id,)),
            ("DELETE FROM point_deliveries WHERE chat_id = ?", (chat_id,)),
            ("DELETE FROM outbox WHERE chat_id = ?", (chat_id,)),
            ("DELETE FROM quiz_answers WHERE user_id = ?", (user_id,)),
            ("DELETE FROM quiz_repetition WHERE user_id = ?", (user_id,)),
            ("DELETE FROM quiz_players WHERE user_id = ?", (user_id,)),
            ("DELETE FROM quiz_rounds WHERE user_id = ? OR (chat_id = ? AND kind = 'private')", (user_id, chat_id)),
            ("DELETE FROM feedback WHERE voter = ?", (voter,)),
            ("DELETE FROM coordinators WHERE user_id = ?", (user_id,)),
            # what others own keeps existing, without this member's id on it
            ("UPDATE coordinators SET added_by = NULL WHERE added_by = ?", (user_id,)),
            ("UPDATE custom_points SET created_by = 0 WHERE created_by = ?", (user_id,)),
        ]
        deleted = 0
        async with self._tx() as conn:
            for sql, params in statements:
                cur = await conn.execute(sql, params)
                deleted += max(cur.rowcount, 0)
            async with conn.execute("SELECT key FROM meta WHERE key LIKE ?", (f"draft:{user_id}:%",)) as cur:
                drafts = [r[0] for r in await cur.fetchall()]
            for key in drafts:
                await conn.execute("DELETE FROM meta WHERE key = ?", (key,))
                deleted += 1
        return deleted

    async def first_time(self, update_id: int, at: datetime) -> bool:
        """Record an update id; False when it was seen before."""
        async with self._tx() as conn:
            cur = await conn.execute("INSERT OR IGNORE INTO seen_updates (update_id, seen_at) VALUES (?, ?)",
                                     (update_id, _iso(at)))
            return cur.rowcount == 1

    async def forget_seen_updates(self, before: datetime) -> int:
        async with self._tx() as conn:
            cur = await conn.execute("DELETE FROM seen_updates WHERE seen_at < ?", (_iso(before),))
            return cur.rowcount

    async def forget_old_questions(self, before: datetime) -> int:
        """Retention: question texts older than `before` are deleted."""
        async with self._tx() as conn:
            cur = await conn.execute("DELETE FROM unanswered WHERE asked_at < ?", (_iso(before),))
            return cur.rowcount

    async def backup(self, target: Path) -> None:
        """A consistent copy while the bot runs (SQLite's online backup API)."""
        target.parent.mkdir(parents=True, exist_ok=True)
        async with self._lock:
            dest = await aiosqlite.connect(target)
            try:
                await self._conn.backup(dest)
            finally:
                await dest.close()
