"""What coordinators review: unanswered questions grouped, and usage statistics. No telegram.

Near-duplicates ("hvad er x?", "Hvad er X", "hvad er x egentlig") are grouped so the list
shows what members ask most, not every spelling of it.
"""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from pathlib import Path

from rapidfuzz import fuzz

from bot.storage import QuestionRow, UnansweredRow
from bot.text import content_words

GROUP_SIMILARITY = 85  # rapidfuzz token_set_ratio on content words


@dataclass
class QuestionGroup:
    text: str  # the most frequent wording
    count: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    wordings: Counter[str] = field(default_factory=Counter)
    first: datetime | None = None
    last: datetime | None = None
    key: str = ""


def _key(text: str) -> str:
    return " ".join(sorted(set(content_words(text))))


def group_unanswered(rows: Iterable[UnansweredRow]) -> list[QuestionGroup]:
    """Group near-duplicate questions; most frequent first."""
    groups: list[QuestionGroup] = []
    for row in rows:
        text = " ".join(row.text.split())
        key = _key(text) or text.casefold()
        target = None
        for group in groups:
            # token_set_ratio: "hvad er x" and "hvad er x egentlig" are the same question
            if group.key == key or (key and group.key and fuzz.token_set_ratio(group.key, key) >= GROUP_SIMILARITY):
                target = group
                break
        if target is None:
            target = QuestionGroup(text=text, key=key)
            groups.append(target)
        target.count += 1
        target.kinds[row.kind] += 1
        target.wordings[text] += 1
        target.first = row.asked_at if target.first is None else min(target.first, row.asked_at)
        target.last = row.asked_at if target.last is None else max(target.last, row.asked_at)
    for group in groups:
        group.text = group.wordings.most_common(1)[0][0]
    groups.sort(key=lambda g: (-g.count, g.text))
    return groups


def write_unanswered_csv(groups: list[QuestionGroup], path: Path, tz: tzinfo) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["antal", "spørgsmål", "andre formuleringer", "ikke besvaret", "kun forslag",
                         "første gang", "seneste"])
        for g in groups:
            others = " | ".join(w for w, _ in g.wordings.most_common() if w != g.text)
            writer.writerow([
                g.count, g.text, others, g.kinds.get("fallback", 0), g.kinds.get("suggest", 0),
                g.first.astimezone(tz).strftime("%Y-%m-%d %H:%M") if g.first else "",
                g.last.astimezone(tz).strftime("%Y-%m-%d %H:%M") if g.last else "",
            ])


@dataclass(frozen=True)
class Stats:
    days: list[date]
    per_day: list[int]
    answered_per_day: list[int]
    total: int
    answered: int
    crisis: int
    top_entries: list[tuple[str, int]]
    votes: dict[str, tuple[int, int]]

    @property
    def answered_share(self) -> float:
        return self.answered / self.total if self.total else 0.0


def compute_stats(rows: Iterable[QuestionRow], votes: dict[str, tuple[int, int]],
                  first_day: date, last_day: date, tz: tzinfo, top: int = 5) -> Stats:
    per_day: dict[date, int] = defaultdict(int)
    answered_day: dict[date, int] = defaultdict(int)
    entries: Counter[str] = Counter()
    total = answered = crisis = 0
    for row in rows:
        if row.kind == "intent":
            continue  # greetings and thanks are not questions
        day = row.asked_at.astimezone(tz).date()
        per_day[day] += 1
        total += 1
        if row.kind == "answer":
            answered += 1
            answered_day[day] += 1
            if row.entry_id:
                entries[row.entry_id] += 1
        elif row.kind == "crisis":
            crisis += 1
    days = [date.fromordinal(d) for d in range(first_day.toordinal(), last_day.toordinal() + 1)]
    return Stats(
        days=days,
        per_day=[per_day[d] for d in days],
        answered_per_day=[answered_day[d] for d in days],
        total=total,
        answered=answered,
        crisis=crisis,
        top_entries=entries.most_common(top),
        votes=votes,
    )
