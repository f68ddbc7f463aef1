"""The Telegram bot as members meet it: real Update objects through Application.process_update,
the network replaced at the HTTP edge by a request double that records every Bot API call."""

from __future__ import annotations

import json
from typing import Any

import pytest
from telegram import Update

from bot.knowledge import Knowledge
from bot.telegram.render import utf16_len
from tests.conftest import Harness
from tests.fakes import BOT_ID, BOT_USERNAME, FakeTelegram

def buttons(params: dict[str, Any]) -> list[dict[str, Any]]:
    return FakeTelegram.buttons(params)


# -- set-up ------------------------------------------------------------------------------

async def test_commands_menu_is_set_in_danish(bot: Harness) -> None:
    commands = bot.fake.sent("setMyCommands")[0]["commands"]
    names = [c["command"] for c in commands]
    assert names[:2] == ["start", "spoerg"] and {"emner", "om", "hjaelp"} <= set(names)
    assert all(c["description"] for c in commands)


async def test_start_explains_and_offers_three_examples(bot: Harness) -> None:
    (msg,) = await bot.say("/start")
    assert "ikke rådgivning" in msg["text"] and "112" in msg["text"]
    examples = buttons(msg)
    assert len(examples) == 3 and all(b["callback_data"].startswith("a|") for b in examples)
    assert msg["parse_mode"] == "HTML"


# -- questions ---------------------------------------------------------------------------

async def test_private_question_gets_sourced_answer_with_link_buttons_and_feedback(bot: Harness) -> None:
    (msg,) = await bot.say("hvad er oslo standarden")
    assert "Oslo" in msg["text"]
    assert "<i>Kilde: " in msg["text"] and "Pårørendevenlige kommuner" in msg["text"]
    urls = [b.get("url") for b in buttons(msg)]
    assert "https://www.kompetansebroen.no/samhandling/oslostandard-for-parorendesamarbeid" in urls
    related = [b for b in buttons(msg) if b.get("callback_data", "").startswith("a|")]
    assert 1 <= len(related) <= 3
    votes = [b["callback_data"] for b in buttons(msg) if b["text"] in ("👍", "👎")]
    assert len(votes) == 2
    assert bot.rows("SELECT kind, entry_id FROM questions") == [("answer", "oslo-standarden")]
    assert bot.rows("SELECT count(*) FROM unanswered") == [(0,)]


async def test_member_text_is_escaped(bot: Harness) -> None:
    await bot.say("<b>hvad</b> & <script>")
    for params in bot.fake.sent():
        assert "<script>" not in params["text"]
    stored = bot.rows("SELECT text FROM unanswered")
    assert stored == [("<b>hvad</b> & <script>",)]


async def test_unanswered_question_is_stored_without_user_id_and_offers_topics(bot: Harness) -> None:
    (msg,) = await bot.say("hvem vinder fodboldkampen i aften", user_id=4242)
    assert "ved jeg desværre ikke" in msg["text"]
    assert any(b["callback_data"].startswith("t|") for b in buttons(msg))
    columns = [r[1] for r in bot.rows("PRAGMA table_info(unanswered)")]
    assert not any("user" in c or "chat" in c for c in columns)
    assert bot.rows("SELECT kind, text FROM unanswered") == [("fallback", "hvem vinder fodboldkampen i aften")]
    assert "4242" not in json.dumps(bot.rows("SELECT * FROM unanswered"))


async def test_crisis_reply_first_and_text_not_stored(bot: Harness) -> None:
    (msg,) = await bot.say("jeg vil ikke leve mere")
    assert "112" in msg["text"] and "70 201 201" in msg["text"]
    assert buttons(msg) == []
    assert bot.rows("SELECT kind FROM questions") == [("crisis",)]
    assert bot.rows("SELECT count(*) FROM unanswered") == [(0,)]


