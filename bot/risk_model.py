"""A small word-and-character model that recognises crisis messages the phrase lists miss.

The phrase lists in intents/crisis.yaml catch what people usually write; people in crisis
also write in ways no list foresees ("barberbladet ligger klar", "har fundet en måde").
This is a logistic regression over words, word pairs and character 4-5-grams, trained by
`python -m bot train-crisis` on the example messages in intents/training/ (plus the
knowledge base's phrasings as examples of ordinary questions) and shipped as
intents/crisis_model.json. At run time it is a dictionary look-up and a sum: no network,
no database, no heavy library, microseconds per message.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.text import stem, words

MODEL_FILE = "crisis_model.json"
# Character n-grams of each word. 4 and 5 (without 3) gave fewer false alarms at the same
# recall, out of fold and on later messages by new writers.
CHAR_NGRAMS = (4, 5)
FEATURES_VERSION = "words-pairs-chars45"  # part of the training hash: a change makes the file stale
TRAINING_DIR = "training"


def features(text: str) -> list[str]:
    toks = words(text)
    stems = [stem(t) for t in toks]
    out = {"w:" + s for s in stems}
    out.update("b:" + a + "_" + b for a, b in zip(stems, stems[1:]))
    for t in toks:
        padded = f"<{t}>"
        for n in CHAR_NGRAMS:
            out.update("c:" + padded[i:i + n] for i in range(len(padded) - n + 1))
    return sorted(out)


@dataclass(frozen=True)
class RiskModel:
    weights: dict[str, float]
    bias: float
    threshold: float
    data_sha256: str = ""
    # The higher bar for a policy question about nobody in particular ("hvad mener I om
    # forebyggelse af selvmord") and for one or two words ("vejret"): see CrisisDetector.
    strict_threshold: float | None = None

    def probability(self, text: str) -> float:
        feats = features(text)
        if not feats:
            return 0.0
        scale = 1.0 / math.sqrt(len(feats))
        z = self.bias + scale * sum(self.weights.get(f, 0.0) for f in feats)
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def is_risk(self, text: str, strict: bool = False) -> bool:
        bar = self.threshold
        if strict and self.strict_threshold is not None:
            bar = max(bar, self.strict_threshold)
        return self.probability(text) >= bar

    @classmethod
    def load(cls, path: Path) -> RiskModel:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(weights=data["weights"], bias=data["bias"], threshold=data["threshold"],
                   data_sha256=data.get("data_sha256", ""), strict_threshold=data.get("strict_threshold"))

    def save(self, path: Path, note: dict[str, object]) -> None:
        data = {"bias": round(self.bias, 5), "threshold": round(self.threshold, 4),
                "strict_threshold": None if self.strict_threshold is None else round(self.strict_threshold, 4),
                "data_sha256": self.data_sha256, **note,
                "weights": {f: round(w, 4) for f, w in sorted(self.weights.items()) if abs(w) >= 1e-3}}
        path.write_text(json.dumps(data, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")


# -- training ------------------------------------------------------------------------------

def training_files(intents_dir: Path) -> list[Path]:
    return sorted((intents_dir / TRAINING_DIR).glob("*.yaml"))


def training_hash(intents_dir: Path) -> str:
    digest = hashlib.sha256(FEATURES_VERSION.encode())
    for path in training_files(intents_dir):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def load_examples(intents_dir: Path) -> tuple[list[str], list[str]]:
    pos: list[str] = []
    neg: list[str] = []
    for path in training_files(intents_dir):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        pos.extend(str(x) for x in data.get("crisis") or [])
        neg.extend(str(x) for x in data.get("not_crisis") or [])
        neg.extend(str(x) for x in data.get("out_of_scope") or [])  # questions the bot cannot answer
    return pos, neg


def _fit(samples: Sequence[tuple[list[str], int]], epochs: int, l2: float, seed: int) -> tuple[dict[str, float], float]:
    """Logistic regression with AdaGrad and L2 on L2-normalised binary features."""
    n_pos = sum(y for _, y in samples) or 1
    n_neg = (len(samples) - n_pos) or 1
    class_weight = {1: len(samples) / (2 * n_pos), 0: len(samples) / (2 * n_neg)}
    w: dict[str, float] = {}
    g2: dict[str, float] = {}
    bias, bias_g2 = 0.0, 1e-8
    rng = random.Random(seed)
    order = list(range(len(samples)))
    lr = 0.5
    for _ in range(epochs):
        rng.shuffle(order)
        for idx in order:
            feats, y = samples[idx]
            if not feats:
                continue
            scale = 1.0 / math.sqrt(len(feats))
            z = bias + scale * sum(w.get(f, 0.0) for f in feats)
            p = 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))
            err = (p - y) * class_weight[y]
            for f in feats:
                wf = w.get(f, 0.0)
                grad = err * scale + l2 * wf
                g = g2.get(f, 1e-8) + grad * grad
                g2[f] = g
                w[f] = wf - lr * grad / math.sqrt(g)
            bias_g2 += err * err
            bias -= lr * err / math.sqrt(bias_g2)
    return w, bias


# L2 penalty: 1e-3 separates better than 1e-4 did out of fold (false crisis 2.3 -> 1.6 % at
# 94 % model recall) and on messages written later by new people (fewer false alarms, same recall).
L2 = 1e-3


# Share of the crisis examples the whole check (phrase lists, then the model) must recognise
# out of fold. 0.97 puts the threshold near 0.40 (before session 14 the rule was 94 % for the
# model alone, near 0.50, which left the whole check at 95.5 %; fresh sets by new writers had
# come in at 96-97 % recall). In a policy question about nobody in particular, and in a
# message of one or two words, the model keeps the old bar (STRICT_RECALL for the model
# alone): with it no crisis example out of fold is lost (the 22 it adds are all of four words
# or more, none a policy question), and "hvad kræver I af kommunerne, så folk med
# selvmordstanker kan få hjælp" stays policy and "vejret" a question about the weather.
# Evaluation set: false crisis 0.7 -> 1.1 % (target 2 %); hard everyday sets 13 -> 16 %.
TARGET_RECALL = 0.97
STRICT_RECALL = 0.94


def train(positives: list[str], negatives: list[str], *, epochs: int = 12, l2: float = L2,
          folds: int = 5, target_recall: float = TARGET_RECALL, seed: int = 7,
          caught: Callable[[str], bool] = lambda _: False) -> tuple[RiskModel, dict[str, object]]:
    """Train on everything; pick the threshold from out-of-fold scores.

    The threshold is the highest one at which the phrase lists (`caught`) and the model
    together recognise `target_recall` of the crisis examples, the model scoring each one
    it did not see while training (k-fold), so recall is not measured on memorised messages.
    """
    data = [(features(t), 1) for t in positives] + [(features(t), 0) for t in negatives]
    rng = random.Random(seed)
    fold_of = [rng.randrange(folds) for _ in data]
    oof = [0.0] * len(data)  # each example's score by the model trained without its fold
    for k in range(folds):
        w, b = _fit([d for d, f in zip(data, fold_of) if f != k], epochs, l2, seed)
        for i, ((feats, _), f) in enumerate(zip(data, fold_of)):
            if f == k:
                scale = 1.0 / math.sqrt(len(feats)) if feats else 0.0
                z = b + scale * sum(w.get(x, 0.0) for x in feats)
                oof[i] = 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))
    pos_scores = sorted(oof[:len(positives)], reverse=True)
    neg_scores = oof[len(positives):]
    by_phrase = [caught(t) for t in positives]
    # The model must add the rest: the k-th best score among the examples the phrases miss.
    left = sorted((s for s, hit in zip(oof, by_phrase) if not hit), reverse=True)
    need = max(0, math.ceil(target_recall * len(positives)) - sum(by_phrase))
    cut = left[min(len(left) - 1, max(need - 1, 0))] if left else 0.5
    strict_cut = pos_scores[min(len(pos_scores) - 1, int(STRICT_RECALL * len(pos_scores)))]
    cut = min(cut, strict_cut)  # the phrases can only lower the bar, never raise it
    w, b = _fit(data, epochs, l2, seed)
    stats = {
        "examples": {"crisis": len(positives), "not_crisis": len(negatives)},
        "out_of_fold": {
            "threshold": round(cut, 4),
            "strict_threshold": round(strict_cut, 4),
            "crisis_recall": round(sum(1 for s in pos_scores if s >= cut) / len(pos_scores), 4),
            "with_phrases": round((sum(by_phrase) + sum(1 for s in left if s >= cut)) / len(pos_scores), 4),
            "false_crisis": round(sum(1 for s in neg_scores if s >= cut) / len(neg_scores), 4),
            "curve": {
                str(t): [round(sum(1 for s in pos_scores if s >= t) / len(pos_scores), 3),
                         round(sum(1 for s in neg_scores if s >= t) / len(neg_scores), 3)]
                for t in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
            },
        },
    }
    return RiskModel(w, b, cut, strict_threshold=strict_cut), stats


def ordinary_questions(phrasings: Iterable[str], keep: Callable[[str], bool] = lambda _: True) -> list[str]:
    """Knowledge and intent phrasings, and short pieces of them: examples of what is not a crisis.

    Without the pieces, nearly every short training message is a crisis ("kan ik mere"), and
    the model learns that shortness itself is a risk: "én samlet plan" got the crisis reply.
    The last three words of each phrasing teach it otherwise. `keep` drops
    pieces the phrase lists would read as risk ("forsøgte selvmord" cut from a policy
    question), so a crisis phrase is never taught as harmless.
    """
    out = set(phrasings)
    for text in list(out):
        toks = text.split()
        if len(toks) < 4:
            continue
        candidate = " ".join(toks[-3:]).strip(" ?.,!")
        if candidate and keep(candidate):
            out.add(candidate)
    return sorted(out)
