"""Quiz rounds over storage: start, show, answer, finish, status, group polls, statistics.

No telegram: the Telegram handlers and the terminal chat call these. All state lives in
SQLite, so a restart in the middle of a round resumes it where it was.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.knowledge import Knowledge
from bot.quiz import (
    Asked,
    Question,
    Repetition,
    RoundResult,
    Theme,
    after_answer,
    build_bank,
    make_round,
    themes,
)
from bot.storage import QuizRound, Storage


@dataclass(frozen=True)
class Shown:
    round_id: int
    position: int
    total: int
    question: Question
    options: list[str]


@dataclass(frozen=True)
class Graded:
    right: bool
    chosen_text: str
    right_text: str
    question: Question
    finished: bool


@dataclass(frozen=True)
class TopicProgress:
    title: str
    questions: int  # in the bank
    answered: int  # distinct questions this volunteer has answered
    right_share: float
    due: int  # repetitions due now
    waiting: int  # repetitions scheduled later


class QuizService:
    def __init__(self, knowledge: Knowledge, storage: Storage, clock: Callable[[], datetime],
                 rng: random.Random | None = None):
        self.knowledge = knowledge
        self.storage = storage
        self.clock = clock
        self.rng = rng or random.Random()
        self.bank = {q.id: q for q in build_bank(knowledge)}
        self.themes = {t.id: t for t in themes(knowledge)}

    # -- private rounds ------------------------------------------------------------------

    async def start(self, user_id: int, chat_id: int, theme: Theme, kind: str = "private") -> Shown | None:
        now = self.clock()
        reps = await self.storage.quiz_repetitions(user_id) if kind == "private" else {}
        due = sorted((q for q, (_, _, at) in reps.items() if at <= now), key=lambda q: reps[q][2])
        seen = await self.storage.quiz_seen(user_id) if kind == "private" else {}
        asked = make_round(list(self.bank.values()), theme, due, seen, self.rng)
        if not asked:
            return None
        round_id = await self.storage.create_quiz_round(
            user_id=user_id, chat_id=chat_id, kind=kind, theme=theme.id,
            asked=[(a.question_id, a.order) for a in asked], at=now,
        )
        return self.show(await self._round(round_id), 0)

    async def _round(self, round_id: int) -> QuizRound:
        rnd = await self.storage.quiz_round(round_id)
        assert rnd is not None
        return rnd

    def show(self, rnd: QuizRound, position: int) -> Shown | None:
        if position >= len(rnd.asked):
            return None
        qid, order = rnd.asked[position]
        question = self.bank.get(qid)
        if question is None or len(order) != len(question.options):
            # the knowledge base changed under a running round: show what we still can
            return None
        return Shown(rnd.id, position, len(rnd.asked), question, Asked(qid, order).shown(question))

    async def current(self, user_id: int, chat_id: int) -> Shown | None:
        rnd = await self.storage.active_quiz_round(user_id, chat_id)
        return self.show(rnd, rnd.position) if rnd else None

    async def answer(self, round_id: int, position: int, user_id: int, shown_index: int) -> Graded | str:
        """Grade an answer; a string says why nothing changed: 'unknown', 'foreign', 'stale'."""
        rnd = await self.storage.quiz_round(round_id)
        if rnd is None:
            return "unknown"
        if rnd.user_id != user_id:
            return "foreign"
        if rnd.state != "active" or rnd.position != position or position >= len(rnd.asked):
            return "stale"
        qid, order = rnd.asked[position]
        question = self.bank.get(qid)
        if question is None or not 0 <= shown_index < len(order):
            return "stale"
        asked = Asked(qid, order)
        right = shown_index == asked.right_position()
        now = self.clock()
        reps = await self.storage.quiz_repetitions(user_id)
        previous = Repetition(qid, reps[qid][0], reps[qid][2], reps[qid][1]) if qid in reps else None
        nxt = after_answer(previous, qid, right, now)
        recorded = await self.storage.answer_quiz(
            round_id=round_id, position=position, user_id=user_id, question_id=qid, chosen=shown_index,
            correct=right, at=now, advance=True,
            repetition=(nxt.streak, nxt.level, nxt.due_at) if nxt else None, keep_repetition=False,
        )
        if not recorded:
            return "stale"
        finished = position + 1 >= len(rnd.asked)
        if finished:
            await self.storage.finish_quiz_round(round_id, now)
        shown = asked.shown(question)
        return Graded(right, shown[shown_index], question.options[0], question, finished)

    async def result(self, round_id: int) -> RoundResult:
        rnd = await self._round(round_id)
        answers = await self.storage.round_answers(round_id)
        missed = []
        for _, _, qid, right in answers:
            q = self.bank.get(qid)
            if not right and q and q.entry_id not in missed:
                missed.append(q.entry_id)
        end = rnd.finished_at or self.clock()
        earlier = await self.storage.earlier_quiz_scores(rnd.user_id, round_id)
        return RoundResult(score=sum(1 for a in answers if a[3]), total=len(rnd.asked),
                           seconds=(end - rnd.started_at).total_seconds(), missed=missed, earlier=earlier)

    async def progress(self, user_id: int) -> list[TopicProgress]:
        now = self.clock()
        seen = await self.storage.quiz_seen(user_id)
        mine = await self.storage.quiz_answers_since(datetime.min.replace(tzinfo=now.tzinfo), user_id)
        reps = await self.storage.quiz_repetitions(user_id)
        out = []
        for topic in self.knowledge.topics.values():
            ids = {q.id for q in self.bank.values() if q.topic == topic.id}
            if not ids:
                continue
            rows = [a for a in mine if a.question_id in ids]
            out.append(TopicProgress(
                title=topic.title, questions=len(ids), answered=len(ids & set(seen)),
                right_share=(sum(a.correct for a in rows) / len(rows)) if rows else 0.0,
                due=sum(1 for q, (_, _, at) in reps.items() if q in ids and at <= now),
                waiting=sum(1 for q, (_, _, at) in reps.items() if q in ids and at > now),
            ))
        return out

    # -- group quizzes -------------------------------------------------------------------

    async def start_group(self, coordinator_id: int, chat_id: int, theme: Theme) -> QuizRound | None:
        shown = await self.start(coordinator_id, chat_id, theme, kind="group")
        return await self._round(shown.round_id) if shown else None

    async def record_poll_answer(self, poll_id: str, user_id: int, name: str, option: int) -> bool:
        poll = await self.storage.quiz_poll(poll_id)
        if poll is None:
            return False
        round_id, position, qid, correct_option = poll
        await self.storage.add_quiz_player(round_id, user_id, name)
        return await self.storage.answer_quiz(
            round_id=round_id, position=position, user_id=user_id, question_id=qid, chosen=option,
            correct=option == correct_option, at=self.clock(), advance=False, repetition=None,
            keep_repetition=True,
        )

    async def leaderboard(self, round_id: int) -> list[tuple[str, int, int]]:
        """(name, right, answered), best first."""
        players = await self.storage.quiz_players(round_id)
        right: Counter[int] = Counter()
        answered: Counter[int] = Counter()
        for _, user_id, _, ok in await self.storage.round_answers(round_id):
            answered[user_id] += 1
            right[user_id] += int(ok)
        board = [(players.get(u, "Ukendt"), right[u], answered[u]) for u in answered]
        board.sort(key=lambda r: (-r[1], -r[2], r[0]))
        return board

    # -- coordinators --------------------------------------------------------------------

    async def team_stats(self, since: datetime) -> tuple[list[tuple[str, int, int, float]], list[tuple[Question, int, int]]]:
        """Per topic (title, volunteers, answers, share right) and the most-missed questions."""
        answers = await self.storage.quiz_answers_since(since)
        per_topic: dict[str, list[bool]] = defaultdict(list)
        people: dict[str, set[int]] = defaultdict(set)
        per_question: dict[str, list[bool]] = defaultdict(list)
        for a in answers:
            q = self.bank.get(a.question_id)
            if q is None:
                continue
            per_topic[q.topic].append(a.correct)
            people[q.topic].add(a.user_id)
            per_question[q.id].append(a.correct)
        topics = [(self.knowledge.topics[t].title, len(people[t]), len(v), sum(v) / len(v))
                  for t, v in per_topic.items() if t in self.knowledge.topics]
        topics.sort(key=lambda r: r[3])
        missed = [(self.bank[q], v.count(False), len(v)) for q, v in per_question.items() if v.count(False)]
        missed.sort(key=lambda r: (-r[1] / r[2], -r[1]))
        return topics, missed[:10]
