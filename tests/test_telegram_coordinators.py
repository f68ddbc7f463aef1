"""Coordinator commands: what they show, and that nobody else can use them or change anything."""

from __future__ import annotations

import pytest

from tests.conftest import COORDINATOR, Harness

COORDINATOR_COMMANDS = ["/ubesvarede", "/ubesvarede 3", "/statistik", "/statistik 7",
                        "/koordinator_tilfoej 555", "/koordinator_fjern 555", "/koordinatorer"]


def snapshot(bot: Harness) -> list[object]:
    return [bot.rows(f"SELECT * FROM {t} ORDER BY 1") for t in
            ("coordinators", "questions", "unanswered", "answers", "feedback")]


@pytest.mark.parametrize("command", COORDINATOR_COMMANDS)
async def test_members_are_refused_and_nothing_changes(bot: Harness, command: str) -> None:
    await bot.say("hvem vinder fodboldkampen i aften")  # something for the commands to show
    before = snapshot(bot)
    (msg,) = await bot.say(command, user_id=111)
    assert msg["text"] == "Den kommando er kun for kampagnekoordinatorer."
    assert snapshot(bot) == before


async def test_unanswered_groups_near_duplicates_with_counts(bot: Harness) -> None:
    for text in ("hvad koster et medlemskab", "Hvad koster et medlemskab?", "hvad koster medlemskab egentlig",
                 "hvem vinder fodboldkampen", "pårørende"):
        await bot.say(text, user_id=222)
    (msg,) = await bot.say("/ubesvarede", user_id=COORDINATOR)
    lines = msg["text"].splitlines()
    assert "Ubesvarede spørgsmål, sidste 7 dage" in lines[0]
    assert lines[3].startswith("1. <b>3×</b>") and "medlemskab" in lines[3]
    assert any("fodboldkampen" in line and "<b>1×</b>" in line for line in lines)
    assert any("pårørende" in line and "fik kun forslag" in line for line in lines)


async def test_unanswered_rejects_bad_days_in_danish(bot: Harness) -> None:
    (msg,) = await bot.say("/ubesvarede mange", user_id=COORDINATOR)
    assert "Skriv antal dage som et tal" in msg["text"]


async def test_statistics_sends_a_png_chart_and_text(bot: Harness) -> None:
    await bot.say("hvad er oslo standarden")
    await bot.say("hvad er oslo standarden")
    await bot.say("hvem vinder fodboldkampen")
    msg = (await bot.say("/statistik", user_id=COORDINATOR))[0]
    photo = bot.fake.sent("sendPhoto")[-1]
    assert photo is msg
    assert "3 spørgsmål, 2 besvaret (67%)" in photo["caption"]
    assert "Oslo-standarden" in photo["caption"]


async def test_coordinators_can_be_added_and_removed(bot: Harness) -> None:
    (msg,) = await bot.say("/koordinator_tilfoej 555", user_id=COORDINATOR)
    assert "555 er nu koordinator" in msg["text"]
    (msg,) = await bot.say("/ubesvarede", user_id=555)  # the new coordinator may use the commands
    assert "kun for kampagnekoordinatorer" not in msg["text"]
    (msg,) = await bot.say("/koordinator_fjern 555", user_id=COORDINATOR)
    assert "ikke længere koordinator" in msg["text"]
    (msg,) = await bot.say("/ubesvarede", user_id=555)
    assert msg["text"] == "Den kommando er kun for kampagnekoordinatorer."


async def test_configured_coordinator_cannot_be_removed_from_the_bot(bot: Harness) -> None:
    (msg,) = await bot.say(f"/koordinator_fjern {COORDINATOR}", user_id=COORDINATOR)
    assert "BOT_COORDINATORS" in msg["text"]
    (msg,) = await bot.say("/koordinatorer", user_id=COORDINATOR)
    assert str(COORDINATOR) in msg["text"]
