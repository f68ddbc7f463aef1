"""The quiz without Telegram: the question bank, rounds, grading, repetition with a fake clock."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.knowledge import Knowledge
from bot.quiz import (
    INTERVALS,
    ROUND_SIZE,
    build_bank,
    figure_kind,
    find_theme,
    make_round,
    themes,
)
from bot.quiz_session import QuizService
from bot.storage import Storage

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime = T0):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _norm(option: str) -> str:
    return " ".join(option.casefold().split())


# -- the bank ----------------------------------------------------------------------------

def test_bank_is_big_and_covers_every_document(knowledge: Knowledge) -> None:
    bank = build_bank(knowledge)
    assert len({q.id for q in bank}) == len(bank) >= 120
    docs = Counter(knowledge.by_id[q.entry_id].source.doc for q in bank)
    assert set(docs) == set(knowledge.sources)


def test_every_question_fits_telegram_and_has_one_right_option(knowledge: Knowledge) -> None:
    for q in build_bank(knowledge):
        assert 3 <= len(q.options) <= 4 or (q.id.endswith("#tal") and len(q.options) >= 3), q.id
        assert len({_norm(o) for o in q.options}) == len(q.options), q.id
        assert all(1 <= len(o) <= 100 for o in q.options), q.id
        assert len(q.text) <= 255 and len(q.explanation) <= 200, q.id
        assert q.explanation and q.source


facts_strategy = st.sampled_from


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_generated_fact_questions_have_the_figure_once_and_distinct_options(knowledge: Knowledge, data: st.DataObject) -> None:
    generated = [q for q in build_bank(knowledge) if q.id.endswith("#tal")]
    q = data.draw(st.sampled_from(generated))
    entry = knowledge.by_id[q.entry_id]
    assert entry.fact is not None
    figure = _norm(entry.fact.figure)
    assert [_norm(o) for o in q.options].count(figure) == 1
    assert _norm(q.options[0]) == figure
    assert len({_norm(o) for o in q.options}) == len(q.options)
    # wrong options are figures of the same kind, never another fact's figure for the same measure
    kind = figure_kind(entry.fact.figure)
    same_measure = {_norm(e.fact.figure) for e in knowledge.entries
                    if e.fact and e.id != entry.id and e.fact.measures.casefold() == entry.fact.measures.casefold()}
    for wrong in q.options[1:]:
        assert figure_kind(wrong) == kind
        assert _norm(wrong) not in same_measure


def test_most_facts_get_a_generated_question(knowledge: Knowledge) -> None:
    facts = [e for e in knowledge.entries if e.type == "fact"]
    generated = [q for q in build_bank(knowledge) if q.id.endswith("#tal")]
    assert len(generated) >= len(facts) // 2


# -- rounds ------------------------------------------------------------------------------

@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_round_has_ten_distinct_questions_and_shuffled_options(knowledge: Knowledge, seed: int) -> None:
    bank = build_bank(knowledge)
    theme = themes(knowledge)[0]
    asked = make_round(bank, theme, [], {}, random.Random(seed))
    assert len(asked) == ROUND_SIZE
    assert len({a.question_id for a in asked}) == ROUND_SIZE
    by_id = {q.id: q for q in bank}
    for a in asked:
        q = by_id[a.question_id]
        assert sorted(a.order) == list(range(len(q.options)))
        assert a.shown(q)[a.right_position()] == q.options[0]


def test_right_answer_is_not_always_in_the_same_place(knowledge: Knowledge) -> None:
    bank = build_bank(knowledge)
    positions = Counter()
    for seed in range(20):
        for a in make_round(bank, themes(knowledge)[0], [], {}, random.Random(seed)):
            positions[a.right_position()] += 1
    assert len(positions) >= 3 and max(positions.values()) < 0.6 * sum(positions.values())


def test_theme_limits_the_round(knowledge: Knowledge) -> None:
    bank = build_bank(knowledge)
    theme = find_theme(knowledge, "bosteder")
    assert theme is not None and theme.id == "gode-bosteder"
    for a in make_round(bank, theme, [], {}, random.Random(1)):
        assert next(q for q in bank if q.id == a.question_id).topic == "gode-bosteder"
    assert find_theme(knowledge, "regionerne") is not None
    assert find_theme(knowledge, "xyzzy") is None


# -- rounds over storage, with a fake clock ------------------------------------------------

@pytest.fixture
async def service(tmp_path: Path, knowledge: Knowledge):  # type: ignore[no-untyped-def]
    store = await Storage.open(tmp_path / "bot.sqlite3")
    clock = Clock()
    yield QuizService(knowledge, store, clock, random.Random(3)), clock, store
    await store.close()


async def _answer_all(service: QuizService, user: int, chat: int, right: set[str] | bool) -> int:
    """Play the active round: answer right for question ids in `right` (or all/none)."""
    shown = await service.current(user, chat)
    while shown is not None:
        want_right = right if isinstance(right, bool) else shown.question.id in right
        target = shown.question.options[0]
        index = shown.options.index(target) if want_right else next(
            i for i, o in enumerate(shown.options) if o != target)
        await service.answer(shown.round_id, shown.position, user, index)
        shown = await service.current(user, chat)
    return 0


async def test_full_round_scores_and_compares(service) -> None:  # type: ignore[no-untyped-def]
    quiz, clock, _ = service
    first = await quiz.start(1, 1, quiz.themes["alle"])
    assert first is not None and first.total == 10
    await _answer_all(quiz, 1, 1, True)
    result = await quiz.result(first.round_id)
    assert (result.score, result.total, result.missed) == (10, 10, [])
    assert result.comparison() == "Det var din første runde."
    clock.now += timedelta(minutes=5)
    second = await quiz.start(1, 1, quiz.themes["alle"])
    assert second is not None
    await _answer_all(quiz, 1, 1, False)
    result = await quiz.result(second.round_id)
    assert result.score == 0 and len(result.missed) >= 1
    assert "under dit gennemsnit" in result.comparison()


async def test_wrong_answers_come_back_on_schedule_until_right_twice(service) -> None:  # type: ignore[no-untyped-def]
    quiz, clock, store = service
    first = await quiz.start(7, 7, quiz.themes["alle"])
    assert first is not None
    missed = first.question.id
    await _answer_all(quiz, 7, 7, {q for q in quiz.bank if q != missed})  # only `missed` wrong

    async def next_round_ids() -> list[str]:
        shown = await quiz.start(7, 7, quiz.themes["alle"])
        assert shown is not None
        rnd = await store.quiz_round(shown.round_id)
        return [q for q, _ in rnd.asked]

    reps = await store.quiz_repetitions(7)
    assert reps[missed][2] == T0 + INTERVALS[0]

    clock.now = T0 + INTERVALS[0] + timedelta(minutes=1)
    ids = await next_round_ids()
    assert missed in ids  # due: it is in the round
    await _answer_all(quiz, 7, 7, True)
    reps = await store.quiz_repetitions(7)
    assert reps[missed][0] == 1 and reps[missed][2] == clock.now + INTERVALS[1]

    clock.now += INTERVALS[1] + timedelta(minutes=1)
    assert missed in await next_round_ids()
    await _answer_all(quiz, 7, 7, True)
    assert missed not in await store.quiz_repetitions(7)  # right twice in a row: learnt


async def test_foreign_and_stale_answers_change_nothing(service) -> None:  # type: ignore[no-untyped-def]
    quiz, _, store = service
    shown = await quiz.start(1, 1, quiz.themes["alle"])
    assert shown is not None
    assert await quiz.answer(shown.round_id, 0, 2, 0) == "foreign"
    assert await quiz.answer(shown.round_id, 5, 1, 0) == "stale"
    assert await quiz.answer(9999, 0, 1, 0) == "unknown"
    assert await store.round_answers(shown.round_id) == []
    graded = await quiz.answer(shown.round_id, 0, 1, 0)
    assert not isinstance(graded, str)
    assert await quiz.answer(shown.round_id, 0, 1, 1) == "stale"  # the same question twice
    assert len(await store.round_answers(shown.round_id)) == 1


async def test_a_round_resumes_after_restart(tmp_path: Path, knowledge: Knowledge) -> None:
    path = tmp_path / "bot.sqlite3"
    store = await Storage.open(path)
    quiz = QuizService(knowledge, store, Clock(), random.Random(5))
    shown = await quiz.start(1, 1, quiz.themes["alle"])
    assert shown is not None
    await quiz.answer(shown.round_id, 0, 1, 0)
    await quiz.answer(shown.round_id, 1, 1, 0)
    before = await quiz.current(1, 1)
    await store.close()

    store = await Storage.open(path)  # a new process
    quiz = QuizService(knowledge, store, Clock(), random.Random(99))
    after = await quiz.current(1, 1)
    assert after is not None and before is not None
    assert (after.round_id, after.position, after.question.id, after.options) == (
        before.round_id, 2, before.question.id, before.options)
    await store.close()


async def test_progress_per_topic(service) -> None:  # type: ignore[no-untyped-def]
    quiz, _, _ = service
    await quiz.start(1, 1, quiz.themes["gode-bosteder"])
    await _answer_all(quiz, 1, 1, True)
    progress = {p.title: p for p in await quiz.progress(1)}
    assert progress["Gode bosteder"].answered >= 1
    assert progress["Gode bosteder"].right_share == 1.0
