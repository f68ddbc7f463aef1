"""Load and validate knowledge/ and intents/ into frozen, typed objects.

Validation is declared on pydantic models; this module only maps pydantic's error locations
back to `FILE:LINE` and adds the checks that span files (duplicate ids, related ids, topics).
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from bot import entry_model as em
from bot.risk_model import MODEL_FILE, RiskModel, training_hash
from bot.yamlload import Located, Problem, load

ROOT = Path(__file__).resolve().parent.parent
KNOWLEDGE_DIR = ROOT / "knowledge"
INTENTS_DIR = ROOT / "intents"

# Telegram allows 4,096 characters in a message; the answer shares it with the source line,
# links and buttons, so an answer is capped well below.
MAX_ANSWER = 1000
MAX_TITLE = 60
MIN_PHRASINGS = 6

_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_URL = re.compile(r"^https?://[^\s<>\"]+$")


def _slug(value: str) -> str:
    if not _SLUG.match(value):
        raise ValueError("id must be lowercase a-z, 0-9 and single '-' (e.g. oslo-standarden)")
    return value


def _url(value: str) -> str:
    if not _URL.match(value):
        raise ValueError(f"link must be an http(s) URL without spaces, got {value!r}")
    return value


def _answer(value: str) -> str:
    if len(value) > MAX_ANSWER:
        raise ValueError(
            f"answer is {len(value)} characters; at most {MAX_ANSWER} so the reply fits "
            "a Telegram message"
        )
    return value


Slug = Annotated[str, AfterValidator(_slug)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Url = Annotated[str, StringConstraints(strip_whitespace=True), AfterValidator(_url)]


class _Model(BaseModel):
    # Numbers written without quotes (a keyword like 112) are read as text.
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)


class Link(_Model):
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
    url: Url


class Source(_Model):
    doc: Slug
    section: Text


class Fact(_Model):
    figure: Text
    measures: Text
    year: str | None = None
    cited: str | None = None


MAX_TALKING_POINT = 600  # the whole message: text, source line and link


class TalkingPoint(_Model):
    """A short, shareable campaign message resting on the entry it stands in."""

    id: Slug
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=20, max_length=450)]
    # Further entries the point rests on (the entry it stands in is always one).
    entries: tuple[Slug, ...] = ()


class QuizItem(_Model):
    question: Annotated[str, StringConstraints(strip_whitespace=True, min_length=5, max_length=255)]
    options: Annotated[tuple[Annotated[str, StringConstraints(min_length=1, max_length=100)], ...],
                       Field(min_length=2, max_length=4)]
    correct: int = Field(ge=0, le=3)
    explanation: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]

    @model_validator(mode="after")
    def _one_right(self) -> QuizItem:
        if self.correct >= len(self.options):
            raise ValueError("correct must point at one of the options (counted from 0)")
        if len({o.strip().casefold() for o in self.options}) != len(self.options):
            raise ValueError("quiz options must be distinct")
        return self


EntryType = Literal["recommendation", "fact", "concept", "organisation", "document", "overview"]


class Entry(_Model):
    id: Slug
    type: EntryType
    topic: Slug
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TITLE)]
    answer: Annotated[str, StringConstraints(strip_whitespace=True, min_length=20), AfterValidator(_answer)]
    source: Source
    links: tuple[Link, ...] = ()
    phrasings: Annotated[tuple[Text, ...], Field(min_length=MIN_PHRASINGS)]
    keywords: Annotated[tuple[Text, ...], Field(min_length=1)]
    related: tuple[Slug, ...] = ()
    fact: Fact | None = None
    talking_points: tuple[TalkingPoint, ...] = ()
    quiz: tuple[QuizItem, ...] = ()

    @model_validator(mode="after")
    def _fact_matches_type(self) -> Entry:
        if self.type == "fact" and self.fact is None:
            raise ValueError("an entry of type fact needs a 'fact:' block (figure, measures)")
        if self.type != "fact" and self.fact is not None:
            raise ValueError("only entries of type fact may have a 'fact:' block")
        return self


class Doc(_Model):
    id: Slug
    title: Text
    short: Text
    publisher: Text
    date: Text
    about: Text
    links: tuple[Link, ...] = ()


class SourceFile(_Model):
    sources: tuple[Doc, ...] = Field(min_length=1)


class Topic(_Model):
    id: Slug
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TITLE)]
    group: Literal["maerkesag", "regional", "national"]


class TopicFile(_Model):
    topics: tuple[Topic, ...] = Field(min_length=1)


class Intent(_Model):
    name: Slug
    phrasings: Annotated[tuple[Text, ...], Field(min_length=3)]
    reply: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_ANSWER)]
    # What a front end does besides replying (list the topics, start a quiz, ...).
    action: Literal["topics", "quiz", "subscribe", "unsubscribe", "help", "about"] | None = None


class IntentFile(_Model):
    intents: tuple[Intent, ...] = Field(min_length=1)
    # Words around a question that do not change what it asks ("hej", "tak for svaret",
    # "kan du fortælle mig"): the engine also matches the question without them.
    fillers: tuple[Text, ...] = ()


class Contact(_Model):
    name: Text
    phone: Text
    note: str | None = None


class Crisis(_Model):
    # Every phone number here must be checked by the association before launch.
    verify_before_launch: bool
    reply: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_ANSWER)]
    contacts: tuple[Contact, ...] = Field(min_length=1)
    # Phrases that signal risk on their own. Syntax: words; `word*` is a prefix;
    # `...` skips up to three words.
    signals: Annotated[tuple[Text, ...], Field(min_length=1)]
    # Words that signal risk only together with a word about a person and no policy frame.
    mentions: Annotated[tuple[Text, ...], Field(min_length=1)]
    personal: Annotated[tuple[Text, ...], Field(min_length=1)]
    policy: Annotated[tuple[Text, ...], Field(min_length=1)]
    acute: tuple[Text, ...] = ()
    # Mentions that neither a question nor the past makes harmless: only a policy frame about
    # nobody in particular, or a past event the person has recovered from.
    grave: tuple[Text, ...] = ()
    # A particular other person (min søn, hun): one of `someone_mentions` about them is a
    # crisis even inside a policy frame; only a past frame cancels it.
    someone: tuple[Text, ...] = ()
    # The writer (jeg, min, vores): with `someone`, what makes an `acute` word urgent inside a
    # policy frame; a statistics question about "deres barn" in general is not about anyone.
    first_person: tuple[Text, ...] = ()
    someone_mentions: tuple[Text, ...] = ()
    # Pills and medicines: a count of many of them right before one ("40 sobril") is a signal.
    doses: tuple[Text, ...] = ()
    question: tuple[Text, ...] = ()
    harmless: tuple[Text, ...] = ()
    cues: tuple[Text, ...] = ()
    aliases: dict[str, str] = Field(default_factory=dict)
    past: tuple[Text, ...] = ()
    # With a `past` frame, "i dag har hun det godt": the event is over, even with "i dag".
    recovered: tuple[Text, ...] = ()
    # Words of a plain goodbye to the bot ("farvel og tak"): a message made of these alone
    # is not read by the crisis model, which has learnt "farvel" from farewell notes.
    closings: tuple[Text, ...] = ()


class CrisisFile(_Model):
    crisis: Crisis


@dataclass(frozen=True)
class Knowledge:
    entries: tuple[Entry, ...]
    sources: dict[str, Doc]
    topics: dict[str, Topic]
    intents: tuple[Intent, ...]
    crisis: Crisis
    by_id: dict[str, Entry]
    risk_model: RiskModel | None = None
    none_examples: tuple[str, ...] = ()  # ordinary chat and out-of-scope questions (intents/training)
    entry_model: em.EntryModel | None = None  # as shipped; the engine checks it is current
    fillers: tuple[str, ...] = ()  # greetings and framing around a question (intents/*.yaml)

    def entry_examples(self) -> list[tuple[str, str]]:
        """What the entry model learns from: (entry id or intent key, text) and ("none", text)."""
        return entry_examples(self.entries, self.intents, self.none_examples)

    def source_line(self, entry: Entry) -> str:
        doc = self.sources[entry.source.doc]
        return f"{doc.short} ({doc.publisher}, {doc.date}), afsnit: {entry.source.section}"

    def stats_line(self) -> str:
        phrasings = sum(len(e.phrasings) for e in self.entries)
        links = sum(len(e.links) for e in self.entries)
        return (
            f"knowledge: {len(self.entries)} entries, {len(self.sources)} sources, "
            f"{phrasings} phrasings, {links} links; intents: {len(self.intents)}"
        )


def short_source(entry: Entry, doc: Doc) -> str:
    """'Bedre Psykiatris fem mærkesager 2025 – Gode bosteder': the document and the section's head."""
    section = entry.source.section.split(" – ")[0].strip()
    return f"{doc.short} – {section}" if section and section not in doc.short else doc.short


