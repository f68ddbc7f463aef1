"""Evaluation of the engine on a labelled question set, and threshold calibration.

The question set (tests/eval/*.yaml) holds questions written as members ask them,
each with what the bot should do:

    - q: hvad er det der oslo standard
      expect: oslo-standarden          # an entry id, or a list of acceptable ids
    - q: hvad bliver vejret i morgen
      expect: fallback                 # out of scope: the bot must not answer
      category: everyday               # optional, for the report: see OOS_CATEGORIES
    - q: min søn siger han ikke vil leve mere
      expect: crisis
    - q: hej
      expect: intent:hilsen
    - q: jeg dør af grin
      expect: not-crisis               # anything but the crisis reply

A third of the questions (chosen by a hash of the text, so the split never changes) is the
test split: calibration only ever looks at the train split, and the entry model learns the
train split's questions too (`python -m bot train-matcher`), so the test split is unseen.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from bot import entry_model as em
from bot import yamlload
from bot.engine import INTENT_PREFIX, THRESHOLDS_FILE, ConfidenceModel, Engine, Reply, Thresholds
from bot.knowledge import Knowledge
from bot.yamlload import Problem

# Calibration: an answer to an out-of-scope question costs this many right answers; a
# suggestion or fallback costs little.
WRONG_ANSWER = 1.5
# The wrong entry for a question the knowledge base does answer costs as much as a right
# answer gains: the member still gets a sourced answer next to it, with related entries one
# tap away. In 3-fold cross-validation inside the train split 1.0 gave top-1 87.9 -> 88.9 %
# at the same out-of-scope rejection (91.5 %) as 1.5; 0.5 traded rejection for top-1.
WRONG_ENTRY = 1.0
# L2 penalty of the confidence model. In 3-fold cross-validation inside the train split 1e-3
# traded out-of-scope rejection for top-1 one for one (85.3/94.0 % -> 88.2/91.2 %), so 1e-2 stays.
CONFIDENCE_L2 = 1e-2
DEFAULT_EVAL = Path(__file__).resolve().parent.parent / "tests" / "eval"


# Kinds of out-of-scope question, for the report: the issue's three (everyday life, other
# politics, nonsense), other health and a relative's own case ("hvilken dosis er normal"), and
# near misses, which ask the material's own topics for a detail it lacks ("hvem var
# projektleder på sikker psykiatri").
OOS_CATEGORIES = ("everyday", "politics", "nonsense", "health", "near-miss")
ISSUE_CATEGORIES = OOS_CATEGORIES[:3]


@dataclass(frozen=True)
class Case:
    q: str
    expect: tuple[str, ...]
    group: str  # entry | fallback | crisis | intent | policy-suicide
    file: str = ""  # the question file it comes from
    category: str = ""  # out of scope: one of OOS_CATEGORIES, or "" when not labelled

    @property
    def split(self) -> str:
        digest = hashlib.sha256(self.q.strip().casefold().encode()).digest()
        return "test" if digest[0] % 3 == 0 else "train"


class EvalFileError(ValueError):
    """A question file that cannot be used; `problems` read `FILE:LINE: what is wrong`."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def load_cases(path: Path) -> list[Case]:
    """Cases from one YAML file, or from every *.yaml file in a folder."""
    files = sorted(path.glob("*.yaml")) if path.is_dir() else [path]
    if not files:
        raise EvalFileError([Problem(str(path), 1, "no question file (*.yaml) here")])
    cases: list[Case] = []
    problems: list[Problem] = []
    for file in files:
        doc, found = yamlload.load(file)
        problems.extend(found)
        if doc is None:
            continue
        rows = doc.data.get("questions") if isinstance(doc.data, dict) else None
        if not isinstance(rows, list):
            problems.append(Problem(doc.file, doc.line(()), "needs a list 'questions:' of {q, expect}"))
            continue
        for i, row in enumerate(rows):
            case = _case(row, file.name)
            if isinstance(case, tuple):
                message, key = case
                problems.append(Problem(doc.file, doc.line(("questions", i, *key)), message))
            else:
                cases.append(case)
    if problems:
        raise EvalFileError(problems)
    return cases


