"""Does a message signal risk to someone's life? Pure functions over intents/crisis.yaml.

No database, no network, no model: nothing here can fail because storage or Telegram is down.
Matching is on folded words (æ/ø/å, case and punctuation ignored) and tolerates one typo in
words of six letters or more, so "selvmordstanker", "selvmorstanker" and "SELVMORDSTANKER"
are the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz.distance import Levenshtein

from bot.knowledge import Crisis
from bot.text import words

GAP = "..."
MAX_GAP = 3


@dataclass(frozen=True)
class _Pattern:
    parts: tuple[str, ...]  # words; "w*" a prefix; "..." a gap of up to MAX_GAP words
    source: str


def _compile(phrase: str) -> _Pattern:
    parts: list[str] = []
    for raw in phrase.split():
        if raw == GAP:
            parts.append(GAP)
            continue
        prefix = raw.endswith("*")
        ws = words(raw.rstrip("*"))
        for j, w in enumerate(ws):
            parts.append(w + "*" if prefix and j == len(ws) - 1 else w)
    return _Pattern(tuple(parts), phrase)


@lru_cache(maxsize=65536)
def _word_matches(pattern: str, word: str) -> bool:
    if pattern.endswith("*"):
        stem = pattern[:-1]
        if word.startswith(stem):
            return True
        # a typo inside the stem: compare with the word's beginning of the same length
        return len(stem) >= 6 and Levenshtein.distance(stem, word[: len(stem)]) <= 1
    if word == pattern:
        return True
    return len(pattern) >= 6 and abs(len(word) - len(pattern)) <= 1 and Levenshtein.distance(pattern, word) <= 1


def _match_at(parts: tuple[str, ...], toks: list[str], i: int) -> bool:
    if not parts:
        return True
    head, rest = parts[0], parts[1:]
    if head == GAP:
        return any(_match_at(rest, toks, i + skip) for skip in range(MAX_GAP + 1))
    return i < len(toks) and _word_matches(head, toks[i]) and _match_at(rest, toks, i + 1)


def _found(pattern: _Pattern, toks: list[str]) -> bool:
    return any(_match_at(pattern.parts, toks, i) for i in range(len(toks)))


class CrisisDetector:
    def __init__(self, crisis: Crisis):
        self.crisis = crisis
        self.signals = [_compile(p) for p in crisis.signals]
        self.mentions = [_compile(p) for p in crisis.mentions]
        self.personal = [_compile(p) for p in crisis.personal]
        self.policy = [_compile(p) for p in crisis.policy]

    def reason(self, text: str) -> str | None:
        """The phrase that makes `text` a crisis message, or None."""
        toks = words(text)
        if not toks:
            return None
        for p in self.signals:
            if _found(p, toks):
                return p.source
        mention = next((p for p in self.mentions if _found(p, toks)), None)
        if mention is None:
            return None
        if not any(_found(p, toks) for p in self.personal):
            return None
        if any(_found(p, toks) for p in self.policy):
            return None
        return mention.source

    def is_crisis(self, text: str) -> bool:
        return self.reason(text) is not None
