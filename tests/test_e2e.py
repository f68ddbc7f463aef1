"""End to end: `python -m bot run` as a process, against a fake Bot API server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.fakes import TOKEN, FakeBotApiServer, FakeTelegram, bot_env

WAIT = 30.0


async def wait_for(predicate: Callable[[], Any], what: str, timeout: float = WAIT) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        value = predicate()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class RunningBot:
    def __init__(self, fake: FakeTelegram, proc: asyncio.subprocess.Process, db: Path):
        self.fake = fake
        self.proc = proc
        self.db = db

    async def sent_after(self, start: int, method: str = "sendMessage") -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            for call in self.fake.calls[start:]:
                if call.method == method:
                    return call.params
            return None

        return await wait_for(found, method)


@pytest.fixture
async def running_bot(tmp_path: Path) -> AsyncIterator[RunningBot]:
    fake = FakeTelegram()
    server = FakeBotApiServer(fake)
    await server.start()
    env = bot_env(server, tmp_path / "bot.sqlite3", BOT_COORDINATORS="999")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    try:
        await wait_for(lambda: any(c.method == "getUpdates" for c in fake.calls) or proc.returncode is not None,
                       "the bot to start polling")
        assert proc.returncode is None, (await proc.stdout.read()).decode()  # type: ignore[union-attr]
        yield RunningBot(fake, proc, tmp_path / "bot.sqlite3")
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(proc.wait(), timeout=20)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        await server.stop()


async def test_question_and_button_tap_end_to_end(running_bot: RunningBot) -> None:
    fake = running_bot.fake
    assert [c.method for c in fake.calls][:1] == ["getMe"]
    assert any(c.method == "setMyCommands" for c in fake.calls)

    start = len(fake.calls)
    fake.message_update("Hvad er Oslo-standarden?", user_id=4711)
    answer = await running_bot.sent_after(start)
    assert answer["chat_id"] == 4711
    assert "Oslo" in answer["text"] and "Kilde:" in answer["text"]
    assert answer["parse_mode"] == "HTML"
    keyboard = FakeTelegram.buttons(answer)
    assert any(b.get("url", "").startswith("https://www.kompetansebroen.no/") for b in keyboard)

    related = next(b for b in keyboard if b.get("callback_data", "").startswith("a|"))
    start = len(fake.calls)
    fake.tap(fake.last_message(4711), related["callback_data"], user_id=4711)
    await running_bot.sent_after(start, "answerCallbackQuery")
    follow_up = await running_bot.sent_after(start, "sendMessage")
    assert "Kilde:" in follow_up["text"]

    # the process used a real SQLite file
    with sqlite3.connect(running_bot.db) as conn:
        kinds = [k for (k,) in conn.execute("SELECT kind FROM questions")]
    assert kinds[0] == "answer"


async def test_crisis_end_to_end(running_bot: RunningBot) -> None:
    fake = running_bot.fake
    start = len(fake.calls)
    fake.message_update("min datter har taget alle sine piller", user_id=4712)
    reply = await running_bot.sent_after(start)
    assert "112" in reply["text"] and "70 201 201" in reply["text"]


async def test_token_never_in_the_output(running_bot: RunningBot) -> None:
    fake = running_bot.fake
    start = len(fake.calls)
    fake.message_update("hvad er pcv", user_id=4713)
    await running_bot.sent_after(start)
    running_bot.proc.send_signal(signal.SIGINT)
    out, _ = await asyncio.wait_for(running_bot.proc.communicate(), timeout=20)
    text = out.decode()
    assert TOKEN not in text and TOKEN.split(":")[1] not in text
    assert "hvad er pcv" not in text


async def test_sighup_reloads_the_knowledge(running_bot: RunningBot) -> None:
    fake = running_bot.fake
    running_bot.proc.send_signal(signal.SIGHUP)
    await asyncio.sleep(1.5)
    assert running_bot.proc.returncode is None  # still running
    start = len(fake.calls)
    fake.message_update("hvad er pcv", user_id=4714)
    reply = await running_bot.sent_after(start)
    assert "Kilde:" in reply["text"]
    running_bot.proc.send_signal(signal.SIGINT)
    out, _ = await asyncio.wait_for(running_bot.proc.communicate(), timeout=20)
    assert "knowledge reloaded" in out.decode()


async def test_many_members_every_question_answered_exactly_once() -> None:
    from tests.bench.bench_load import run

    result = await run(members=20, per_member=5, rate=40)
    assert (result["questions"], result["lost"], result["extra"]) == (100, 0, 0)