def render_talking_point(point: TalkingPoint, entry: Entry, doc: Doc) -> str:
    """A talking point as members share it: plain text, the source named, the link if any."""
    parts = [point.text.strip(), f"Kilde: {short_source(entry, doc)}"]
    if entry.links:
        parts.append(entry.links[0].url)
    return "\n\n".join(parts)


class KnowledgeError(Exception):
    def __init__(self, problems: list[Problem]):
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


def _describe(err: dict[str, Any]) -> str:
    loc = ".".join(str(p) for p in err["loc"])
    kind = err["type"]
    if kind == "extra_forbidden":
        return f"unknown field '{err['loc'][-1]}'" + (f" in {'.'.join(map(str, err['loc'][:-1]))}" if len(err["loc"]) > 1 else "")
    if kind == "missing":
        return f"missing field '{loc}'"
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    return f"{loc}: {msg}" if loc else msg


def _validate(model: type[BaseModel], doc: Located) -> tuple[BaseModel | None, list[Problem]]:
    try:
        return model.model_validate(doc.data), []
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            problems.append(Problem(doc.file, doc.line(loc), _describe(err)))
        return None, problems


def _validate_entries(doc: Located, problems: list[Problem]) -> list[tuple[Entry, Located, int]]:
    """Validate entry by entry, so one bad entry does not hide the others' problems."""
    data = doc.data
    if not isinstance(data, dict) or not isinstance(data.get("entries"), list) or not data["entries"]:
        problems.append(Problem(doc.file, doc.line(("entries",)), "the file must hold 'entries:' with a list of entries"))
        return []
    extra = sorted(set(data) - {"entries"})
    for key in extra:
        problems.append(Problem(doc.file, doc.line((key,)), f"unknown field '{key}'"))
    valid = []
    for i, raw in enumerate(data["entries"]):
        try:
            valid.append((Entry.model_validate(raw), doc, i))
        except ValidationError as exc:
            for err in exc.errors():
                err = {**err, "loc": ("entries", i, *err["loc"])}
                problems.append(Problem(doc.file, doc.line(err["loc"]), _describe(err)))
    return valid


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _yaml_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.y*ml") if p.suffix in (".yaml", ".yml"))


