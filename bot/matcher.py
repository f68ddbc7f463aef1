"""An index over entries and intents: a member's question -> ranked (key, score) list.

Two signals are fused per item:

* coverage — a BM25-weighted share of the question's words that the item contains
  (title, phrasings, keywords, and more weakly its answer). Rare words weigh most, so
  "Oslo" decides; words the index has never seen count against the match, which is what
  makes an out-of-scope question score low.
* fuzzy — rapidfuzz `token_sort_ratio` between the question and the item's best phrasing,
  both as stemmed content words. Unlike WRatio / partial_ratio / token_set_ratio it does
  not give a high score when a short question shares one word with a long phrasing.

score = W_COVERAGE * coverage + (1 - W_COVERAGE) * fuzzy / 100, in [0, 1].
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

from bot.text import STOP_SKELETONS, CompoundSplitter, spoken_words, stem

# Danish names of letters, folded ("hå" -> "ha"), for acronyms said letter by letter; the
# names that are no Danish word of their own must occur in such a run.
LETTER_NAMES = {"a": "a", "be": "b", "se": "c", "de": "d", "e": "e", "ef": "f", "ge": "g",
                "ha": "h", "i": "i", "jod": "j", "ka": "k", "el": "l", "em": "m", "en": "n",
                "o": "o", "pe": "p", "ku": "q", "er": "r", "es": "s", "te": "t", "u": "u",
                "ve": "v", "eks": "x", "y": "y"}
PURE_LETTER_NAMES = frozenset({"pe", "ve", "ge", "ef", "em", "es", "eks", "ku", "jod", "u", "be",
                               "te", "ka", "ha"})

MAX_SPELLED = 6  # letters said one by one ("pe se ve"): at most this many
MAX_JOINED = 8  # small words of a name written apart ("en af os"): at most this many

K1 = 1.2
B = 0.75
W_COVERAGE = 0.5
FIELD_WEIGHTS = {"title": 3.0, "phrasings": 1.0, "keywords": 2.0, "body": 1.0}
UNKNOWN_WEIGHT = 1.5  # an unknown word counts as this many times the rarest known word
# A question carries at least this share of the rarest word's information: one common word
# ("psykiatri") cannot make a confident match on its own, one rare word ("Oslo") can.
MIN_INFORMATION = 1.0
TYPO2_MIN = 11  # words at least this long may be corrected across two typos
# Items (best coverage first) whose phrasings get the more costly fuzzy comparison. The
# engine fuses the best 20 hits; on the eval set 30 candidates give the same replies as 100,
# at less than half the time per question.
CANDIDATES = 30
WORD_CACHE = 50_000  # analysed words kept per matcher (typo correction costs ~0.3 ms a word)


def _sort_words(form: str) -> str:
    """The form token_sort_ratio compares: words in sorted order, single spaces."""
    return " ".join(sorted(form.split()))


@dataclass(frozen=True)
class Item:
    key: str
    title: str
    phrasings: tuple[str, ...]
    keywords: tuple[str, ...] = ()
    body: str = ""


@dataclass(frozen=True)
class Hit:
    key: str
    score: float
    coverage: float
    fuzzy: float
    index: int = -1  # position of the item in Matcher.items
    p: float = 0.0  # the entry model's probability for this item (bot/entry_model.py), if used
    match: float = 0.0  # the matcher's own score, before the engine fused it with p


@dataclass
class Query:
    terms: list[str] = field(default_factory=list)  # stems the index knows
    unknown: list[str] = field(default_factory=list)  # words it does not
    # Every word in order: "t:" index terms, "f:" function words, "u:" unknown words.
    tokens: list[str] = field(default_factory=list)
    # Set by the engine from the entry model: probability that no entry answers, and the
    # class the model itself ranks first.
    p_none: float = 0.0
    model_best: str | None = None

    @property
    def vague(self) -> bool:
        """One or two known words and nothing else: a topic, not a question."""
        return not self.unknown and 0 < len(set(self.terms)) <= 2

    @property
    def topic_only(self) -> bool:
        """Vague, and not even a question around it: "genindlæggelser", "pårørende kommune"."""
        return self.vague and all(t.startswith("t:") for t in self.tokens)


class Matcher:
    def __init__(self, items: list[Item]):
        self.items = items
        counts: Counter[str] = Counter()
        for it in items:
            for text in (it.title, *it.phrasings, *it.keywords, it.body):
                counts.update(w for w in spoken_words(text) if w not in STOP_SKELETONS)
        vocab = set(counts)
        self.vocab = vocab
        # Typo correction's tie-break: the first closest word in this order, so the commoner
        # word wins ("flre" -> "flere", not "fire"), then the alphabet.
        ordered = sorted(vocab, key=lambda w: (-counts[w], w))
        lengths = {len(w) for w in vocab}
        self._near_length: dict[int, list[str]] = {
            n: [w for w in ordered if abs(len(w) - n) <= 2]
            for n in range(4, max(lengths, default=0) + 3)
        }
        self.splitter = CompoundSplitter(vocab)

        # Weighted term frequencies per item (a BM25F-style simplification).
        tfs: list[dict[str, float]] = []
        lengths: list[float] = []
        df: dict[str, int] = defaultdict(int)
        for it in items:
            tf: dict[str, float] = defaultdict(float)
            fields = {
                "title": [it.title],
                "phrasings": list(it.phrasings),
                "keywords": list(it.keywords),
                "body": [it.body],
            }
            for name, texts in fields.items():
                weight = FIELD_WEIGHTS[name]
                for text in texts:
                    for term in self._index_terms(text):
                        tf[term] += weight
            tfs.append(dict(tf))
            lengths.append(sum(tf.values()))
            for term in tf:
                df[term] += 1
        n = max(len(items), 1)
        avgdl = (sum(lengths) / n) or 1.0
        self.idf = {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}
        self.max_idf = math.log(1 + (n - 0.5) / 1.5) if n > 1 else 1.0
        self.item_terms = [frozenset(tf) for tf in tfs]
        postings: dict[str, tuple[list[int], list[float]]] = defaultdict(lambda: ([], []))
        for i, tf in enumerate(tfs):
            norm = K1 * (1 - B + B * lengths[i] / avgdl)
            for term, f in tf.items():
                # Saturated term frequency in [0, 1): how strongly item i is about `term`.
                postings[term][0].append(i)
                postings[term][1].append(f / (f + norm))
        # term -> (item indices, saturated frequencies), as arrays: a question's coverage of
        # every item is a few vector additions.
        self.postings: dict[str, tuple[np.ndarray, np.ndarray]] = {
            t: (np.array(ix, dtype=np.int32), np.array(sat, dtype=np.float64)) for t, (ix, sat) in postings.items()
        }
        self._words: dict[str, tuple[str, ...] | None] = {}

        # Fuzzy choices: every phrasing and the title, as stemmed content words.
        choices: list[list[str]] = [
            [c for c in (self._fuzzy_form(t) for t in (it.title, *it.phrasings)) if c]
            for it in items
        ]
        # The items a question is literally a phrasing of: always candidates, however common
        # its words are ("hvad foreslår bedre psykiatri").
        self._exact: dict[str, list[int]] = defaultdict(list)
        for i, forms in enumerate(choices):
            for c in dict.fromkeys(forms):
                self._exact[c].append(i)
        # token_sort_ratio is ratio over the words in sorted order: the choices are sorted
        # once here (and repeats dropped), so a question costs a plain ratio per choice,
        # about eight times cheaper than sorting every choice again for every question.
        self._sorted: list[list[str]] = [
            list(dict.fromkeys(_sort_words(c) for c in forms)) for forms in choices
        ]

    # -- analysis ------------------------------------------------------------------------

    def _index_terms(self, text: str) -> list[str]:
        out = []
        for w in spoken_words(text):
            if w in STOP_SKELETONS:
                continue
            out.append(stem(w))
            out.extend(stem(p) for p in self.splitter.split(w))
        return out

    def _correct(self, word: str) -> str | None:
        """The closest vocabulary word for a typo, or None."""
        if len(word) < 4 or word.isdigit():
            return None
        limit = 1 if len(word) < TYPO2_MIN else 2
        # Only words within two letters of its length can be within two edits of it.
        near = self._near_length.get(len(word), ())
        found = process.extractOne(
            word, near, scorer=Levenshtein.distance, processor=None, score_cutoff=limit,
        )
        return found[0] if found else None

    def __getstate__(self) -> dict[str, object]:  # the engine cache pickles it; the word cache stays behind
        return {**self.__dict__, "_words": {}}

    def analyse_word(self, w: str) -> tuple[str, ...] | None:
        """Stems a content word stands for (split or typo-corrected), or None if unknown."""
        try:
            return self._words[w]
        except KeyError:
            pass
        if len(self._words) >= WORD_CACHE:
            self._words.clear()
        found = self._words[w] = self._analyse_word(w)
        return found

    def _analyse_word(self, w: str) -> tuple[str, ...] | None:
        if w in self.vocab or w.isdigit():
            return (stem(w),)
        parts = self.splitter.split(w)
        if parts:
            return tuple(stem(p) for p in parts)
        fixed = self._correct(w)
        if fixed is not None:
            return (stem(fixed),)
        if stem(w) in self.idf:
            return (stem(w),)
        return None

    def analyse(self, text: str) -> Query:
        """Query terms: known words stemmed; unknown words split or typo-corrected."""
        out = Query()
        ws = self._spelled_out(spoken_words(text))
        for w in ws:
            if w in STOP_SKELETONS:
                out.tokens.append("f:" + stem(w))
                continue
            found = self.analyse_word(w)
            if found is None:
                out.unknown.append(w)
                out.tokens.append("u:" + stem(w))
            else:
                out.terms.extend(found)
                out.tokens.extend("t:" + t for t in found)
        if not out.terms and not out.unknown:
            self._join_function_words(ws, out)
        return out

    def _spelled_out(self, ws: list[str]) -> list[str]:
        """Letters said one by one to the phone ("pe se ve", "pe i u") as the word they spell.

        Only a run that holds a letter's name that is no Danish word ("pe", "ve") and spells
        a word of the index: "se de" and "i er" stay words.
        """
        out: list[str] = []
        i = 0
        while i < len(ws):
            end = i  # the run of letters' names from i, as long as an acronym may be
            while end < len(ws) and end - i < MAX_SPELLED and ws[end] in LETTER_NAMES:
                end += 1
            for n in range(end - i, 1, -1):
                run = ws[i:i + n]
                if not any(w in PURE_LETTER_NAMES for w in run):
                    continue
                spelled = "".join(LETTER_NAMES[w] for w in run)
                if spelled in self.vocab:
                    out.append(spelled)
                    i += n
                    break
            else:
                out.append(ws[i])
                i += 1
        return out

    def _join_function_words(self, ws: list[str], query: Query) -> None:
        """A name made of small words ("EN AF OS") is known written together ("enafos").

        Only for a short message of small words alone (`ws`, one token each): the longest
        run of them that is a word of the index, written together, becomes its term.
        """
        if len(ws) > MAX_JOINED:
            return
        for n in range(len(ws), 1, -1):
            for i in range(len(ws) - n + 1):
                joined = "".join(ws[i:i + n])
                if joined in self.vocab:
                    term = stem(joined)
                    query.terms.append(term)
                    query.tokens[i:i + n] = ["t:" + term]
                    return

    def _fuzzy_form(self, text: str) -> str:
        return " ".join(stem(w) for w in spoken_words(text) if w not in STOP_SKELETONS)

    def unexplained(self, hit: Hit, query: Query) -> list[float]:
        """Information (idf, relative to the rarest word) of the question's words `hit` lacks.

        A question that shares its topic words with an entry but asks about something the
        entry does not mention ("hvad koster …", "hvem er formand for …") leaves words
        unexplained; that is what separates a near miss from a paraphrase.
        """
        terms = self.item_terms[hit.index] if hit.index >= 0 else frozenset()
        missing = [self.idf.get(t, self.max_idf) for t in dict.fromkeys(query.terms) if t not in terms]
        missing += [UNKNOWN_WEIGHT * self.max_idf] * len(set(query.unknown))
        return [m / self.max_idf for m in missing]

    # -- ranking -------------------------------------------------------------------------

    def rank(self, text: str, limit: int = 5) -> list[Hit]:
        return self.search(text, limit)[0]

    def search(self, text: str, limit: int = 5) -> tuple[list[Hit], Query]:
        """Ranked hits, and what the question was made of."""
        query = self.analyse(text)
        terms = list(dict.fromkeys(query.terms))
        if not terms:
            return [], query
        total = sum(self.idf.get(t, self.max_idf) for t in terms)
        total += UNKNOWN_WEIGHT * self.max_idf * len(set(query.unknown))
        total = max(total, MIN_INFORMATION * self.max_idf)
        coverage = np.zeros(len(self.items))
        for t in terms:
            idf = self.idf.get(t)
            if idf is None:
                continue
            ix, sat = self.postings[t]
            coverage[ix] += idf * sat
        touched = np.flatnonzero(coverage)
        if not touched.size:
            return [], query
        # Best coverage first; ties in item order.
        candidates = touched[np.argsort(-coverage[touched], kind="stable")][:CANDIDATES].tolist()
        # Unknown words stay in the fuzzy form too: they make the question less like any phrasing.
        q_form = " ".join(terms + [stem(w) for w in query.unknown])
        candidates += [i for i in self._exact.get(q_form, ()) if i not in candidates]
        flat: list[str] = []
        starts: list[int] = []
        with_choices: list[int] = []
        for i in candidates:
            if self._sorted[i]:
                starts.append(len(flat))
                with_choices.append(i)
                flat.extend(self._sorted[i])
        best_fuzzy: dict[int, float] = {}
        if flat:
            # token_sort_ratio, with both sides' words sorted beforehand. processor=None on
            # purpose: both sides are already normalised by _fuzzy_form / analyse, and
            # rapidfuzz 3 applies no processor by default anyway.
            scores = process.cdist([_sort_words(q_form)], flat, scorer=fuzz.ratio, processor=None)[0]
            maxima = np.maximum.reduceat(scores, starts)
            best_fuzzy = dict(zip(with_choices, (float(m) for m in maxima)))
        scored = []
        for i, cov in zip(candidates, np.minimum(coverage[candidates] / total, 1.0).tolist(), strict=True):
            fz = best_fuzzy.get(i, 0.0)
            scored.append((round(W_COVERAGE * cov + (1 - W_COVERAGE) * fz / 100, 4), cov, fz, i))
        scored.sort(key=lambda s: s[0], reverse=True)  # stable: ties keep the coverage order
        hits = [Hit(self.items[i].key, score, round(cov, 4), fz, i, match=score)
                for score, cov, fz, i in scored[:limit]]
        return hits, query
