"""Quiz for volunteer training: the question bank, rounds, grading and spaced repetition.

No telegram and no SQL here: the Telegram handlers and the terminal chat both drive these
functions, and the tests run them with a fake clock.

- Questions come from the knowledge base: the `quiz:` items authored beside the entries,
  and one generated question per fact entry (the figure is the right answer; the wrong
  options are other figures of the same kind from the same documents, so they are
  plausible, never equal to the right answer once formatted, and never the figure of
  another fact that measures the same thing).
- A round is 10 questions; options are shuffled per round.
- Repetition (Leitner-style): a question answered wrongly comes back after 1 day, then
  after 3 days, until it has been answered right twice in a row; a wrong answer on the way
  starts it over.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.knowledge import Entry, Knowledge

ROUND_SIZE = 10
# A wrong answer comes back after 1 day; a first right answer then sends it 3 days on;
# the second right answer in a row retires it.
INTERVALS = (timedelta(days=1), timedelta(days=3))
RIGHT_IN_A_ROW = 2  # a repeated question is learnt after this many right answers in a row
MAX_EXPLANATION = 200


# -- themes ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Theme:
    id: str
    title: str
    topics: frozenset[str]


def themes(knowledge: Knowledge) -> list[Theme]:
    """All topics, each mærkesag, the regional recommendations, and the national material."""
    topics = knowledge.topics.values()
    out = [Theme("alle", "Alle emner", frozenset(t.id for t in topics))]
    for t in topics:
        if t.group == "maerkesag" and t.id != "maerkesager":
            out.append(Theme(t.id, t.title, frozenset({t.id})))
    out.append(Theme("maerkesager", "De fem mærkesager",
                     frozenset(t.id for t in topics if t.group == "maerkesag")))
    out.append(Theme("regionale", "Anbefalinger til regionerne",
                     frozenset(t.id for t in topics if t.group == "regional")))
    out.append(Theme("national", "Tiårsplanen og de øvrige dokumenter",
                     frozenset(t.id for t in topics if t.group == "national")))
    return out


def find_theme(knowledge: Knowledge, text: str) -> Theme | None:
    """The theme a volunteer named ("/quiz bosteder"), matched loosely."""
    from bot.text import content_words

    wanted = set(content_words(text))
    if not wanted:
        return None
    best: tuple[int, Theme] | None = None
    for theme in themes(knowledge):
        words = set(content_words(f"{theme.id.replace('-', ' ')} {theme.title}"))
        hits = sum(1 for w in wanted if any(v.startswith(w[:5]) for v in words))
        if hits and (best is None or hits > best[0]):
            best = (hits, theme)
    return best[1] if best else None


# -- the bank ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Question:
    id: str  # stable: "<entry>#<n>" for authored, "<entry>#tal" for generated
    entry_id: str
    topic: str
    text: str
    options: tuple[str, ...]  # the right one first; rounds shuffle
    explanation: str
    source: str
    link: str | None


_PERCENT = re.compile(r"%|\bpct\b|procent", re.I)
_YEAR = re.compile(r"^(19|20)\d\d$")
_MONEY = re.compile(r"kr\b|kroner", re.I)
_RATIO = re.compile(r"\bud af\b|\bhver\b|\bhalvdel", re.I)
_NUMBER = re.compile(r"\d")


def figure_kind(figure: str) -> str | None:
    f = figure.strip()
    if _PERCENT.search(f):
        return "percent"
    if _MONEY.search(f):
        return "money"
    if _YEAR.match(f):
        return "year"
    if _RATIO.search(f):
        return "ratio"
    if _NUMBER.search(f):
        return "count"
    return None


def _norm(figure: str) -> str:
    return re.sub(r"\s+", " ", figure.strip().casefold().replace("procent", "%").replace("pct.", "%").replace("pct", "%"))


def _first_sentences(text: str, limit: int = MAX_EXPLANATION) -> str:
    sentences = re.split(r"(?<=[.!?])\s+", " ".join(text.split()))
    out = ""
    for s in sentences:
        candidate = f"{out} {s}".strip()
        if len(candidate) > limit:
            break
        out = candidate
    if not out:
        out = sentences[0][: limit - 1].rsplit(" ", 1)[0] + "…"
    return out


def _generated(entry: Entry, facts: Sequence[Entry], knowledge: Knowledge) -> Question | None:
    assert entry.fact is not None
    right = entry.fact.figure.strip()
    kind = figure_kind(right)
    if kind is None:
        return None
    same_thing = {_norm(f.fact.figure) for f in facts  # type: ignore[union-attr]
                  if f.fact and f.fact.measures.strip().casefold() == entry.fact.measures.strip().casefold()}
    pool = sorted({f.fact.figure.strip() for f in facts if f.fact and f.id != entry.id  # type: ignore[union-attr]
                   and figure_kind(f.fact.figure) == kind})
    candidates = [p for p in pool if _norm(p) != _norm(right) and _norm(p) not in same_thing
                  and len(p) <= 100]
    if len(candidates) < 2:
        return None
    rng = random.Random(entry.id)  # the same distractors every time for this fact
    wrong = rng.sample(candidates, min(3, len(candidates)))
    measures = entry.fact.measures.strip().rstrip(".")
    year = f" ({entry.fact.year})" if entry.fact.year and entry.fact.year not in measures else ""
    text = f"Hvilket tal passer? {measures[0].upper()}{measures[1:]}{year}"
    return Question(
        id=f"{entry.id}#tal", entry_id=entry.id, topic=entry.topic, text=text[:250],
        options=(right, *wrong), explanation=_first_sentences(entry.answer),
        source=knowledge.source_line(entry), link=entry.links[0].url if entry.links else None,
    )


def build_bank(knowledge: Knowledge) -> list[Question]:
    facts = [e for e in knowledge.entries if e.type == "fact" and e.fact is not None]
    bank: list[Question] = []
    for entry in knowledge.entries:
        for n, item in enumerate(entry.quiz):
            options = (item.options[item.correct],
                       *(o for i, o in enumerate(item.options) if i != item.correct))
            bank.append(Question(
                id=f"{entry.id}#{n}", entry_id=entry.id, topic=entry.topic, text=item.question,
                options=tuple(o.strip() for o in options), explanation=item.explanation,
                source=knowledge.source_line(entry),
                link=entry.links[0].url if entry.links else None,
            ))
    for entry in facts:
        q = _generated(entry, facts, knowledge)
        if q is not None:
            bank.append(q)
    return bank


# -- rounds --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Asked:
    """A question as shown in one round: the option order is part of the round."""

    question_id: str
    order: tuple[int, ...]  # order[i] = index into Question.options shown at position i

    def shown(self, q: Question) -> list[str]:
        return [q.options[i] for i in self.order]

    def right_position(self) -> int:
        return self.order.index(0)


@dataclass(frozen=True)
class Repetition:
    question_id: str
    streak: int  # right answers in a row since the last wrong one
    due_at: datetime
    level: int  # index into INTERVALS


def make_round(bank: Sequence[Question], theme: Theme, due: Iterable[str],
               seen: dict[str, int], rng: random.Random, size: int = ROUND_SIZE) -> list[Asked]:
    """Due repetitions first, then the questions this volunteer has seen least."""
    pool = [q for q in bank if q.topic in theme.topics]
    by_id = {q.id: q for q in pool}
    chosen: list[Question] = [by_id[i] for i in due if i in by_id][:size]
    rest = [q for q in pool if q not in chosen]
    rng.shuffle(rest)
    rest.sort(key=lambda q: seen.get(q.id, 0))  # stable: shuffled within equal counts
    chosen += rest[: size - len(chosen)]
    rng.shuffle(chosen)
    out = []
    for q in chosen:
        order = list(range(len(q.options)))
        rng.shuffle(order)
        out.append(Asked(q.id, tuple(order)))
    return out


def after_answer(previous: Repetition | None, question_id: str, right: bool, now: datetime) -> Repetition | None:
    """The repetition state after an answer; None = nothing to repeat."""
    if not right:
        return Repetition(question_id, 0, now + INTERVALS[0], 0)
    if previous is None:
        return None  # right the first time: no need to repeat
    streak = previous.streak + 1
    if streak >= RIGHT_IN_A_ROW:
        return None  # learnt
    level = min(previous.level + 1, len(INTERVALS) - 1)
    return Repetition(question_id, streak, now + INTERVALS[level], level)


# -- results -------------------------------------------------------------------------------

@dataclass
class RoundResult:
    score: int
    total: int
    seconds: float
    missed: list[str] = field(default_factory=list)  # entry ids to read up on
    earlier: list[float] = field(default_factory=list)  # shares right in earlier rounds

    def comparison(self) -> str:
        share = self.score / self.total if self.total else 0.0
        if not self.earlier:
            return "Det var din første runde."
        avg = sum(self.earlier) / len(self.earlier)
        best = max(self.earlier)
        if share > best:
            trend = "din bedste runde til nu"
        elif share > avg:
            trend = "bedre end dit gennemsnit"
        elif share == avg:
            trend = "som dit gennemsnit"
        else:
            trend = "under dit gennemsnit"
        return (f"Det er {trend} ({avg:.0%} rigtige i gennemsnit over {len(self.earlier)} "
                f"tidligere runder; bedst {best:.0%}).")


def duration_text(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes:
        return f"{minutes} min {secs} sek"
    return f"{secs} sek"
