from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from telegram import Update
from telegram.ext import Application

from bot.config import Settings
from bot.engine import Engine
from bot.knowledge import INTENTS_DIR, KNOWLEDGE_DIR, Knowledge, load_knowledge
from bot.telegram.app import build_application
from tests.fakes import TOKEN, FakeTelegram, RecordingRequest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def knowledge() -> Knowledge:
    return load_knowledge()


@pytest.fixture(scope="session")
def engine(knowledge: Knowledge) -> Engine:
    return Engine(knowledge)


@pytest.fixture
def kb_copy(tmp_path: Path) -> tuple[Path, Path]:
    """A private copy of knowledge/ and intents/ that a test may break."""
    k = tmp_path / "knowledge"
    i = tmp_path / "intents"
    shutil.copytree(KNOWLEDGE_DIR, k)
    shutil.copytree(INTENTS_DIR, i)
    return k, i


def run_bot(*args: str, stdin: str | None = None, env: dict[str, str] | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`python -m bot ARGS` as a member or coordinator would run it."""
    full_env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], cwd=ROOT, input=stdin, capture_output=True,
        text=True, timeout=timeout, env=full_env,
    )


# -- the Telegram bot with the network replaced by a request double ------------------------

COORDINATOR = 999


class Harness:
    def __init__(self, app: Application, fake: FakeTelegram, db: Path):  # type: ignore[type-arg]
        self.app = app
        self.fake = fake
        self.db = db

    async def say(self, text: str, **kw: Any) -> list[dict[str, Any]]:
        """A member sends `text`; returns the sendMessage calls it caused."""
        before = len(self.fake.calls)
        update = self.fake.message_update(text, **kw)
        await self.app.process_update(Update.de_json(update, self.app.bot))
        return [c.params for c in self.fake.calls[before:] if c.method in ("sendMessage", "sendPhoto")]

    async def tap(self, message: dict[str, Any], data: str, user_id: int = 111) -> list[tuple[str, dict[str, Any]]]:
        before = len(self.fake.calls)
        update = self.fake.tap(message, data, user_id=user_id)
        await self.app.process_update(Update.de_json(update, self.app.bot))
        return [(c.method, c.params) for c in self.fake.calls[before:]]

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.db) as conn:
            return conn.execute(sql).fetchall()


def make_settings(tmp_path: Path, **kw: Any) -> Settings:
    values: dict[str, Any] = {"telegram_bot_token": TOKEN, "bot_db": tmp_path / "bot.sqlite3",
                              "bot_coordinators": [COORDINATOR]}
    values.update(kw)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
async def bot(tmp_path: Path, knowledge: Knowledge) -> AsyncIterator[Harness]:
    fake = FakeTelegram()
    settings = make_settings(tmp_path)
    app = build_application(settings, knowledge, request=RecordingRequest(fake))
    await app.initialize()
    assert app.post_init is not None
    await app.post_init(app)
    yield Harness(app, fake, settings.bot_db)
    assert app.post_shutdown is not None
    await app.post_shutdown(app)
    await app.shutdown()