async def test_crisis_reply_is_sent_even_when_storage_fails(bot: Harness) -> None:
    await bot.app.bot_data.db.close()  # storage gone: every SQL call now raises
    (msg,) = await bot.say("min søn har skrevet et afskedsbrev")
    assert "112" in msg["text"]


async def test_answer_without_storage_still_answers_without_feedback(bot: Harness) -> None:
    await bot.app.bot_data.db.close()
    (msg,) = await bot.say("hvad er oslo standarden")
    assert "Oslo" in msg["text"]
    assert not any(b["text"] in ("👍", "👎") for b in buttons(msg))


async def test_suggestion_button_answers_on_tap(bot: Harness) -> None:
    (msg,) = await bot.say("pårørende")
    suggestions = [b for b in buttons(msg) if b["callback_data"].startswith("a|")]
    assert "Mente du" in msg["text"] and 1 <= len(suggestions) <= 3
    sent_message = bot.fake.last_message(111)
    calls = await bot.tap(sent_message, suggestions[0]["callback_data"])
    methods = [m for m, _ in calls]
    assert "answerCallbackQuery" in methods
    answer = [p for m, p in calls if m == "sendMessage"][0]
    assert "Kilde:" in answer["text"]
    entry = suggestions[0]["callback_data"].split("|")[1]
    assert bot.app.bot_data.core.knowledge.by_id[entry].answer.split()[0] in answer["text"]


# -- feedback ----------------------------------------------------------------------------

async def test_one_vote_per_member_per_answer_changeable(bot: Harness) -> None:
    (msg,) = await bot.say("hvad er oslo standarden")
    up, down = [b["callback_data"] for b in buttons(msg) if b["text"] in ("👍", "👎")]
    message = bot.fake.last_message(111)

    async def vote(data: str, user_id: int = 111) -> str:
        calls = await bot.tap(message, data, user_id)
        return [p for m, p in calls if m == "answerCallbackQuery"][0]["text"]

    assert await vote(up) == "Tak for din feedback!"
    assert await vote(up) == "Du har allerede stemt sådan."
    assert await vote(down) == "Din stemme er ændret. Tak!"
    assert await vote(up, user_id=222) == "Tak for din feedback!"
    assert sorted(v for (v,) in bot.rows("SELECT vote FROM feedback")) == [-1, 1]
    voters = [v for (v,) in bot.rows("SELECT voter FROM feedback")]
    assert "111" not in voters and "222" not in voters


@pytest.mark.parametrize("data", ["v|999999|u", "v|1|x", "a|findes-ikke", "t|nope|0", "zz", "v|abc|u", ""])
async def test_forged_or_stale_button_changes_nothing(bot: Harness, data: str) -> None:
    await bot.say("hvad er oslo standarden")
    message = bot.fake.last_message(111)
    before = bot.rows("SELECT count(*) FROM feedback"), bot.rows("SELECT count(*) FROM answers")
    calls = await bot.tap(message, data)
    assert [m for m, _ in calls] == ["answerCallbackQuery"]
    assert "virker ikke længere" in calls[0][1]["text"]
    assert (bot.rows("SELECT count(*) FROM feedback"), bot.rows("SELECT count(*) FROM answers")) == before


# -- browsing ----------------------------------------------------------------------------

async def test_topics_browse_down_to_an_entry(bot: Harness) -> None:
    (msg,) = await bot.say("/emner")
    topics = buttons(msg)
    assert len(topics) == len(bot.app.bot_data.core.knowledge.topics)
    message = bot.fake.last_message(111)
    calls = await bot.tap(message, topics[1]["callback_data"])
    edit = [p for m, p in calls if m == "editMessageText"][0]
    entries = [b for b in buttons(edit) if b.get("callback_data", "").startswith("a|")]
    assert 1 <= len(entries) <= 8
    nav = [b["text"] for b in buttons(edit) if not b["callback_data"].startswith("a|")]
    assert "Alle emner" in nav
    calls = await bot.tap(message, entries[0]["callback_data"])
    assert "Kilde:" in [p for m, p in calls if m == "sendMessage"][0]["text"]


