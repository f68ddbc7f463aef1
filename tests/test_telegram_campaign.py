"""Daily talking points on Telegram: subscribing, coordinator commands and their refusal,
delivery through the fake Bot API with injected faults, inline sharing, and a broadcast
process killed with SIGKILL at random points."""

from __future__ import annotations

import asyncio
import random
import signal
import sqlite3
import sys
from collections import Counter
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from telegram import Update

from bot.delivery import MAX_BATCH
from bot.knowledge import Knowledge
from bot.telegram import campaign as tg_campaign
from tests.conftest import ROOT
from tests.fakes import Failure, FakeBotApiServer, FakeTelegram, bot_env, planned_broadcast
from tests.conftest import COORDINATOR, Harness


async def deliver(bot: Harness) -> None:
    await tg_campaign.deliver_pending(bot.app)


def outbox(bot: Harness) -> dict[int, str]:
    return dict(bot.rows("SELECT chat_id, state FROM outbox"))


# -- members ---------------------------------------------------------------------------

async def test_subscribe_with_a_theme_then_unsubscribe(bot: Harness) -> None:
    (msg,) = await bot.say("/abonner")
    choices = [b["callback_data"] for b in FakeTelegram.buttons(msg)]
    assert choices == ["sub|maerkesager", "sub|regionale", "sub|alle"]
    calls = await bot.tap(bot.fake.last_message(111), "sub|regionale")
    edit = [p for m, p in calls if m == "editMessageText"][0]
    assert "Du er tilmeldt" in edit["text"] and "kl. 09:00" in edit["text"]
    assert bot.rows("SELECT chat_id, theme FROM subscribers") == [(111, "regionale")]
    (msg,) = await bot.say("/afmeld")
    assert "afmeldt" in msg["text"]
    assert bot.rows("SELECT count(*) FROM subscribers") == [(0,)]


async def test_subscribe_by_intent(bot: Harness) -> None:
    (msg,) = await bot.say("jeg vil have dagens budskab")
    assert [b["callback_data"] for b in FakeTelegram.buttons(msg)][0] == "sub|maerkesager"


async def test_daily_point_reaches_subscribers_with_more_button(bot: Harness) -> None:
    await bot.tap(bot.fake.message_update("x", user_id=111)["message"], "sub|alle")
    await bot.tap(bot.fake.message_update("x", user_id=222)["message"], "sub|regionale", user_id=222)
    (intro, preview) = await bot.say("/dagens", user_id=COORDINATOR)
    before = len(bot.fake.calls)
    await bot.say("/send_nu", user_id=COORDINATOR)
    await deliver(bot)
    sent = [c.params for c in bot.fake.calls[before:] if c.method == "sendMessage" and c.params["chat_id"] in (111, 222)]
    assert {p["chat_id"] for p in sent} == {111, 222}
    for p in sent:
        assert len(p["text"]) <= 600 + 2 and "Kilde:" in p["text"]
        assert FakeTelegram.buttons(p)[0]["text"] == "Fortæl mig mere"
    to_all = next(p for p in sent if p["chat_id"] == 111)
    assert to_all["text"] == preview["text"]  # /dagens showed exactly what members got
    (status,) = await bot.say("/udsendelser", user_id=COORDINATOR)
    assert "2 / 0 / 0 / 0" in status["text"]


# -- coordinators ------------------------------------------------------------------------

COMMANDS = ["/dagens", "/send_nu", "/tidspunkt 08:00", "/pause", "/genoptag", "/nytpunkt Et budskab der er langt nok til køen",
            "/punkter", "/spring", "/udsendelser"]


@pytest.mark.parametrize("command", COMMANDS)
async def test_members_cannot_use_coordinator_commands(bot: Harness, command: str) -> None:
    await bot.tap(bot.fake.message_update("x", user_id=111)["message"], "sub|alle")
    tables = ("subscribers", "point_queue", "custom_points", "broadcasts", "outbox", "meta")
    before = [bot.rows(f"SELECT * FROM {t} ORDER BY 1") for t in tables]
    (msg,) = await bot.say(command, user_id=111)
    assert msg["text"] == "Den kommando er kun for kampagnekoordinatorer."
    assert [bot.rows(f"SELECT * FROM {t} ORDER BY 1") for t in tables] == before