def _case(row: object, name: str) -> Case | tuple[str, tuple[str, ...]]:
    """One question row as a case, or what is wrong with it and under which key."""
    if not isinstance(row, dict) or not str(row.get("q") or "").strip() or not row.get("expect"):
        return "each question needs a non-empty 'q:' and 'expect:'", ()
    expect = row["expect"]
    expect = tuple(str(e) for e in expect) if isinstance(expect, list) else (str(expect),)
    if expect == ("crisis",):
        group = "crisis"
    elif expect == ("fallback",):
        group = "fallback"
    elif expect == ("not-crisis",):
        group = "not-crisis"
    elif expect[0].startswith(INTENT_PREFIX):
        group = "intent"
    else:
        group = str(row.get("group", "entry"))
    category = str(row.get("category", ""))
    if category and (group != "fallback" or category not in OOS_CATEGORIES):
        return f"category {category!r}: only for 'expect: fallback', one of {', '.join(OOS_CATEGORIES)}", ("category",)
    return Case(str(row["q"]), expect, group, name, category)


def outcome(case: Case, reply: Reply) -> bool:
    """Did the bot do what the case expects?"""
    if case.group == "crisis":
        return reply.kind == "crisis"
    if case.group == "fallback":
        return reply.kind in ("fallback", "suggest")
    if case.group == "not-crisis":
        return reply.kind != "crisis"
    if case.group == "intent":
        return reply.kind == "intent" and f"{INTENT_PREFIX}{reply.entry}" in case.expect
    return reply.kind == "answer" and reply.entry in case.expect


def first_choice(reply: Reply) -> str | None:
    if reply.kind == "answer":
        return reply.entry
    if reply.kind == "suggest" and reply.suggestions:
        return reply.suggestions[0].entry
    return None


def member_examples(cases: list[Case]) -> list[tuple[str, str]]:
    """Questions as members wrote them, as entry-model examples: (expected class, question).

    An in-scope question is an example of each entry it expects, an intent question of its
    intent, an out-of-scope question of "none". Crisis messages are the crisis check's.
    """
    out: list[tuple[str, str]] = []
    for case in cases:
        if case.group in ("entry", "policy-suicide", "intent"):
            out.extend((key, case.q) for key in case.expect)
        elif case.group == "fallback":
            out.append((em.NONE, case.q))
    return out


def train_members(path: Path = DEFAULT_EVAL) -> list[tuple[str, str]]:
    """The entry model's members' questions: the train split of the evaluation set, if there."""
    if not path.is_dir():
        return []
    return member_examples([c for c in load_cases(path) if c.split == "train"])


def _pct(n: int, d: int) -> str:
    return f"{100 * n / d:5.1f} % ({n}/{d})" if d else "   n/a"


