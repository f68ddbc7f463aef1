"""Does a message signal risk to someone's life? Pure functions over intents/crisis.yaml.

No database, no network, no model: nothing here can fail because storage or Telegram is down.
Matching is on folded words (æ/ø/å, case and punctuation ignored) and tolerates one typo in
words of seven letters or more, so "selvmordstanker", "selvmorstanker" and "SELVMORDSTANKER"
are the same.

The rules, in order (phrase lists in intents/crisis.yaml):
1. a `signals` phrase anywhere -> crisis;
2. otherwise a `mentions` word (selvmord, selvskade, dø, ...) is needed, and then
   - with a `personal` word (jeg, min søn, hun, ...) and an `acute` word (nu, i nat) -> crisis;
   - about the `past` and `recovered` since ("for 12 år siden ... i dag har hun det godt")
     -> not a crisis, whatever else;
   - a `grave` mention (selvmordstanker) with a `personal` word or outside a `policy` frame
     -> crisis, even in a question or about the past;
   - about the `past` -> not a crisis;
   - one of `someone_mentions` (selvmord, selvskade, overdosis) about `someone` in
     particular (min datter, han) -> crisis, even in a policy frame;
   - inside a `policy` frame ("hvad siger FOA om ...") -> not a crisis;
   - with a `personal` word, or not phrased as a `question` for information -> crisis.
Everyday idioms (`harmless`: "jeg dør af grin") are taken out first, and chat spellings
(`aliases`: "ikk" for "ikke") are read as the word they stand for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from bot.knowledge import Crisis
from bot.risk_model import RiskModel
from bot.text import words

GAP = "..."
END = "$"
MAX_GAP = 3
TYPO_MIN = 7  # words at least this long may carry one typo
# A count of at least this many pills ("min søn har 40 sobril i hånden", "tog 25 piller") is
# a signal; a count reads as NUMBER, which no message word can be (words are letters and digits).
MANY_PILLS = 20
NUMBER = "#n"


@dataclass(frozen=True)
class _Pattern:
    # words; "w*" a prefix, "*w" a suffix; "..." up to MAX_GAP words; "$" the end
    parts: tuple[str, ...]
    source: str
    needs: frozenset[str] = field(init=False)  # the words that must all occur somewhere

    def __post_init__(self) -> None:
        object.__setattr__(self, "needs", frozenset(p for p in self.parts if p not in (GAP, END)))


def _compile(phrase: str) -> _Pattern:
    parts: list[str] = []
    for raw in phrase.split():
        if raw in (GAP, END):
            parts.append(raw)
            continue
        ws = words(raw.strip("*"))
        for j, w in enumerate(ws):
            if raw.endswith("*") and j == len(ws) - 1:
                w = w + "*"
            if raw.startswith("*") and j == 0:
                w = "*" + w
            parts.append(w)
    return _Pattern(tuple(parts), phrase)


class _Lexicon:
    """Which pattern words a message word matches; cached per word."""

    def __init__(self, patterns: list[_Pattern]):
        all_words = {w for p in patterns for w in p.needs}
        self.exact = {w for w in all_words if not w.startswith("*") and not w.endswith("*")}
        self.long_exact = sorted(w for w in self.exact if len(w) >= TYPO_MIN)
        self.prefixes = sorted(w[:-1] for w in all_words if w.endswith("*"))
        self.suffixes = sorted(w[1:] for w in all_words if w.startswith("*"))
        self.hits = lru_cache(maxsize=65536)(self._hits)

    def __getstate__(self) -> dict[str, object]:  # the engine cache pickles it; the word cache stays behind
        return {k: v for k, v in self.__dict__.items() if k != "hits"}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self.hits = lru_cache(maxsize=65536)(self._hits)

    def _hits(self, token: str) -> frozenset[str]:
        out = set()
        if token in self.exact:
            out.add(token)
        if len(token) >= TYPO_MIN - 1:
            for word, _, _ in process.extract(
                token, self.long_exact, scorer=Levenshtein.distance, processor=None,
                score_cutoff=1, limit=None,
            ):
                out.add(word)
        for stem in self.prefixes:
            if token.startswith(stem) or (
                len(stem) >= TYPO_MIN and Levenshtein.distance(stem, token[: len(stem)]) <= 1
            ):
                out.add(stem + "*")
        for end in self.suffixes:
            if token.endswith(end):
                out.add("*" + end)
        return frozenset(out)


def _end_at(parts: tuple[str, ...], hits: list[frozenset[str]], i: int) -> int:
    """Where a match of `parts` starting at word i ends (exclusive), or -1."""
    if not parts:
        return i
    head, rest = parts[0], parts[1:]
    if head == END:
        return i if i == len(hits) else -1
    if head == GAP:
        for skip in range(MAX_GAP + 1):
            end = _end_at(rest, hits, i + skip)
            if end >= 0:
                return end
        return -1
    if i < len(hits) and head in hits[i]:
        return _end_at(rest, hits, i + 1)
    return -1


def _match_at(parts: tuple[str, ...], hits: list[frozenset[str]], i: int) -> bool:
    return _end_at(parts, hits, i) >= 0


class CrisisDetector:
    def __init__(self, crisis: Crisis, model: RiskModel | None = None):
        self.crisis = crisis
        self.model = model
        self.signals = [_compile(p) for p in crisis.signals]
        # `grave` and `someone_mentions` are mentions too, whether or not `mentions` repeats them
        self.mentions = [_compile(p) for p in dict.fromkeys((*crisis.mentions, *crisis.grave,
                                                             *crisis.someone_mentions))]
        self.personal = [_compile(p) for p in crisis.personal]
        self.policy = [_compile(p) for p in crisis.policy]
        self.past = [_compile(p) for p in crisis.past]
        self.recovered = [_compile(p) for p in crisis.recovered]
        self.acute = [_compile(p) for p in crisis.acute]
        self.someone = [_compile(p) for p in crisis.someone]
        self.someone_mentions = [_compile(p) for p in crisis.someone_mentions]
        self.first_person = [_compile(p) for p in crisis.first_person]
        self.grave = [_compile(p) for p in crisis.grave]
        self.doses = [_Pattern((NUMBER, *_compile(d).parts), f"{MANY_PILLS}+ {d}") for d in crisis.doses]
        self.signals_or_doses = self.signals + self.doses
        self.particular = self.someone + self.first_person  # the writer or a particular person
        self.question = [_compile(p) for p in crisis.question]
        self.harmless = [_compile(p) for p in crisis.harmless]
        self.cues = [_compile(p) for p in crisis.cues]
        self.aliases = {words(k)[0]: words(v)[0] for k, v in crisis.aliases.items() if words(k) and words(v)}
        self.closings = frozenset(w for c in crisis.closings for w in words(c))
        self.lexicon = _Lexicon(
            self.signals + self.mentions + self.personal + self.policy + self.past + self.recovered
            + self.acute + self.someone + self.first_person + self.someone_mentions + self.grave
            + self.question + self.harmless + self.cues + self.doses
        )

    def _tokens(self, text: str) -> list[str]:
        """Message words with chat spellings resolved and harmless idioms taken out."""
        toks = [self.aliases.get(t, t) for t in words(text)]
        hits = [self.lexicon.hits(t) for t in toks]
        seen = frozenset().union(*hits)
        drop: set[int] = set()
        for p in self.harmless:
            if not p.needs <= seen:  # cheap test first, as in _first
                continue
            for i in range(len(toks)):
                end = _end_at(p.parts, hits, i)
                if end > i:
                    drop.update(range(i, end))
        return [t for i, t in enumerate(toks) if i not in drop]

    def _first(self, patterns: list[_Pattern], hits: list[frozenset[str]],
               seen: frozenset[str]) -> _Pattern | None:
        for p in patterns:
            # cheap test first: every word of the pattern occurs somewhere in the message
            if p.needs <= seen and any(_match_at(p.parts, hits, i) for i in range(len(hits))):
                return p
        return None

    def _read(self, text: str) -> tuple[list[frozenset[str]], frozenset[str]]:
        """Per word of the message, the phrase words it can be; and all of them together."""
        hits = [self.lexicon.hits(t) | ({NUMBER} if t.isdigit() and int(t) >= MANY_PILLS else set())
                for t in self._tokens(text)]
        return hits, frozenset().union(*hits)

    def reason(self, text: str) -> str | None:
        """The phrase that makes `text` a crisis message, or None."""
        return self._reason(*self._read(text))

    def _reason(self, hits: list[frozenset[str]], seen: frozenset[str]) -> str | None:
        if not seen:
            return None
        signal = self._first(self.signals_or_doses, hits, seen)
        if signal is not None:
            if self._first(self.past, hits, seen) is None or self._first(self.recovered, hits, seen) is None:
                return signal.source
            # "for to år siden forsøgte min søn at tage sit liv, nu har han det godt": over, as
            # for a mention; fresh cues still count ("... men i aften skrev han farvel")
            personal = self._first(self.personal, hits, seen) is not None
            return self._by_cues(hits, seen, personal, framed=False)
        mention = self._first(self.mentions, hits, seen)
        personal = self._first(self.personal, hits, seen) is not None
        if mention is None:
            return self._by_cues(hits, seen, personal)
        past = self._first(self.past, hits, seen) is not None
        if past and self._first(self.recovered, hits, seen) is not None:
            # The mention is over; fresh cues still count ("... men i aften skrev hun farvel").
            return self._by_cues(hits, seen, personal, framed=False)
        policy = self._first(self.policy, hits, seen) is not None
        if personal and self._first(self.acute, hits, seen) is not None and (
                not policy or self._first(self.particular, hits, seen) is not None):
            # "hvor mange pårørende oplever at deres barn forsøger selvmord" asks for a figure
            return mention.source
        grave = self._first(self.grave, hits, seen)
        if grave is not None and (personal or not policy):
            # "hvem kan man tale med om selvmordstanker om natten" may be about the writer
            return grave.source
        if past:
            return None
        danger = self._first(self.someone_mentions, hits, seen)
        if danger is not None and self._first(self.someone, hits, seen) is not None:
            # "min datter er selvmordstruet, findes der tilbud til pårørende": a relative's
            # question to the association is still about a person in danger now
            return danger.source
        if policy:
            return None
        if personal or self._first(self.question, hits, seen) is None:
            return mention.source
        return None

    def _by_cues(self, hits: list[frozenset[str]], seen: frozenset[str], personal: bool,
                 framed: bool = True) -> str | None:
        """Two different weak cues; `framed`: a policy or past frame cancels them."""
        found = [p for p in self.cues if p.needs <= seen
                 and any(_match_at(p.parts, hits, i) for i in range(len(hits)))]
        if len(found) < 2:
            return None
        if framed and self._first(self.policy + self.past, hits, seen) is not None:
            return None
        if personal or self._first(self.question, hits, seen) is None:
            return " + ".join(p.source for p in found)
        return None

    def closing_only(self, text: str) -> bool:
        """A plain goodbye to the bot: every word is a closing word ("farvel og tak", "bye")."""
        toks = [self.aliases.get(t, t) for t in words(text)]
        return bool(toks) and all(t in self.closings for t in toks)

    def is_crisis(self, text: str) -> bool:
        hits, seen = self._read(text)
        if self._reason(hits, seen) is not None:
            return True
        # The phrase lists still judge a goodbye ("farvel til alle" is a signal); only the
        # model, which has learnt "farvel" from farewell notes, does not.
        if self.model is None or self.closing_only(text):
            return False
        # The model's higher bar where a message says little: one or two words ("vejret"),
        # or a policy frame ("hvad foreslår", "kommunerne") with no word about a person.
        says_little = len(hits) <= 2 or (self._first(self.policy, hits, seen) is not None
                                         and self._first(self.personal, hits, seen) is None)
        return self.model.is_risk(text, strict=says_little)
