"""The crisis model's two bars and how training chooses them (no Telegram, no database)."""

from __future__ import annotations

import json
from pathlib import Path

from bot.crisis import CrisisDetector
from bot.knowledge import Knowledge
from bot.risk_model import RiskModel, train


def test_a_policy_question_about_nobody_or_a_word_alone_needs_the_higher_bar(knowledge: Knowledge) -> None:
    # No weights: the model gives every message 0.5, between the two bars.
    model = RiskModel(weights={}, bias=0.0, threshold=0.4, strict_threshold=0.6)
    check = CrisisDetector(knowledge.crisis, model)
    assert check.is_crisis("kolesterol og blodtryk")
    assert not check.is_crisis("hvad foreslår bedre psykiatri om kolesterol")
    # about a person, the lower bar again
    assert check.is_crisis("hvad foreslår bedre psykiatri, min søn har kolesterol")
    # one or two words say too little for the lower bar
    assert not check.is_crisis("vejret")
    assert not check.is_crisis("kolesterol blodtryk")
    # a plain goodbye is not read by the model at all
    assert not check.is_crisis("farvel og tak")


def _messages() -> tuple[list[str], list[str]]:
    plain = ["kan ikke finde ud af det", "alting er gråt", "ingen lytter", "det hele er tungt",
             "sover ikke", "er helt alene", "ser ingen vej", "orker ingenting", "alt er mørkt",
             "vil væk herfra"]
    topics = ["akutsenge", "bosteder", "regionerne", "kommunerne", "pårørende", "oslo", "tvang", "udskrivelse"]
    # Crisis messages the model finds hard (they read like the policy questions) but the
    # phrase lists catch ("alarm"), and ones in words of their own that the model learns.
    hard = [f"hvad foreslår i om {w} alarm" for w in topics * 3]
    easy = [f"{w} {i}" for i, w in enumerate(plain * 4)]
    negatives = [f"hvad foreslår i om {w} nummer {i}" for i, w in enumerate(topics * 25)]
    return hard + easy, negatives


def test_training_sets_the_bar_for_the_whole_check_and_never_above_the_models_own() -> None:
    positives, negatives = _messages()

    def phrases(text: str) -> bool:  # the phrase lists catch the hard ones
        return "alarm" in text

    with_phrases, stats = train(positives, negatives, epochs=4, folds=3, target_recall=0.97, caught=phrases)
    alone, _ = train(positives, negatives, epochs=4, folds=3, target_recall=0.97)
    assert stats["out_of_fold"]["with_phrases"] >= 0.97  # type: ignore[index]
    assert with_phrases.threshold <= with_phrases.strict_threshold  # type: ignore[operator]
    # Alone, the model must reach the hard ones too, at a low bar; with the phrases catching
    # them, it need only catch its own, at a higher one.
    assert with_phrases.threshold > alone.threshold


def test_the_shipped_model_has_both_bars() -> None:
    data = json.loads((Path(__file__).resolve().parent.parent / "intents" / "crisis_model.json").read_text("utf-8"))
    assert 0 < data["threshold"] <= data["strict_threshold"] < 1
    assert data["trained_on"]["out_of_fold"]["with_phrases"] >= 0.97