def load_knowledge(knowledge_dir: Path = KNOWLEDGE_DIR, intents_dir: Path = INTENTS_DIR,
                   fresh_model: bool = True, current_entry_model: bool = False) -> Knowledge:
    """Load and validate everything; raise KnowledgeError with every problem found.

    `fresh_model=False` accepts a crisis model trained on other examples (for retraining it).
    `current_entry_model=True` (for `check`) reports an entry model that learned from another
    version of the knowledge base; otherwise the engine trains a current one in memory, so a
    coordinator's edit is served at once.
    """
    problems: list[Problem] = []

    def parse(path: Path) -> Located | None:
        located, found = load(path, _display(path))
        problems.extend(found)
        return located

    sources: dict[str, Doc] = {}
    topics: dict[str, Topic] = {}
    entries: list[tuple[Entry, Located, int]] = []
    intents: list[tuple[Intent, Located, int]] = []
    fillers: list[str] = []
    crisis: Crisis | None = None

    if not knowledge_dir.is_dir():
        raise KnowledgeError([Problem(_display(knowledge_dir), 1, "knowledge folder not found")])
    for name, required in (("sources.yaml", True), ("topics.yaml", True)):
        if required and not (knowledge_dir / name).is_file():
            problems.append(Problem(_display(knowledge_dir / name), 1, "file is missing"))

    for path in _yaml_files(knowledge_dir):
        doc = parse(path)
        if doc is None:
            continue
        if path.name == "sources.yaml":
            model, found = _validate(SourceFile, doc)
            problems.extend(found)
            if model is not None:
                for i, src in enumerate(model.sources):  # type: ignore[attr-defined]
                    if src.id in sources:
                        problems.append(Problem(doc.file, doc.line(("sources", i, "id")), f"duplicate source id '{src.id}'"))
                    sources[src.id] = src
        elif path.name == "topics.yaml":
            model, found = _validate(TopicFile, doc)
            problems.extend(found)
            if model is not None:
                for i, topic in enumerate(model.topics):  # type: ignore[attr-defined]
                    if topic.id in topics:
                        problems.append(Problem(doc.file, doc.line(("topics", i, "id")), f"duplicate topic id '{topic.id}'"))
                    topics[topic.id] = topic
        else:
            entries.extend(_validate_entries(doc, problems))

    if not intents_dir.is_dir():
        problems.append(Problem(_display(intents_dir), 1, "intents folder not found"))
    else:
        for path in _yaml_files(intents_dir):
            doc = parse(path)
            if doc is None:
                continue
            if isinstance(doc.data, dict) and "crisis" in doc.data:
                model, found = _validate(CrisisFile, doc)
                problems.extend(found)
                if model is not None:
                    if crisis is not None:
                        problems.append(Problem(doc.file, doc.line(("crisis",)), "a second crisis block; keep exactly one"))
                    crisis = model.crisis  # type: ignore[attr-defined]
            else:
                model, found = _validate(IntentFile, doc)
                problems.extend(found)
                if model is not None:
                    intents.extend((it, doc, i) for i, it in enumerate(model.intents))  # type: ignore[attr-defined]
                    fillers.extend(model.fillers)  # type: ignore[attr-defined]
        intent_files = {_display(p) for p in _yaml_files(intents_dir)}
        if crisis is None and not any(p.file in intent_files for p in problems):
            problems.append(Problem(_display(intents_dir / "crisis.yaml"), 1, "no crisis block found in intents/"))

    risk_model = _load_risk_model(intents_dir, problems, fresh_model)
    none = tuple(em.none_examples(intents_dir))
    entry_model = _load_entry_model(intents_dir, problems)
    if current_entry_model and intents_dir.is_dir() and not problems:
        if entry_model is None:
            problems.append(Problem(_display(intents_dir / em.MODEL_FILE), 1,
                                    "the entry model is missing; run `python -m bot train-matcher`"))
        elif entry_model.data_sha256 != em.examples_hash(
                entry_examples((e for e, _, _ in entries), (i for i, _, _ in intents), none)):
            problems.append(Problem(
                _display(intents_dir / em.MODEL_FILE), 1,
                "the entry model was trained on another version of the knowledge base; "
                "run `python -m bot train-matcher`",
            ))
    problems.extend(_cross_checks(entries, intents, sources, topics))
    if problems:
        raise KnowledgeError(problems)
    assert crisis is not None
    by_id = {e.id: e for e, _, _ in entries}
    return Knowledge(
        entries=tuple(e for e, _, _ in entries),
        sources=sources,
        topics=topics,
        intents=tuple(it for it, _, _ in intents),
        crisis=crisis,
        by_id=by_id,
        risk_model=risk_model,
        none_examples=none,
        entry_model=entry_model,
        fillers=tuple(fillers),
    )