@dataclass
class Report:
    results: list[tuple[Case, Reply, float]]

    def subset(self, split: str) -> Report:
        return Report([r for r in self.results if split == "all" or r[0].split == split])

    def metrics(self) -> dict[str, float]:
        by: dict[str, list[tuple[Case, Reply, float]]] = defaultdict(list)
        for r in self.results:
            by[r[0].group].append(r)
        in_scope = by["entry"] + by["policy-suicide"]
        non_crisis = [r for r in self.results if r[0].group != "crisis"]
        lat = sorted(r[2] for r in self.results)

        def share(rows: list, pred) -> float:  # type: ignore[no-untyped-def]
            return sum(1 for r in rows if pred(r)) / len(rows) if rows else float("nan")

        return {
            "top1": share(in_scope, lambda r: outcome(r[0], r[1])),
            "first_choice": share(in_scope, lambda r: first_choice(r[1]) in r[0].expect),
            "oos_rejection": share(by["fallback"], lambda r: r[1].kind in ("fallback", "suggest")),
            "oos_fallback": share(by["fallback"], lambda r: r[1].kind == "fallback"),
            "crisis_recall": share(by["crisis"], lambda r: r[1].kind == "crisis"),
            "false_crisis": share(non_crisis, lambda r: r[1].kind == "crisis"),
            "intent_acc": share(by["intent"], lambda r: outcome(r[0], r[1])),
            "p50_ms": statistics.median(lat) * 1000 if lat else float("nan"),
            "p99_ms": lat[min(len(lat) - 1, int(0.99 * len(lat)))] * 1000 if lat else float("nan"),
        }

    def oos_by_category(self) -> dict[str, tuple[int, int]]:
        """Out-of-scope questions not answered, per labelled category: (not answered, all)."""
        out: dict[str, tuple[int, int]] = {}
        for cat in OOS_CATEGORIES:
            rows = [r for r in self.results if r[0].group == "fallback" and r[0].category == cat]
            if rows:
                out[cat] = (sum(r[1].kind in ("fallback", "suggest") for r in rows), len(rows))
        return out

    def print(self, out: TextIO, knowledge: Knowledge, title: str) -> None:
        by: dict[str, list[tuple[Case, Reply, float]]] = defaultdict(list)
        for r in self.results:
            by[r[0].group].append(r)
        in_scope = by["entry"] + by["policy-suicide"]
        out.write(f"\n== {title}: {len(self.results)} questions ==\n")
        m = self.metrics()
        ok = lambda rows: sum(1 for r in rows if outcome(r[0], r[1]))  # noqa: E731
        out.write(f"top-1 answered correctly   {_pct(ok(in_scope), len(in_scope))}\n")
        fc = sum(1 for r in in_scope if first_choice(r[1]) in r[0].expect)
        out.write(f"right entry first (answer or first suggestion) {_pct(fc, len(in_scope))}\n")
        kinds = Counter(r[1].kind for r in in_scope)
        out.write(f"  in-scope reply kinds: {dict(kinds)}\n")
        oos = by["fallback"]
        rej = sum(1 for r in oos if r[1].kind in ("fallback", "suggest"))
        fb = sum(1 for r in oos if r[1].kind == "fallback")
        out.write(f"out-of-scope not answered  {_pct(rej, len(oos))}; of which plain fallback {_pct(fb, len(oos))}\n")
        cats = self.oos_by_category()
        if cats:
            out.write("  by kind: " + "; ".join(f"{c} {_pct(*v).strip()}" for c, v in cats.items()) + "\n")
            named = [cats[c] for c in ISSUE_CATEGORIES if c in cats]
            if named:
                out.write(f"  the issue's kinds ({', '.join(ISSUE_CATEGORIES)}) "
                          f"{_pct(sum(n[0] for n in named), sum(n[1] for n in named)).strip()}\n")
        cr = by["crisis"]
        out.write(f"crisis recall              {_pct(ok(cr), len(cr))}\n")
        non = [r for r in self.results if r[0].group != "crisis"]
        fcr = sum(1 for r in non if r[1].kind == "crisis")
        out.write(f"false crisis               {_pct(fcr, len(non))}\n")
        ps = by["policy-suicide"]
        out.write(f"policy questions on suicide answered as policy {_pct(sum(1 for r in ps if r[1].kind != 'crisis'), len(ps))}\n")
        out.write(f"intents                    {_pct(ok(by['intent']), len(by['intent']))}\n")
        out.write("accuracy per document (in-scope):\n")
        per_doc: dict[str, list[bool]] = defaultdict(list)
        for case, reply, _ in in_scope:
            entry = knowledge.by_id.get(case.expect[0])
            per_doc[entry.source.doc if entry else "?"].append(outcome(case, reply))
        for doc, oks in sorted(per_doc.items()):
            out.write(f"  {doc:32} {_pct(sum(oks), len(oks))}\n")
        out.write("per question file (top-1 in scope; out of scope not answered; crisis recall; false crisis):\n")
        for name in sorted({r[0].file for r in self.results}):
            rows = [r for r in self.results if r[0].file == name]
            ins = [r for r in rows if r[0].group in ("entry", "policy-suicide")]
            oo = [r for r in rows if r[0].group == "fallback"]
            cr_ = [r for r in rows if r[0].group == "crisis"]
            nc = [r for r in rows if r[0].group != "crisis"]
            out.write(f"  {name:24} {_pct(ok(ins), len(ins))}; {_pct(sum(r[1].kind in ('fallback', 'suggest') for r in oo), len(oo))}; "
                      f"{_pct(ok(cr_), len(cr_))}; {_pct(sum(r[1].kind == 'crisis' for r in nc), len(nc))}\n")
        out.write(f"latency per question in-process: p50 {m['p50_ms']:.2f} ms, p99 {m['p99_ms']:.2f} ms\n")
        wrong = [r for r in self.results if not outcome(r[0], r[1])]
        if wrong:
            out.write(f"confusions ({len(wrong)}):\n")
            for case, reply, _ in wrong:
                got = reply.entry or ",".join(s.entry for s in reply.suggestions) or "-"
                out.write(f"  [{case.split}] {case.q!r}\n      expected {'|'.join(case.expect)}; got {reply.kind} {got} ({reply.score})\n")


