"""The entry model: a learned second opinion on which entry a question is about, or none."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from bot import entry_model as em
from bot.engine import Engine
from bot.evaluate import DEFAULT_EVAL, load_cases, train_members
from bot.knowledge import load_knowledge

from .conftest import run_bot


@pytest.mark.parametrize(("question", "entry"), [
    # A concept and the proposal that names it share nearly every word; the question's
    # form ("hvad er" against "hvad foreslår") decides.
    ("hvad er et pårørenderåd på et bosted", "paaroerenderaad-paa-bosteder"),
    ("hvad foreslår i om pårørenderåd på bostederne", "kommuner-forslag-paaroerenderaad-paa-bosteder"),
    ("hvad er oslo-standarden", "oslo-standarden"),
    ("hvad foreslår bedre psykiatri at kommunerne gør med oslo standarden", "kommuner-forslag-oslo-standarden"),
])
def test_the_question_form_tells_a_concept_from_the_proposal_naming_it(engine: Engine, question: str, entry: str) -> None:
    reply = engine.reply(question)
    assert (reply.kind, reply.entry) == ("answer", entry)


@pytest.mark.parametrize("question", [
    "hvad koster en pizza i odense",
    "hvornår går toget til aalborg",
])
def test_an_everyday_question_is_most_likely_about_no_entry(engine: Engine, question: str) -> None:
    model = engine.entry_model
    probs = model.probabilities(engine.matcher.analyse(question))
    assert model.classes[int(probs.argmax())] == em.NONE
    assert engine.reply(question).kind == "fallback"


def test_the_shipped_model_learned_from_this_knowledge_base(engine: Engine) -> None:
    # Otherwise every start would train a model in memory (and `check` fails).
    assert engine.entry_model is engine.knowledge.entry_model


def test_the_shipped_model_learned_the_eval_train_split_as_it_is(engine: Engine) -> None:
    # Members' questions from the train split are training data; the test split is not.
    members = train_members()
    assert engine.entry_model.members_sha256 == em.examples_hash(members)
    test_questions = {c.q for c in load_cases(DEFAULT_EVAL) if c.split == "test"}
    assert test_questions and not test_questions & {text for _, text in members}


def test_a_saved_model_answers_as_before(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / em.MODEL_FILE
    engine.entry_model.save(path)
    loaded = em.EntryModel.load(path)
    assert loaded.classes == engine.entry_model.classes
    assert loaded.data_sha256 == engine.entry_model.data_sha256
    assert loaded.members_sha256 == engine.entry_model.members_sha256 != ""
    query = engine.matcher.analyse("hvor mange bliver genindlagt inden for 30 dage")
    assert np.allclose(loaded.probabilities(query), engine.entry_model.probabilities(query), atol=1e-3)


def _add_entry(knowledge_dir: Path) -> None:
    """A coordinator adds an entry the shipped model has never seen."""
    entry = {
        "id": "test-havkajak-ordning",
        "type": "concept",
        "topic": next(iter(yaml.safe_load((knowledge_dir / "topics.yaml").read_text(encoding="utf-8"))["topics"]))["id"],
        "title": "Havkajakordningen",
        "answer": "Havkajakordningen er et prøveeksempel, som kun findes i denne test.",
        "source": {"doc": "maerkesager-2025", "section": "Test"},
        "phrasings": ["hvad er havkajakordningen", "havkajak ordning", "fortæl om havkajakordningen",
                      "hvad går havkajakordningen ud på", "havkajakordningen for pårørende",
                      "hvem står bag havkajakordningen"],
        "keywords": ["havkajak"],
    }
    (knowledge_dir / "zz-test.yaml").write_text(
        yaml.safe_dump({"entries": [entry]}, allow_unicode=True), encoding="utf-8")


def test_an_edited_knowledge_base_is_served_with_a_model_trained_at_start(kb_copy: tuple[Path, Path]) -> None:
    _add_entry(kb_copy[0])
    knowledge = load_knowledge(*kb_copy)
    engine = Engine(knowledge)
    assert engine.entry_model is not knowledge.entry_model
    assert "test-havkajak-ordning" in engine.entry_model.classes
    reply = engine.reply("hvad er havkajak ordningen egentlig")
    assert (reply.kind, reply.entry) == ("answer", "test-havkajak-ordning")


def test_check_reports_a_stale_entry_model_with_file_and_line(kb_copy: tuple[Path, Path]) -> None:
    _add_entry(kb_copy[0])
    result = run_bot("check", "--knowledge", str(kb_copy[0]), "--intents", str(kb_copy[1]))
    assert result.returncode == 1
    assert f"{kb_copy[1] / em.MODEL_FILE}:1: the entry model was trained on another version" in result.stdout


@pytest.mark.parametrize("content", [b"PK\x03\x04 not really a zip", b"not numpy at all"])
def test_a_damaged_model_file_is_reported_with_file_and_line(kb_copy: tuple[Path, Path], content: bytes) -> None:
    (kb_copy[1] / em.MODEL_FILE).write_bytes(content)
    result = run_bot("check", "--knowledge", str(kb_copy[0]), "--intents", str(kb_copy[1]))
    assert result.returncode == 1
    assert f"{kb_copy[1] / em.MODEL_FILE}:1: cannot read the entry model" in result.stdout
