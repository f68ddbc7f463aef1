"""A learned second opinion on which entry a question is about, or that none is.

The matcher scores words a question shares with an entry. Two things it cannot learn from
that alone: which words tell near-identical entries apart (the concept "Oslo-standarden"
and the proposal that names it: "hvad er …" against "hvad foreslår I …"), and what a
question that uses the documents' words but asks for something they do not hold looks like.

This is a softmax (multinomial logistic) regression over the words of a question as the
matcher reads them (typo-corrected, compounds split), its function words, word pairs and
its opening. Its classes are the entries, the intents and "none". It learns from the
knowledge base itself (every title, phrasing and keyword list is an example of its entry)
and, for "none", from every `out_of_scope` list in intents/training/ (questions the
knowledge base cannot answer, and everyday chat). The crisis model's `not_crisis` lists are
not used: many of them are questions the knowledge base does answer.

`python -m bot train-matcher` also teaches it the train split of the evaluation set
(tests/eval): members' questions as written, each an example of its expected entry or of
"none". The test split and the fresh sets stay unseen; the calibration judges answers with
models that did not see the question (bot/evaluate.py, OutOfFold).

The file intents/entry_model.npz records a hash of the knowledge part of what it learned
from; when the knowledge base has changed since, the engine trains a fresh model in memory
at start (a few seconds, without the members' questions, which a deployment does not carry)
and `python -m bot check` reports the stale file. A second hash covers the members'
questions; `check` reports it too when tests/eval is there.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from bot.matcher import Matcher, Query
from bot.text import STOPWORDS_DA

log = logging.getLogger(__name__)

MODEL_FILE = "entry_model.npz"
NONE = "none"
MIN_COUNT = 2  # a feature must occur in this many examples to get weights
PRUNE = 0.005  # saved weights smaller than this are 0
# How the shipped model is trained (chosen on the train split of tests/eval, see the README).
# They are part of the model's hash, so changing one makes the shipped file stale.
TRAINING = {"none_weight": 32.0, "l2": 1e-5, "epochs": 150, "lr": 0.05, "seed": 7}


def features(query: Query) -> list[str]:
    """Feature names for a question already analysed by the matcher."""
    toks = query.tokens
    out = set(toks)
    out.update(a + "|" + b for a, b in zip(toks, toks[1:]))
    if toks:
        out.add("s:" + "|".join(toks[:2]))
    return sorted(out)


@dataclass
class EntryModel:
    classes: list[str]
    vocabulary: dict[str, int]
    weights: np.ndarray  # (features, classes); float16 once saved, summed in float32
    bias: np.ndarray  # (classes,)
    data_sha256: str = ""  # what it learned from the knowledge base and intents/
    members_sha256: str = ""  # the members' questions it learned from, "" for none

    def __post_init__(self) -> None:
        self.class_index = {c: i for i, c in enumerate(self.classes)}

    def probabilities(self, query: Query) -> np.ndarray:
        idx = [self.vocabulary[f] for f in features(query) if f in self.vocabulary]
        z = self.bias.copy()
        if idx:
            z += self.weights[idx].sum(axis=0, dtype=np.float32) / math.sqrt(len(idx))
        z -= z.max()
        p = np.exp(z)
        return p / p.sum()

    def save(self, path: Path) -> None:
        # float16, and weights too small to move a probability set to 0 so the file
        # compresses well (it is committed after every knowledge edit).
        weights = self.weights.astype(np.float16)
        weights[np.abs(weights) < PRUNE] = 0
        with path.open("wb") as fh:
            np.savez_compressed(
                fh, classes=np.array(self.classes),
                features=np.array(sorted(self.vocabulary, key=self.vocabulary.__getitem__)),
                weights=weights, bias=self.bias.astype(np.float32), data_sha256=np.array(self.data_sha256),
                members_sha256=np.array(self.members_sha256),
            )

    @classmethod
    def load(cls, path: Path) -> EntryModel:
        with np.load(path, allow_pickle=False) as data:
            feats = [str(f) for f in data["features"]]
            return cls(classes=[str(c) for c in data["classes"]],
                       vocabulary={f: i for i, f in enumerate(feats)},
                       weights=data["weights"], bias=data["bias"].astype(np.float32),
                       data_sha256=str(data["data_sha256"]),
                       members_sha256=str(data["members_sha256"]) if "members_sha256" in data.files else "")


# -- training ------------------------------------------------------------------------------

def none_examples(intents_dir: Path) -> list[str]:
    """Every `out_of_scope` list in intents/training/*.yaml.

    Not the crisis model's `not_crisis` lists: "not a crisis" is not "not in the knowledge
    base" ("hvad mener foreningen om tvang i psykiatrien" is both not a crisis and answered).
    """
    out: list[str] = []
    for path in sorted((intents_dir / "training").glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        if "out_of_scope" not in text:  # the crisis model's files: not parsed at every start
            continue
        data = yaml.load(text, Loader=yaml.CSafeLoader) or {}  # noqa: S506 - the C build of safe_load
        out.extend(str(x) for x in data.get("out_of_scope") or [])
    return out


def examples_hash(examples: Sequence[tuple[str, str]]) -> str:
    """What a model learned from: the examples, the features and the training settings.

    The stop list is part of it: a word moved onto it becomes a different feature.
    """
    digest = hashlib.sha256(f"{sorted(TRAINING.items())}|{MIN_COUNT}|features-v2|{sorted(STOPWORDS_DA)}".encode())
    for label, text in examples:
        digest.update(label.encode())
        digest.update(b"\0")
        digest.update(text.encode())
        digest.update(b"\n")
    return digest.hexdigest()


def members_hash(members: Sequence[tuple[str, str]]) -> str:
    """The model file's record of the members' questions it learnt; "" for none."""
    return examples_hash(members) if members else ""


def train(matcher: Matcher, examples: Sequence[tuple[str, str]],
          members: Sequence[tuple[str, str]] = (), *,
          none_weight: float = TRAINING["none_weight"], l2: float = TRAINING["l2"],
          epochs: int = int(TRAINING["epochs"]), lr: float = TRAINING["lr"],
          seed: int = int(TRAINING["seed"])) -> EntryModel:
    """Fit the softmax regression on (class, text) examples with Adam, full batch.

    `examples` come from the knowledge base and intents/, `members` from members' questions
    (the evaluation set's train split); both are learnt alike, and hashed apart.
    Each class has the same total weight, except "none", which weighs `none_weight` times
    an ordinary class: it has many examples, and they must not swamp the entries.
    """
    started = time.perf_counter()
    knowledge_part = examples
    known = {label for label, _ in examples}
    examples = [*examples, *((label, text) for label, text in members if label in known and text.strip())]
    classes = sorted({label for label, _ in examples})
    class_index = {c: i for i, c in enumerate(classes)}
    feats = [features(matcher.analyse(text)) for _, text in examples]
    counts: dict[str, int] = {}
    for fs in feats:
        for f in fs:
            counts[f] = counts.get(f, 0) + 1
    vocabulary = {f: i for i, f in enumerate(sorted(f for f, n in counts.items() if n >= MIN_COUNT))}
    from scipy import sparse  # training only; answering needs no scipy

    keep = [r for r, fs in enumerate(feats) if any(f in vocabulary for f in fs)]
    rows, cols, vals = [], [], []
    for k, r in enumerate(keep):
        idx = [vocabulary[f] for f in feats[r] if f in vocabulary]
        rows.extend([k] * len(idx))
        cols.extend(idx)
        vals.extend([1.0 / math.sqrt(len(idx))] * len(idx))
    n = len(keep)
    x = sparse.csr_matrix((np.array(vals, dtype=np.float32), (rows, cols)), shape=(n, len(vocabulary)))
    xt = x.T.tocsr()
    y = np.array([class_index[label] for label, _ in examples])[keep]

    per_class = np.bincount(y, minlength=len(classes)).astype(np.float32)
    sample_w = 1.0 / np.maximum(per_class[y], 1.0)
    if NONE in class_index:
        sample_w[y == class_index[NONE]] *= none_weight
    sample_w /= sample_w.sum()

    n_feat, n_cls = len(vocabulary), len(classes)
    rng = np.random.default_rng(seed)
    w = (rng.standard_normal((n_feat, n_cls)) * 0.01).astype(np.float32)
    b = np.zeros(n_cls, dtype=np.float32)
    m_w, v_w = np.zeros_like(w), np.zeros_like(w)
    m_b, v_b = np.zeros_like(b), np.zeros_like(b)
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    everyone = np.arange(n)
    for step in range(1, epochs + 1):
        z = x @ w + b
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        p[everyone, y] -= 1.0
        p *= sample_w[:, None]
        g_w = xt @ p + l2 * w
        g_b = p.sum(axis=0)
        for param, grad, m, v in ((w, g_w, m_w, v_w), (b, g_b, m_b, v_b)):
            m *= beta1
            m += (1 - beta1) * grad
            v *= beta2
            v += (1 - beta2) * grad * grad
            param -= lr * (m / (1 - beta1 ** step)) / (np.sqrt(v / (1 - beta2 ** step)) + eps)
    log.info("entry model: %d examples, %d features, %d classes, trained in %.1f s",
             n, n_feat, n_cls, time.perf_counter() - started)
    return EntryModel(classes, vocabulary, w, b, examples_hash(knowledge_part), members_hash(members))


def knowledge_examples(entries: Iterable[tuple[str, Sequence[str]]], none: Iterable[str]) -> list[tuple[str, str]]:
    """(class, text) pairs: each entry's or intent's texts, and the "none" examples."""
    out = [(key, text) for key, texts in entries for text in texts if text.strip()]
    out += [(NONE, text) for text in none if text.strip()]
    return out