def evaluate(engine: Engine, cases: list[Case]) -> Report:
    results = []
    for case in cases:
        start = time.perf_counter()
        reply = engine.reply(case.q)
        results.append((case, reply, time.perf_counter() - start))
    return Report(results)


def run_eval(engine: Engine, path: Path, split: str, out: TextIO) -> int:
    cases = load_cases(path)
    report = evaluate(engine, cases)
    t = engine.thresholds
    out.write(f"thresholds: answer {t.answer}, margin {t.margin}, suggest {t.suggest}"
              f"{', with the confidence model' if t.model else ''}\n")
    for name in (["train", "test"] if split == "all" else [split]):
        report.subset(name).print(out, engine.knowledge, f"{name} split")
    if split == "all":
        report.print(out, engine.knowledge, "all")
    return 0


def fit_logistic(x: list[list[float]], y: list[int], l2: float = 1e-2, steps: int = 4000) -> ConfidenceModel:
    """Plain logistic regression by gradient descent on standardised features (numpy)."""
    import numpy as np

    xs = np.asarray(x, dtype=float)
    ys = np.asarray(y, dtype=float)
    mean = xs.mean(axis=0)
    scale = xs.std(axis=0)
    scale[scale < 1e-9] = 1.0
    z = np.c_[np.ones(len(xs)), (xs - mean) / scale]
    w = np.zeros(z.shape[1])
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(z @ w)))
        grad = z.T @ (p - ys) / len(ys) + l2 * np.r_[0.0, w[1:]]
        w -= 0.2 * grad
    return ConfidenceModel(tuple(round(float(v), 6) for v in mean), tuple(round(float(v), 6) for v in scale),
                           tuple(round(float(v), 6) for v in w[1:]), round(float(w[0]), 6))


def fit_thresholds(engine: Engine, cases: list[Case],
                   engine_for: Callable[[Case], Engine] | None = None) -> tuple[float, Thresholds, int]:
    """The confidence model and thresholds that do best on `cases`: (objective, thresholds, n).

    `engine_for(case)` is the engine whose entry model has not seen the case (OutOfFold.engine_for).
    """
    cases = [c for c in cases if c.group in ("entry", "policy-suicide", "fallback", "intent")]
    searched = [(c, *(engine_for(c) if engine_for else engine).search(c.q)) for c in cases]

    # 1. The confidence model: does the best hit answer the question? It learns from right
    # answers against out-of-scope questions only. A question the knowledge base answers but
    # whose best hit is another entry looks like neither; taught as a "no" it blurred the two
    # (3-fold cross-validation inside train, top-1 / out of scope: 94.7 / 92.9 % with those
    # questions, 94.5 / 94.3 % without).
    x, y = [], []
    for case, hits, query in searched:
        if hits:
            top = hits[0]
            answered = case.group != "fallback"
            if answered and top.key not in case.expect:
                continue
            x.append(engine.features(top, top.score - engine._runner_up(top, hits), query))
            y.append(1 if answered else 0)
    model = fit_logistic(x, y, l2=CONFIDENCE_L2)

    # 2. The thresholds, with that model.
    def objective(t: Thresholds) -> float:
        gain = 0.0
        for case, hits, query in searched:
            reply = engine.decide(hits, t, query)
            if case.group == "fallback":
                gain += {"fallback": 1.0, "suggest": 0.6}.get(reply.kind, -WRONG_ANSWER)
            elif case.group == "intent":
                gain += 1.0 if outcome(case, reply) else -0.5
            elif reply.kind == "answer":
                gain += 1.0 if reply.entry in case.expect else -WRONG_ENTRY
            elif reply.kind == "suggest":
                gain += 0.4 if first_choice(reply) in case.expect else -0.2
            else:
                gain -= 0.5
        return gain

    # Every point of the grid, then the point whose neighbourhood does best: the objective is
    # flat and noisy near its top, and the middle of a good plateau moves less with a few
    # questions more or less than its highest spike does.
    answers, margins, suggests = list(range(20, 96, 3)), [0, 1, 2, 4, 6, 8], list(range(30, 71, 4))
    grid: dict[tuple[int, int, int], float] = {}
    for ai, a in enumerate(answers):
        for mi, m in enumerate(margins):
            for si, s in enumerate(suggests):
                grid[ai, mi, si] = objective(Thresholds(answer=a / 100, margin=m / 100, suggest=s / 100, model=model))

    def smoothed(key: tuple[int, int, int]) -> float:
        near = [grid[k] for k in itertools.product(*(range(i - 1, i + 2) for i in key)) if k in grid]
        return sum(near) / len(near)

    ai, mi, si = max(grid, key=lambda k: (smoothed(k), grid[k]))
    best = (grid[ai, mi, si], Thresholds(answer=answers[ai] / 100, margin=margins[mi] / 100,
                                          suggest=suggests[si] / 100, model=model))
    # The intent threshold last: intents are decided before the confidence model.
    for i in range(30, 81, 5):
        t = Thresholds(best[1].answer, best[1].margin, best[1].suggest, i / 100, model)
        score = objective(t)
        if score > best[0]:
            best = (score, t)
    return best[0], best[1], len(searched)


