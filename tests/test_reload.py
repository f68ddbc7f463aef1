"""Reloading knowledge while the bot runs: a broken file changes nothing and is reported."""

from __future__ import annotations

import shutil
from pathlib import Path

from bot.knowledge import INTENTS_DIR, KNOWLEDGE_DIR
from tests.conftest import COORDINATOR, Harness


def copy_kb(tmp_path: Path) -> tuple[Path, Path]:
    k, i = tmp_path / "kb" / "knowledge", tmp_path / "kb" / "intents"
    shutil.copytree(KNOWLEDGE_DIR, k)
    shutil.copytree(INTENTS_DIR, i)
    return k, i


async def test_reload_picks_up_an_edit(bot: Harness, tmp_path: Path) -> None:
    k, i = copy_kb(tmp_path)
    bot.app.bot_data.knowledge_dirs = (k, i)
    path = k / "paaroerendevenlige-kommuner.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("title: Oslo-standarden", "title: Oslo-standarden (norsk)", 1), encoding="utf-8")
    (msg,) = await bot.say("/genindlaes", user_id=COORDINATOR)
    assert "genindlæst" in msg["text"]
    assert bot.app.bot_data.core.knowledge.by_id["oslo-standarden"].title == "Oslo-standarden (norsk)"


async def test_broken_file_keeps_the_old_knowledge_and_reports_file_line(bot: Harness, tmp_path: Path) -> None:
    k, i = copy_kb(tmp_path)
    bot.app.bot_data.knowledge_dirs = (k, i)
    engine = bot.app.bot_data.core
    (k / "zz-broken.yaml").write_text("entries:\n  - id: x\n\ttitle: y\n", encoding="utf-8")
    (msg,) = await bot.say("/genindlaes", user_id=COORDINATOR)
    assert "ikke genindlæst" in msg["text"] and "zz-broken.yaml:3: not valid YAML" in msg["text"]
    assert bot.app.bot_data.core is engine
    (answer,) = await bot.say("hvad er oslo standarden")
    assert "Oslo" in answer["text"]


async def test_members_cannot_reload(bot: Harness) -> None:
    (msg,) = await bot.say("/genindlaes", user_id=111)
    assert msg["text"] == "Den kommando er kun for kampagnekoordinatorer."