_SENTENCE_END = re.compile(r"(?<=[.!?:])\s+")


def answer_sentences(answer: str) -> list[str]:
    """The sentences of an answer with four words or more.

    A member who describes a proposal in its own words ("skærmkonsultationer") often uses
    the answer's words, not the phrasings'.
    """
    return [s.strip() for s in _SENTENCE_END.split(answer) if len(s.split()) >= 4]


def entry_examples(entries: Iterable[Entry], intents: Iterable[Intent], none: Iterable[str]) -> list[tuple[str, str]]:
    from bot.engine import INTENT_PREFIX

    return em.knowledge_examples(
        [(e.id, (e.title, *e.phrasings, " ".join(e.keywords), *answer_sentences(e.answer))) for e in entries]
        + [(INTENT_PREFIX + i.name, i.phrasings) for i in intents],
        none,
    )


def _load_entry_model(intents_dir: Path, problems: list[Problem]) -> em.EntryModel | None:
    path = intents_dir / em.MODEL_FILE
    if not path.is_file():
        return None
    try:
        return em.EntryModel.load(path)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        problems.append(Problem(_display(path), 1, f"cannot read the entry model: {exc}"))
        return None


def _load_risk_model(intents_dir: Path, problems: list[Problem], fresh: bool) -> RiskModel | None:
    path = intents_dir / MODEL_FILE
    if not path.is_file():
        return None
    try:
        model = RiskModel.load(path)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        problems.append(Problem(_display(path), 1, f"cannot read the crisis model: {exc}"))
        return None
    if fresh and model.data_sha256 != training_hash(intents_dir):
        problems.append(Problem(
            _display(path), 1,
            "the crisis model was trained on other examples than intents/training/ holds; "
            "run `python -m bot train-crisis`",
        ))
    return model


