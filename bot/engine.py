"""Message -> Reply. The same engine serves Telegram, the terminal chat, `ask` and `eval`.

Decisions, in order, for every message:
1. crisis: a message that signals risk to someone's life gets the crisis reply, always first;
2. conversational intents (greeting, help, topics, quiz, subscribe, ...);
3. knowledge match with confidence: answer, "Mente du …?" suggestions, or an honest fallback.
Steps 2 and 3 share one index, so an intent wins only when it matches better than any entry.
The matcher (bot/matcher.py) proposes candidates by the words they share with the message;
the entry model (bot/entry_model.py) re-ranks them and says how likely it is that no entry
answers; a logistic confidence model over both (bot/thresholds.json) decides.
"""

from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from bot import entry_model as em
from bot.crisis import CrisisDetector
from bot.knowledge import Entry, Intent, Knowledge
from bot.matcher import Hit, Item, Matcher, Query
from bot.text import STOP_SKELETONS, stem, words

Kind = Literal["answer", "suggest", "fallback", "crisis", "intent"]
INTENT_PREFIX = "intent:"
THRESHOLDS_FILE = Path(__file__).with_name("thresholds.json")
MAX_SUGGESTIONS = 3
MAX_RELATED = 3
# Match score (words alone) a vague question (one or two known words: "pårørende") needs for
# suggestions. Fixed, not a share of the calibrated suggestion threshold: that one is fitted on
# whole questions, and when it rose to 0.7 a bare topic word got no suggestions at all.
VAGUE_SUGGEST = 0.35
OVERVIEW_NEAR = 0.8  # share of the best match an overview needs to go first for a topic word
# The least match score (fused) an answer needs, whatever the confidence model says.
ANSWER_FLOOR = 0.25
VAGUE_ANSWER = 0.7  # match score (words alone) a one- or two-word message needs for an answer
# An answer the confidence model is less sure of than this says so and names its entry: on the
# train split 20 of the 76 answers between the answer threshold and this were not what the
# question asked for (mostly a detail the documents do not hold); above it, 10 of 546.
HEDGE_BELOW = 0.9
HEDGE = "Jeg er ikke helt sikker på, at det er det, du spørger om. Det nærmeste, jeg har, er: {title}."
# Ranking: match score and the entry model's probability, fused as (score + MODEL_WEIGHT * p)
# / (1 + MODEL_WEIGHT) over the matcher's best FUSE_CANDIDATES items.
MODEL_WEIGHT = 1.0
# An intent this sure ("mange tak for hjælpen") is not taken apart into fillers and a question.
STRONG_INTENT = 0.6
FUSE_CANDIDATES = 20
# Sentences (and clauses after a comma, dash or colon) of a longer message, each answered
# alone when the whole is not; a part needs this many words to be a question of its own.
_SENTENCES = re.compile(r"(?<=[.?!])\s+|\s+[–-]\s+|[:,;]\s+")
MIN_SENTENCE_WORDS = 3
SENTENCE_AGREE = 1  # ... and its answer must be among the whole message's best this many (1: its best)
# ... or, if the sentence alone is this sure, among the whole message's best SENTENCE_NEAR
# ("skal til møde med borgmesteren i morgen. hvad vil BP have kommunerne til at gøre?": the
# meeting pulls the whole message towards another entry).
SENTENCE_SURE = 0.9
SENTENCE_NEAR = 3

log = logging.getLogger(__name__)


# What the confidence model looks at for the best hit (see Engine.features).
FEATURES = ("score", "coverage", "fuzzy", "margin", "max_unexplained", "unexplained",
            "words", "unknown", "p", "p_none", "agree")


@dataclass(frozen=True)
class ConfidenceModel:
    """Logistic regression: how likely the best hit answers the question.

    Fitted by `python -m bot calibrate` on the train split of the evaluation set.
    """

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float

    def probability(self, features: list[float]) -> float:
        z = self.bias + sum(w * (x - m) / s for w, x, m, s in
                            zip(self.weights, features, self.mean, self.scale, strict=True))
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def as_json(self) -> dict[str, object]:
        return {"features": list(FEATURES), "mean": list(self.mean), "scale": list(self.scale),
                "weights": list(self.weights), "bias": self.bias}


