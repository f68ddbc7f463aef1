"""The engine cache: a second start answers from disk, and an edit is never served stale."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import cache
from bot.knowledge import KnowledgeError


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("BOT_CACHE_DIR", str(folder))
    return folder


def test_a_second_start_answers_from_the_cache(kb_copy: tuple[Path, Path], cache_dir: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    first = cache.load_engine(*kb_copy)
    assert len(list(cache_dir.glob("engine-*.pickle"))) == 1

    def no_loading(*_: object, **__: object) -> None:
        raise AssertionError("the knowledge base was loaded again")

    monkeypatch.setattr(cache, "load_knowledge", no_loading)
    second = cache.load_engine(*kb_copy)
    for question in ("hvad er oslo standarden", "jeg vil ikke leve mere", "hvad koster en pizza"):
        a, b = first.reply(question), second.reply(question)
        assert (a.kind, a.entry, a.body) == (b.kind, b.entry, b.body)


def test_an_edit_is_loaded_and_validated_not_taken_from_the_cache(kb_copy: tuple[Path, Path], cache_dir: Path) -> None:
    cache.load_engine(*kb_copy)
    path = kb_copy[0] / "paaroerendevenlige-kommuner.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("title: Oslo-standarden", "title: Oslo-standarden (norsk)", 1), encoding="utf-8")
    engine = cache.load_engine(*kb_copy)
    assert engine.knowledge.by_id["oslo-standarden"].title == "Oslo-standarden (norsk)"
    assert len(list(cache_dir.glob("engine-*.pickle"))) == 1  # the old one is gone

    (kb_copy[0] / "zz-broken.yaml").write_text("entries:\n  - id: x\n\ttitle: y\n", encoding="utf-8")
    with pytest.raises(KnowledgeError):
        cache.load_engine(*kb_copy)


def test_a_damaged_cache_file_is_rebuilt(kb_copy: tuple[Path, Path], cache_dir: Path) -> None:
    cache.load_engine(*kb_copy)
    (stored,) = cache_dir.glob("engine-*.pickle")
    stored.write_bytes(b"not a pickle")
    assert cache.load_engine(*kb_copy).reply("hvad er oslo standarden").entry == "oslo-standarden"


def test_an_unwritable_cache_folder_means_no_cache(kb_copy: tuple[Path, Path], tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    monkeypatch.setenv("BOT_CACHE_DIR", str(blocker / "cache"))  # a folder inside a file
    assert cache.load_engine(*kb_copy).reply("hvad er oslo standarden").entry == "oslo-standarden"
