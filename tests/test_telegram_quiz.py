"""The quiz on Telegram: a full round, a group quiz with two members, resume after a restart,
and buttons from someone else's or an expired round."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from telegram import Update

from bot.knowledge import Knowledge
from bot.quiz_session import QuizService
from bot.telegram.app import build_application
from tests.fakes import FakeTelegram, RecordingRequest
from tests.conftest import COORDINATOR, Harness, make_settings

GROUP = -100777


async def current_round(bot: Harness, round_id: int):  # type: ignore[no-untyped-def]
    return await bot.app.bot_data.db.quiz_round(round_id)


async def play_question(bot: Harness, params: dict[str, Any], right: bool, user_id: int = 111) -> list[tuple[str, dict[str, Any]]]:
    data = FakeTelegram.buttons(params)[0]["callback_data"]
    _, round_id, position, _ = data.split("|")
    service: QuizService = bot.app.bot_data.quiz
    rnd = await current_round(bot, int(round_id))
    shown = service.show(rnd, int(position))
    assert shown is not None
    good = shown.options.index(shown.question.options[0])
    index = good if right else (good + 1) % len(shown.options)
    message = bot.fake.last_message(params["chat_id"])
    return await bot.tap(message, f"qa|{round_id}|{position}|{index}", user_id)


async def test_full_round_with_explanations_and_result(bot: Harness) -> None:
    intro, question = await bot.say("/quiz")
    assert "10 spørgsmål" in intro["text"]
    for n in range(10):
        assert f"Spørgsmål {n + 1}/10" in question["text"]
        options = FakeTelegram.buttons(question)
        assert 3 <= len(options) <= 4 and all(len(o["callback_data"].encode()) <= 64 for o in options)
        calls = await play_question(bot, question, right=n % 3 != 0)
        edit = [p for m, p in calls if m == "editMessageText"][0]
        assert ("Rigtigt!" in edit["text"]) == (n % 3 != 0)
        assert "Det rigtige svar:" in edit["text"] and "Kilde:" in edit["text"]
        nxt = [b for b in FakeTelegram.buttons(edit) if "callback_data" in b][-1]
        message = bot.fake.last_message(111)
        calls = await bot.tap(message, nxt["callback_data"])
        sent = [p for m, p in calls if m == "sendMessage"]
        if n < 9:
            assert nxt["text"] == "Næste ▶"
            question = sent[0]
        else:
            assert nxt["text"] == "Se resultatet"
            result = sent[0]
    assert "Du fik 6 af 10 rigtige" in result["text"]
    assert "første runde" in result["text"]
    read_up = [b for b in FakeTelegram.buttons(result) if b["callback_data"].startswith("a|")]
    assert 1 <= len(read_up) <= 4
    assert any(b["text"] == "Ny runde" for b in FakeTelegram.buttons(result))
    (status,) = await bot.say("/quiz_status")
    assert "rigtige" in status["text"] and "til repetition" not in status["text"]


async def test_quiz_with_a_topic_and_an_unknown_topic(bot: Harness) -> None:
    intro, _ = await bot.say("/quiz bosteder")
    assert "Gode bosteder" in intro["text"]
    (unknown,) = await bot.say("/quiz fodbold")
    assert "Jeg kender ikke emnet" in unknown["text"]
    assert all(b["callback_data"].startswith("qs|") for b in FakeTelegram.buttons(unknown))


async def test_someone_elses_round_and_stale_buttons_change_nothing(bot: Harness) -> None:
    _, question = await bot.say("/quiz", user_id=111)
    data = FakeTelegram.buttons(question)[0]["callback_data"]
    message = bot.fake.last_message(111)
    calls = await bot.tap(message, data, user_id=222)
    assert [m for m, _ in calls] == ["answerCallbackQuery"]
    assert "en andens quiz" in calls[0][1]["text"]
    assert bot.rows("SELECT count(*) FROM quiz_answers") == [(0,)]
    await play_question(bot, question, right=True)
    calls = await bot.tap(message, data)  # the same question again
    assert [m for m, _ in calls] == ["answerCallbackQuery"] and "afsluttet" in calls[0][1]["text"]
    assert bot.rows("SELECT count(*) FROM quiz_answers") == [(1,)]
    for forged in ("qa|999|0|0", "qa|x|0|0", "qn|1|7", "qr|1", "qs|nope"):
        calls = await bot.tap(message, forged)
        assert [m for m, _ in calls] == ["answerCallbackQuery"], forged
    assert bot.rows("SELECT count(*) FROM quiz_answers") == [(1,)]


async def test_round_resumes_after_restart(tmp_path: Path, knowledge: Knowledge) -> None:
    fake = FakeTelegram()
    settings = make_settings(tmp_path)

    async def start_app():  # type: ignore[no-untyped-def]
        app = build_application(settings, knowledge, request=RecordingRequest(fake))
        await app.initialize()
        await app.post_init(app)  # type: ignore[misc]
        return app

    app = await start_app()
    first = Harness(app, fake, settings.bot_db)
    _, question = await first.say("/quiz")
    await play_question(first, question, right=True)
    await app.post_shutdown(app)  # type: ignore[misc]
    await app.shutdown()

    app = await start_app()  # a new process with the same database
    second = Harness(app, fake, settings.bot_db)
    second.app.bot_data.quiz = QuizService(knowledge, second.app.bot_data.db, second.app.bot_data.clock,
                                           random.Random(1))
    message = fake.last_message(111)
    calls = await second.tap(message, "qn|1|1")
    sent = [p for m, p in calls if m == "sendMessage"]
    assert "Spørgsmål 2/10" in sent[0]["text"]
    await app.post_shutdown(app)  # type: ignore[misc]
    await app.shutdown()


async def test_group_quiz_with_two_members_and_leaderboard(bot: Harness) -> None:
    (refused,) = await bot.say("/gruppequiz", chat_id=GROUP, chat_type="supergroup", user_id=111)
    assert "kun for kampagnekoordinatorer" in refused["text"]
    await bot.say("/gruppequiz", chat_id=GROUP, chat_type="supergroup", user_id=COORDINATOR)
    polls = bot.fake.sent("sendPoll")
    assert len(polls) == 1
    poll = polls[0]
    assert poll["type"] == "quiz" and poll["is_anonymous"] in (False, "false")
    assert len(poll["explanation"]) <= 200

    async def vote(poll_params: dict[str, Any], user_id: int, name: str, right: bool) -> None:
        message = [m for m in bot.fake.messages.values() if "poll" in m][-1]
        correct = int(poll_params["correct_option_ids"][0])
        option = correct if right else (correct + 1) % len(message["poll"]["options"])
        update = bot.fake.poll_answer(message["poll"]["id"], user_id, name, option)
        await bot.app.process_update(Update.de_json(update, bot.app.bot))

    await vote(poll, 501, "Anna", True)
    await vote(poll, 502, "Bo", False)
    control = bot.fake.last_message(GROUP)
    next_data = FakeTelegram.buttons(control)[0]["callback_data"]
    calls = await bot.tap(control, next_data, user_id=111)  # a member cannot move the quiz on
    assert "kun for kampagnekoordinatorer" in calls[0][1]["text"]
    await bot.tap(control, next_data, user_id=COORDINATOR)
    poll2 = bot.fake.sent("sendPoll")[1]
    await vote(poll2, 501, "Anna", True)
    await vote(poll2, 502, "Bo", True)
    control = bot.fake.last_message(GROUP)
    end_data = FakeTelegram.buttons(control)[-1]["callback_data"]
    calls = await bot.tap(control, end_data, user_id=COORDINATOR)
    board = [p for m, p in calls if m == "sendMessage"][0]["text"]
    assert board.index("Anna – 2 rigtige af 2") < board.index("Bo – 1 rigtige af 2")


async def test_team_statistics_for_coordinators(bot: Harness) -> None:
    _, question = await bot.say("/quiz")
    await play_question(bot, question, right=False)
    (refused,) = await bot.say("/quizstat", user_id=111)
    assert "kun for kampagnekoordinatorer" in refused["text"]
    sent = await bot.say("/quizstat", user_id=COORDINATOR)
    assert any("sendPhoto" == c.method for c in bot.fake.calls)
    text = "\n".join(m.get("text", "") for m in sent)
    assert "Oftest forkert" in text and "1 af 1 forkert" in text