async def test_about_lists_the_five_documents(bot: Harness) -> None:
    msgs = await bot.say("/om")
    text = "\n".join(m["text"] for m in msgs)
    for doc in bot.app.bot_data.core.knowledge.sources.values():
        assert doc.publisher.split()[0] in text
    assert "https://www.sst.dk/da/Udgivelser/2022/Fagligt-oplaeg-til-en-10-aarsplan" in text


async def test_help(bot: Harness) -> None:
    (msg,) = await bot.say("/hjaelp")
    assert "/emner" in msg["text"] and "/spoerg" in msg["text"]


# -- groups ------------------------------------------------------------------------------

GROUP = -100123


async def test_group_is_silent_unless_asked(bot: Harness) -> None:
    assert await bot.say("hvad er oslo standarden", chat_id=GROUP, chat_type="supergroup") == []


async def test_group_answers_a_mention(bot: Harness) -> None:
    text = f"@{BOT_USERNAME} hvad er oslo standarden"
    entities = [{"type": "mention", "offset": 0, "length": len(BOT_USERNAME) + 1}]
    (msg,) = await bot.say(text, chat_id=GROUP, chat_type="supergroup", entities=entities)
    assert "Oslo" in msg["text"] and msg["chat_id"] == GROUP


async def test_group_ignores_a_mention_of_someone_else(bot: Harness) -> None:
    entities = [{"type": "mention", "offset": 0, "length": 6}]
    assert await bot.say("@peter hvad er oslo standarden", chat_id=GROUP, chat_type="supergroup",
                         entities=entities) == []


async def test_group_answers_a_reply_to_the_bot(bot: Harness) -> None:
    own = {"message_id": 5, "date": 1, "chat": {"id": GROUP, "type": "supergroup", "title": "G"},
           "from": {"id": BOT_ID, "is_bot": True, "first_name": "BP Bot", "username": BOT_USERNAME},
           "text": "tidligere svar"}
    (msg,) = await bot.say("og hvad er pcv", chat_id=GROUP, chat_type="supergroup", reply_to=own)
    assert "PCV" in msg["text"] or "Visitation" in msg["text"]


async def test_group_spoerg_command(bot: Harness) -> None:
    (msg,) = await bot.say("/spoerg hvad er oslo standarden", chat_id=GROUP, chat_type="supergroup")
    assert "Oslo" in msg["text"]
    (empty,) = await bot.say("/spoerg", chat_id=GROUP, chat_type="supergroup")
    assert "Skriv dit spørgsmål" in empty["text"]


# -- limits ------------------------------------------------------------------------------

async def test_no_message_over_4096_and_no_callback_over_64_bytes(bot: Harness) -> None:
    for text in ("/start", "/emner", "/om", "/hjaelp", "hvad er oslo standarden", "pårørende",
                 "x" * 5000, "hvad foreslår i for regionerne"):
        await bot.say(text)
    for params in bot.fake.sent():
        assert 1 <= utf16_len(params["text"]) <= 4096
        for b in buttons(params):
            if "callback_data" in b:
                assert len(b["callback_data"].encode()) <= 64


async def test_every_entry_id_fits_in_callback_data(knowledge: Knowledge) -> None:
    for entry in knowledge.entries:
        assert len(f"a|{entry.id}".encode()) <= 64, entry.id


async def test_the_same_update_twice_has_one_effect(bot: Harness) -> None:
    update = bot.fake.message_update("hvad er oslo standarden", user_id=333)
    for _ in range(2):
        await bot.app.process_update(Update.de_json(update, bot.app.bot))
    assert len([p for p in bot.fake.sent() if p["chat_id"] == 333]) == 1
    assert bot.rows("SELECT count(*) FROM questions") == [(1,)]
