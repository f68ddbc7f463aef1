"""Webhook mode: `python -m bot run --webhook` as a process; Telegram's POSTs with and without
the secret token; the health endpoint."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
from pathlib import Path

import aiohttp

from tests.conftest import ROOT
from tests.fakes import TOKEN, FakeBotApiServer, FakeTelegram, bot_env
from tests.test_e2e import wait_for

SECRET = "s3cret_webhook-token-for-tests"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_webhook_rejects_a_wrong_secret_and_answers_the_right_one(tmp_path: Path) -> None:
    fake = FakeTelegram()
    server = FakeBotApiServer(fake)
    await server.start()
    port, health_port = free_port(), free_port()
    env = bot_env(server, tmp_path / "bot.sqlite3", BOT_WEBHOOK_URL="https://bot.example.org/telegram",
                  BOT_WEBHOOK_SECRET=SECRET, BOT_WEBHOOK_PORT=str(port), BOT_HEALTH_PORT=str(health_port))
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "run", "--webhook", cwd=ROOT, env=env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            async def healthy() -> bool:
                try:
                    async with http.get(f"http://127.0.0.1:{health_port}/health") as r:
                        return r.status == 200
                except aiohttp.ClientError:
                    return False

            deadline = asyncio.get_running_loop().time() + 30
            while not await healthy():
                assert proc.returncode is None and asyncio.get_running_loop().time() < deadline
                await asyncio.sleep(0.1)
            hook = [c.params for c in fake.calls if c.method == "setWebhook"][0]
            assert hook["url"] == "https://bot.example.org/telegram" and hook["secret_token"] == SECRET

            update = fake.message_update("hvad er oslo standarden", user_id=4242)
            fake.updates.clear()  # delivered by webhook, not by getUpdates
            for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong-secret-1234567"}):
                async with http.post(f"{url}/telegram", json=update, headers=headers) as r:
                    assert r.status == 403
            await asyncio.sleep(0.5)
            assert not [c for c in fake.calls if c.method == "sendMessage"]  # never processed

            async with http.post(f"{url}/telegram", json=update,
                                 headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}) as r:
                assert r.status == 200
            sent = await wait_for(lambda: [c.params for c in fake.calls if c.method == "sendMessage"], "an answer")
            assert sent[0]["chat_id"] == 4242 and "Oslo" in sent[0]["text"]
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 20)
            except TimeoutError:
                proc.kill()
        await server.stop()
    out = (await proc.stdout.read()).decode()  # type: ignore[union-attr]
    assert SECRET not in out and TOKEN not in out