@dataclass(frozen=True)
class Thresholds:
    answer: float = 0.55  # tau1: confidence needed to answer
    margin: float = 0.04  # tau2: lead over the runner-up needed to answer
    suggest: float = 0.35  # match score below which there are no suggestions: fallback
    intent: float = 0.5  # match score a conversational intent needs (greetings are short)
    model: ConfidenceModel | None = None  # without one, confidence is the match score

    @classmethod
    def load(cls, path: Path = THRESHOLDS_FILE) -> Thresholds:
        if not path.is_file():
            return cls()
        data = json.loads(path.read_text(encoding="utf-8"))
        model = None
        if "model" in data:
            m = data["model"]
            if tuple(m["features"]) != FEATURES:
                raise ValueError(f"{path}: confidence model has other features; run `python -m bot calibrate`")
            model = ConfidenceModel(tuple(m["mean"]), tuple(m["scale"]), tuple(m["weights"]), m["bias"])
        return cls(answer=data["answer"], margin=data["margin"], suggest=data["suggest"],
                   intent=data.get("intent", cls.intent), model=model)


@dataclass(frozen=True)
class LinkRef:
    title: str
    url: str


@dataclass(frozen=True)
class EntryRef:
    entry: str
    title: str


@dataclass(frozen=True)
class Reply:
    kind: Kind
    body: str
    entry: str | None = None  # entry id, intent name, or None
    score: float | None = None
    source: str | None = None  # "Kilde: ..." line without the word Kilde
    links: tuple[LinkRef, ...] = ()
    suggestions: tuple[EntryRef, ...] = ()
    related: tuple[EntryRef, ...] = ()
    action: str | None = None  # for intents: what the front end does besides replying
    topics: tuple[tuple[str, str], ...] = field(default=())  # (id, title) offered on fallback


def build_matcher(knowledge: Knowledge) -> Matcher:
    """The index of entries and intents the engine searches (and the entry model reads with)."""
    items = [
        Item(
            key=e.id,
            title=e.title,
            phrasings=e.phrasings,
            keywords=e.keywords,
            body=f"{e.answer} {e.source.section}",
        )
        for e in knowledge.entries
    ]
    items += [
        Item(key=INTENT_PREFIX + i.name, title=i.name, phrasings=i.phrasings)
        for i in knowledge.intents
    ]
    return Matcher(items)