def _cross_checks(
    entries: Iterable[tuple[Entry, Located, int]],
    intents: Iterable[tuple[Intent, Located, int]],
    sources: dict[str, Doc],
    topics: dict[str, Topic],
) -> list[Problem]:
    problems: list[Problem] = []
    entries = list(entries)
    first: dict[str, str] = {}
    for entry, doc, i in entries:
        where = ("entries", i)
        if entry.id in first:
            problems.append(Problem(doc.file, doc.line(where + ("id",)), f"duplicate id '{entry.id}' (first in {first[entry.id]})"))
        else:
            first[entry.id] = f"{doc.file}:{doc.line(where + ('id',))}"
    ids = set(first)
    point_ids: dict[str, str] = {}
    for entry, doc, i in entries:
        where = ("entries", i)
        for j, rel in enumerate(entry.related):
            if rel not in ids:
                problems.append(Problem(doc.file, doc.line(where + ("related", j)), f"related id '{rel}' does not exist"))
            elif rel == entry.id:
                problems.append(Problem(doc.file, doc.line(where + ("related", j)), "an entry cannot be related to itself"))
        if sources and entry.source.doc not in sources:
            problems.append(Problem(doc.file, doc.line(where + ("source", "doc")), f"unknown source '{entry.source.doc}' (see knowledge/sources.yaml)"))
        if topics and entry.topic not in topics:
            problems.append(Problem(doc.file, doc.line(where + ("topic",)), f"unknown topic '{entry.topic}' (see knowledge/topics.yaml)"))
        for j, point in enumerate(entry.talking_points):
            loc = where + ("talking_points", j, "id")
            if point.id in point_ids:
                problems.append(Problem(doc.file, doc.line(loc), f"duplicate talking point id '{point.id}'"))
            point_ids[point.id] = entry.id
            for k, other in enumerate(point.entries):
                if other not in ids:
                    problems.append(Problem(doc.file, doc.line(where + ("talking_points", j, "entries", k)),
                                            f"talking point rests on '{other}', which does not exist"))
            if sources and entry.source.doc in sources:
                length = len(render_talking_point(point, entry, sources[entry.source.doc]))
                if length > MAX_TALKING_POINT:
                    problems.append(Problem(
                        doc.file, doc.line(where + ("talking_points", j, "text")),
                        f"talking point is {length} characters with its source and link; at most {MAX_TALKING_POINT}",
                    ))
    names: set[str] = set()
    for intent, doc, i in intents:
        if intent.name in names:
            problems.append(Problem(doc.file, doc.line(("intents", i, "name")), f"duplicate intent '{intent.name}'"))
        names.add(intent.name)
    return problems