async def test_members_cannot_confirm_a_coordinators_draft(bot: Harness) -> None:
    (preview,) = await bot.say("/nytpunkt Vi vil have en pårørendevejleder i alle landets kommuner.", user_id=COORDINATOR)
    ok = FakeTelegram.buttons(preview)[0]["callback_data"]
    calls = await bot.tap(bot.fake.last_message(COORDINATOR), ok, user_id=111)
    assert "kun for kampagnekoordinatorer" in calls[0][1]["text"]
    assert bot.rows("SELECT count(*) FROM custom_points") == [(0,)]


async def test_new_point_is_escaped_confirmed_and_queued_first(bot: Harness) -> None:
    text = "Pårørende <skal> høres & inddrages – også i din kommune!"
    (preview,) = await bot.say(f"/nytpunkt {text}", user_id=COORDINATOR)
    assert "&lt;skal&gt;" in preview["text"] and "&amp;" in preview["text"]
    ok = FakeTelegram.buttons(preview)[0]["callback_data"]
    await bot.tap(bot.fake.last_message(COORDINATOR), ok, user_id=COORDINATOR)
    (_, shown) = await bot.say("/dagens", user_id=COORDINATOR)
    assert "&lt;skal&gt;" in shown["text"] and "kampagnekoordinatorer" in shown["text"]
    calls = await bot.tap(bot.fake.last_message(COORDINATOR), ok, user_id=COORDINATOR)  # used once only
    assert "findes ikke længere" in calls[0][1]["text"]
    (too_long,) = await bot.say("/nytpunkt " + "ord " * 200, user_id=COORDINATOR)
    assert "højst" in too_long["text"]


async def test_time_pause_skip_and_queue(bot: Harness) -> None:
    (msg,) = await bot.say("/tidspunkt 7.45", user_id=COORDINATOR)
    assert "kl. 07:45" in msg["text"]
    (bad,) = await bot.say("/tidspunkt senere", user_id=COORDINATOR)
    assert "TT:MM" in bad["text"]
    jobs = bot.app.job_queue.get_jobs_by_name(tg_campaign.DAILY_JOB)
    assert len(jobs) == 1
    run_at = jobs[0].job.trigger.run_date  # an APScheduler DateTrigger
    assert run_at.astimezone(ZoneInfo("Europe/Copenhagen")).strftime("%H:%M") == "07:45"
    (queue,) = await bot.say("/punkter", user_id=COORDINATOR)
    first = queue["text"].splitlines()[1]
    (_, nxt) = await bot.say("/spring", user_id=COORDINATOR)
    (queue2,) = await bot.say("/punkter", user_id=COORDINATOR)
    assert queue2["text"].splitlines()[1] != first
    await bot.say("/pause", user_id=COORDINATOR)
    (today, _) = await bot.say("/dagens", user_id=COORDINATOR)
    assert "pause" in today["text"]


# -- faults through the fake Bot API -----------------------------------------------------

async def test_faults_from_the_bot_api_leave_the_documented_states(bot: Harness) -> None:
    for chat in (501, 502, 503, 504, 505):
        await bot.tap(bot.fake.message_update("x", user_id=chat)["message"], "sub|alle", user_id=chat)
    fake = bot.fake
    fake.fail_next("sendMessage", Failure(403, "Forbidden: bot was blocked by the user", chat_id=501))
    fake.fail_next("sendMessage", Failure(400, "Bad Request: chat not found", chat_id=502))
    fake.fail_next("sendMessage", Failure(400, "Bad Request: group chat was upgraded to a supergroup chat",
                                          {"migrate_to_chat_id": -100503}, chat_id=503))
    fake.fail_next("sendMessage", Failure(429, "Too Many Requests: retry after 1", {"retry_after": 1}, chat_id=504))
    fake.fail_next("sendMessage", Failure(500, "Internal Server Error", chat_id=505))
    await bot.say("/send_nu", user_id=COORDINATOR)
    await deliver(bot)
    states = outbox(bot)
    assert states[501] == "failed" and states[502] == "failed"
    assert states[-100503] == "sent" and states[504] == "sent" and states[505] == "sent"
    subscribers = {c for (c,) in bot.rows("SELECT chat_id FROM subscribers")}
    assert 501 not in subscribers and 502 not in subscribers and -100503 in subscribers
    sends = Counter(c.params["chat_id"] for c in fake.calls if c.method == "sendMessage")
    assert sends[501] == 1 and sends[502] == 1  # no retry for blocked members