class Engine:
    def __init__(self, knowledge: Knowledge, thresholds: Thresholds | None = None):
        self.knowledge = knowledge
        self.thresholds = thresholds or Thresholds.load()
        self.crisis = CrisisDetector(knowledge.crisis, knowledge.risk_model)
        self.intents: dict[str, Intent] = {i.name: i for i in knowledge.intents}
        self.matcher = build_matcher(knowledge)
        self.entry_model = self._entry_model(knowledge)
        self._topics = tuple((t.id, t.title) for t in knowledge.topics.values())
        neighbours: dict[str, set[str]] = {e.id: set(e.related) for e in knowledge.entries}
        for e in knowledge.entries:
            for r in e.related:
                neighbours.setdefault(r, set()).add(e.id)
        self._neighbours = {k: frozenset(v) for k, v in neighbours.items()}
        # Longest first, so "tak for svaret" goes before "tak".
        self._fillers = sorted({tuple(words(f)) for f in knowledge.fillers if words(f)}, key=len, reverse=True)

    def _entry_model(self, knowledge: Knowledge) -> em.EntryModel:
        """The shipped entry model if it learned from this knowledge base, else a fresh one."""
        examples = knowledge.entry_examples()
        model = knowledge.entry_model
        if model is not None and model.data_sha256 == em.examples_hash(examples):
            return model
        log.warning("the entry model does not match the knowledge base; training one now "
                    "(run `python -m bot train-matcher` to ship it)")
        return em.train(self.matcher, examples)

    # -- building replies --------------------------------------------------------------

    def crisis_reply(self) -> Reply:
        return Reply(kind="crisis", body=self.knowledge.crisis.reply)

    def entry_reply(self, entry: Entry, score: float | None = None, hedged: bool = False) -> Reply:
        related = tuple(
            EntryRef(r, self.knowledge.by_id[r].title)
            for r in entry.related[:MAX_RELATED]
            if r in self.knowledge.by_id
        )
        return Reply(
            kind="answer",
            body=f"{HEDGE.format(title=entry.title)}\n\n{entry.answer}" if hedged else entry.answer,
            entry=entry.id,
            score=score,
            source=self.knowledge.source_line(entry),
            links=tuple(LinkRef(link.title, link.url) for link in entry.links),
            related=related,
        )

    def intent_reply(self, intent: Intent, score: float | None = None) -> Reply:
        topics = self._topics if intent.action == "topics" else ()
        return Reply(kind="intent", body=intent.reply, entry=intent.name, score=score,
                     action=intent.action, topics=topics)

    def fallback(self) -> Reply:
        body = (
            "Det ved jeg desværre ikke noget om. Jeg svarer kun ud fra Bedre Psykiatris "
            "politiske materiale, og jeg vil ikke gætte. Prøv at spørge med andre ord, eller "
            "vælg et af de emner, jeg kender:"
        )
        return Reply(kind="fallback", body=body, topics=self._topics)

    # -- deciding ----------------------------------------------------------------------

    def reply(self, text: str) -> Reply:
        # 1. Crisis first: pure string matching, nothing that can fail on storage.
        if self.crisis.is_crisis(text):
            return self.crisis_reply()
        hits, query = self.search(text)
        reply = self.decide(hits, self.thresholds, query)
        whole = hits
        # "tak! hvad foreslår i for regionerne", "kan du forklare mig hvad sociolance er":
        # unless the whole message is answered or is clearly a greeting or thanks, the
        # question without its greeting and framing decides, if the bot knows anything of it.
        if reply.kind == "intent" and (reply.score or 0.0) >= STRONG_INTENT:
            return reply
        core = self.without_fillers(text)
        bare = self._decided_text(core) if core else None
        if reply.kind == "answer":
            # "tak! hvad foreslår I for regionerne": the thanks may pull the whole message
            # towards an entry that happens to say "tak"; the bare question, if surer, wins.
            if bare is not None and bare.kind == "answer" and (bare.score or 0.0) > (reply.score or 0.0):
                return bare
            return reply
        if bare is not None:
            if reply.kind == "intent":  # a thanks with some words after it stays a thanks
                return bare if bare.kind in ("answer", "intent") else reply
            if bare.kind != "fallback":
                reply = bare
            if reply.kind == "answer":
                return reply
        elif core == "":
            return reply
        # "min søster får det værst om natten. skal der være personale hele natten?": a
        # member's situation around the question dilutes the match of the whole message;
        # one of its sentences may be answered on its own.
        return self.by_sentence(text, whole) or reply

    def by_sentence(self, text: str, whole: list[Hit]) -> Reply | None:
        """The surest answer to one sentence of a message of several, or None.

        Only the entry the whole message also ranks first counts, or one of its first
        SENTENCE_NEAR if the sentence alone is sure of it: a sentence that leans on the others
        ("hvad vil jeres forslag give os?") must not be answered alone.
        """
        parts = [p for p in _SENTENCES.split(text) if len(words(p)) >= MIN_SENTENCE_WORDS]
        if len(parts) < 2:
            return None
        agree = {h.key for h in whole[:SENTENCE_AGREE]}
        near = {h.key for h in whole[:SENTENCE_NEAR]}
        # A part that shares no word with any of those entries cannot rank one first: skip it.
        known = frozenset().union(*(self.matcher.item_terms[h.index] for h in whole[:SENTENCE_NEAR]))
        best: Reply | None = None
        for part in parts:
            if known.isdisjoint(self.matcher.analyse(part).terms):
                continue
            reply = self._decided_text(part)
            if (reply.kind == "answer" and (reply.entry in agree or (
                    reply.entry in near and (reply.score or 0.0) >= SENTENCE_SURE))
                    and (best is None or (reply.score or 0.0) > (best.score or 0.0))):
                best = reply
        return best

    def _decided_text(self, text: str) -> Reply:
        """The decision for `text` on its own (a sentence, or the question without fillers)."""
        hits, query = self.search(text)
        return self.decide(hits, self.thresholds, query)

    def without_fillers(self, text: str) -> str | None:
        """`text` without greetings, thanks and framing at its start and end.

        None when there are none; "" when the message is nothing else ("hej", "mange tak").
        """
        toks = words(text)
        start, end = 0, len(toks)
        changed = True
        while changed and start < end:
            changed = False
            for filler in self._fillers:
                n = len(filler)
                if n > end - start:
                    continue
                if tuple(toks[start:start + n]) == filler:
                    start, changed = start + n, True
                    break
                if tuple(toks[end - n:end]) == filler:
                    end, changed = end - n, True
                    break
        if start == 0 and end == len(toks):
            return None
        return " ".join(toks[start:end])

    def search(self, text: str, limit: int = 8) -> tuple[list[Hit], Query]:
        """The matcher's candidates re-ranked with the entry model's opinion."""
        hits, query = self.matcher.search(text, limit=FUSE_CANDIDATES)
        if not hits:
            return hits, query
        model = self.entry_model
        probs = model.probabilities(query)
        query.p_none = float(probs[model.class_index[em.NONE]]) if em.NONE in model.class_index else 0.0
        query.model_best = model.classes[int(probs.argmax())]
        fused = []
        for h in hits:
            i = model.class_index.get(h.key)
            p = float(probs[i]) if i is not None else 0.0
            fused.append(Hit(h.key, round((h.score + MODEL_WEIGHT * p) / (1 + MODEL_WEIGHT), 4),
                             h.coverage, h.fuzzy, h.index, p=p, match=h.match))
        fused.sort(key=lambda h: h.score, reverse=True)
        return fused[:limit], query

    def features(self, top: Hit, margin: float, query: Query) -> list[float]:
        missing = self.matcher.unexplained(top, query)
        return [top.score, top.coverage, top.fuzzy / 100, margin, max(missing, default=0.0),
                float(len(missing)), float(len(set(query.terms)) + len(set(query.unknown))),
                float(len(set(query.unknown))), top.p, query.p_none,
                1.0 if query.model_best == top.key else 0.0]

    def decide(self, hits: list[Hit], t: Thresholds, query: Query | None = None) -> Reply:
        """Answer, suggest or fall back, given the ranked hits and the thresholds.

        A vague question (one or two known words, "pårørende") below the suggestion
        threshold still gets suggestions: the bot knows the topic, only not which part.
        """
        if not hits:
            return self.fallback()
        top = hits[0]
        if top.key.startswith(INTENT_PREFIX) and top.score >= t.intent:
            return self._decided(top, top.score)
        margin = top.score - self._runner_up(top, hits)
        confidence = top.score
        if t.model is not None and query is not None:
            confidence = t.model.probability(self.features(top, margin, query))
        vague = query is not None and query.vague
        # An answer needs the match itself to clear the suggestion bar too. One or two words
        # and nothing else name a topic, not an entry ("psykiatri", "genindlæggelser"): they
        # are answered only when the words alone point at one entry strongly
        # ("oslostandarden"). The confidence model has seen too few such messages to judge.
        topic_only = query is not None and query.topic_only
        specific = not topic_only or (top.match >= max(h.match for h in hits) and (
            top.match >= VAGUE_ANSWER or self._named(top, query)))
        # The confidence model weighs the match score itself: a long message about a member's
        # situation dilutes the score of a right entry, so the score needs only clear a low
        # floor, below which the model has seen no questions ("skal du ha" after a thanks).
        if confidence >= t.answer and margin >= t.margin and top.score >= ANSWER_FLOOR and specific:
            return self._decided(top, round(confidence, 4))
        floor = VAGUE_SUGGEST if vague else t.suggest
        # A vague question is judged on the words alone: the entry model cannot know which
        # part of a topic is meant, so its low probabilities say nothing about the topic.
        entries = [h for h in hits if not h.key.startswith(INTENT_PREFIX)
                   and (max(h.score, h.match) if vague else h.score) >= floor]
        if not entries:
            return self.fallback()
        if vague:
            # A topic word ("kommuner") is best met by the overview of that topic, if one
            # matched about as well as the best entry (not one far down the list).
            near = OVERVIEW_NEAR * max(max(h.score, h.match) for h in entries)
            entries.sort(key=lambda h: not (self.knowledge.by_id[h.key].type == "overview"
                                            and max(h.score, h.match) >= near))
        suggestions = tuple(
            EntryRef(h.key, self.knowledge.by_id[h.key].title) for h in entries[:MAX_SUGGESTIONS]
        )
        titles = "\n".join(f"{i}. {s.title}" for i, s in enumerate(suggestions, 1))
        return Reply(
            kind="suggest",
            body=f"Jeg er ikke helt sikker på, hvad du mener. Mente du …?\n{titles}",
            score=round(confidence, 4),
            suggestions=suggestions,
        )

    def _named(self, hit: Hit, query: Query | None) -> bool:
        """The message is the beginning of the entry's title ("pcv", "oslo", "bosteder")."""
        entry = self.knowledge.by_id.get(hit.key)
        if entry is None or query is None or not query.terms:
            return False
        title = [stem(w) for w in words(entry.title) if w not in STOP_SKELETONS]
        return title[:len(query.terms)] == query.terms

    def _runner_up(self, top: Hit, hits: list[Hit]) -> float:
        """Score of the best competitor of `top` for the margin test.

        Entries that `top` lists as related (or that list it) are not competitors: the
        answer shows them as buttons, so a member reaches them in one tap. An intent has
        no neighbours.
        """
        neighbours = self._neighbours.get(top.key, frozenset())
        for hit in hits[1:]:
            if hit.key not in neighbours:
                return hit.score
        return 0.0

    def _decided(self, hit: Hit, confidence: float) -> Reply:
        if hit.key.startswith(INTENT_PREFIX):
            return self.intent_reply(self.intents[hit.key[len(INTENT_PREFIX):]], confidence)
        return self.entry_reply(self.knowledge.by_id[hit.key], confidence, hedged=confidence < HEDGE_BELOW)

    def answer_entry(self, entry_id: str) -> Reply | None:
        """The answer for an entry a member chose (a suggestion or related button)."""
        entry = self.knowledge.by_id.get(entry_id)
        return self.entry_reply(entry) if entry else None