FOLDS = 3


def fold_of(case: Case, folds: int = FOLDS) -> int:
    return hashlib.sha256(b"cv" + case.q.encode()).digest()[0] % folds


class OutOfFold:
    """Engines whose entry models did not learn the question at hand.

    The shipped entry model learnt the train split's questions, so on them it is surer than
    on a member's new question. Calibration and cross-validation therefore look at each
    train question through a model trained without its fold (three models, about 30 s each).
    With a shipped model that learnt no members' questions, the engine itself serves.
    """

    def __init__(self, engine: Engine, cases: list[Case], folds: int = FOLDS):
        self.folds = folds
        self.engines = [engine] * folds
        if engine.entry_model.members_sha256:
            examples = engine.knowledge.entry_examples()
            for k in range(folds):
                fold_engine = copy.copy(engine)
                fold_engine.entry_model = em.train(
                    engine.matcher, examples, member_examples([c for c in cases if fold_of(c, folds) != k]))
                self.engines[k] = fold_engine

    def engine_for(self, case: Case) -> Engine:
        return self.engines[fold_of(case, self.folds)]


def cross_validate(engine: Engine, cases: list[Case], oof: OutOfFold | None = None) -> dict[str, float]:
    """Top-1 and out-of-scope rejection when the thresholds are fitted without the question.

    Each fold's questions are answered with the confidence model and thresholds fitted on
    the other folds, by an entry model that did not learn them. Run on the train split, this
    judges a change to the engine without looking at the test split.
    """
    oof = oof or OutOfFold(engine, cases)
    folds = oof.folds
    right = in_scope = rejected = oos = 0
    for k in range(folds):
        judge = copy.copy(oof.engines[k])
        _, judge.thresholds, _ = fit_thresholds(engine, [c for c in cases if fold_of(c, folds) != k], oof.engine_for)
        for case, reply, _ in evaluate(judge, [c for c in cases if fold_of(c, folds) == k]).results:
            if case.group in ("entry", "policy-suicide"):
                in_scope += 1
                right += outcome(case, reply)
            elif case.group == "fallback":
                oos += 1
                rejected += reply.kind in ("fallback", "suggest")
    return {"top1": right / in_scope if in_scope else float("nan"),
            "oos_rejection": rejected / oos if oos else float("nan"),
            "questions": float(in_scope + oos)}


def calibrate(knowledge: Knowledge, path: Path, write: bool, out: TextIO) -> int:
    """Fit the confidence model and grid-search the thresholds on the train split only."""
    engine = Engine(knowledge, Thresholds(answer=0.0, margin=0.0, suggest=0.0))
    train = [c for c in load_cases(path) if c.split == "train"]
    oof = OutOfFold(engine, train)
    cv = cross_validate(engine, train, oof)
    out.write(f"3-fold cross-validation on the train split: top-1 {cv['top1']:.1%}, "
              f"out-of-scope not answered {cv['oos_rejection']:.1%}\n")
    score, t, n = fit_thresholds(engine, train, oof.engine_for)
    model = t.model
    assert model is not None
    out.write(f"best on {n} train questions: answer {t.answer}, margin {t.margin}, "
              f"suggest {t.suggest}, intent {t.intent} (objective {score:.1f})\n")
    if write:
        THRESHOLDS_FILE.write_text(
            json.dumps({"answer": t.answer, "margin": t.margin, "suggest": t.suggest, "intent": t.intent,
                        "model": model.as_json(),
                        "calibrated_on": f"{path.name}, train split, {n} questions"},
                       indent=2) + "\n",
            encoding="utf-8",
        )
        out.write(f"wrote {THRESHOLDS_FILE}\n")
    return 0