async def test_a_timeout_is_uncertain_and_not_sent_again(bot: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    from telegram.error import TimedOut as TgTimedOut

    await bot.tap(bot.fake.message_update("x", user_id=601)["message"], "sub|alle", user_id=601)
    original = bot.fake.handle

    def handle(method: str, params: dict[str, Any]):  # type: ignore[no-untyped-def]
        if method == "sendMessage" and int(params["chat_id"]) == 601:
            raise TgTimedOut()
        return original(method, params)

    monkeypatch.setattr(bot.fake, "handle", handle)
    await bot.say("/send_nu", user_id=COORDINATOR)
    await deliver(bot)
    assert outbox(bot)[601] == "uncertain"
    await deliver(bot)
    assert outbox(bot)[601] == "uncertain"


# -- inline mode -------------------------------------------------------------------------

async def test_inline_query_lists_points_and_answers_as_cards(bot: Harness) -> None:
    for text, expect in (("akut", "akut"), ("pårørendevejleder", "pårørendevejleder"), ("", "Kilde:")):
        update = {"update_id": 90_000 + len(bot.fake.calls), "inline_query": {
            "id": "iq1", "from": {"id": 111, "is_bot": False, "first_name": "M"}, "query": text, "offset": ""}}
        await bot.app.process_update(Update.de_json(update, bot.app.bot))
        answer = bot.fake.sent("answerInlineQuery")[-1]
        results = answer["results"]
        assert 1 <= len(results) <= 50
        cards = [r["input_message_content"]["message_text"] for r in results]
        assert any(expect.casefold() in c.casefold() for c in cards)
        assert all("Kilde:" in c for c in cards)
        assert all(r["type"] == "article" and len(r["id"].encode()) <= 64 for r in results)


# -- a broadcast killed with SIGKILL -------------------------------------------------------

SUBSCRIBERS = 150
RATE = 100  # messages per second: slow enough to be killed in the middle


async def test_sigkill_at_random_points_never_sends_a_point_twice(tmp_path: Path, knowledge: Knowledge) -> None:
    db = tmp_path / "bot.sqlite3"
    broadcast_id = await planned_broadcast(db, knowledge, SUBSCRIBERS, first_chat=10_000)
    fake = FakeTelegram()
    server = FakeBotApiServer(fake)
    await server.start()
    env = bot_env(server, db, BOT_BROADCAST_RATE=str(RATE))
    rng = random.Random(20261122)
    kills = 0
    try:
        for trial in range(40):
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "deliver", cwd=ROOT, env=env,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
            if kills < 12:
                started = len(fake.calls)
                deadline = asyncio.get_running_loop().time() + 30
                # kill after a random number of messages went out in this run
                target = rng.randint(1, 12)
                while (sum(1 for c in fake.calls[started:] if c.method == "sendMessage") < target
                       and proc.returncode is None and asyncio.get_running_loop().time() < deadline):
                    await asyncio.sleep(0.002)
                if proc.returncode is None:
                    proc.send_signal(signal.SIGKILL)
                    kills += 1
                await proc.wait()
            else:
                assert await asyncio.wait_for(proc.wait(), timeout=60) == 0
                break
    finally:
        await server.stop()
    assert kills >= 10

    with sqlite3.connect(db) as conn:
        states = dict(conn.execute("SELECT chat_id, state FROM outbox WHERE broadcast_id = ?", (broadcast_id,)))
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    received = Counter(int(c.params["chat_id"]) for c in fake.calls if c.method == "sendMessage")
    assert len(states) == SUBSCRIBERS
    assert set(states.values()) <= {"sent", "uncertain"}
    assert all(n == 1 for n in received.values())  # nobody got the point twice
    for chat, state in states.items():
        if state == "sent":
            assert received[chat] == 1  # everyone not uncertain got it
    # only the batch being sent and the one claimed after it can be uncertain after a kill
    batch = max(1, min(MAX_BATCH, RATE // 25))
    uncertain = sum(s == "uncertain" for s in states.values())
    assert uncertain <= kills * 2 * batch
    print(f"{kills} kills, {uncertain} uncertain, {SUBSCRIBERS - uncertain} delivered once")
