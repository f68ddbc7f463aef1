"""Benchmarks of the answer engine. Prints numbers; asserts nothing.

    .venv/bin/python tests/bench/bench_engine.py            # everything
    .venv/bin/python tests/bench/bench_engine.py --quick    # fewer repetitions

Measures:
- cold start: `python -m bot ask --json Q` from process start to the printed answer, with the
  engine cache (bot/cache.py) current and without it;
- `python -m bot ask --json -` over every question of the eval set, wall time;
- in-process latency per question (p50/p99) at the shipped size;
- a scale run: the same matcher over a generated 10,000-entry knowledge base (build time,
  memory, p50/p99 per question), and the engine's search with an entry model of the shape
  10,000 entries would need (random weights: training one is not part of the run).
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bot import entry_model as em  # noqa: E402
from bot.engine import Engine  # noqa: E402
from bot.evaluate import DEFAULT_EVAL, load_cases  # noqa: E402
from bot.knowledge import load_knowledge  # noqa: E402
from bot.matcher import Item, Matcher  # noqa: E402
from bot.text import words  # noqa: E402


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(p * len(values)))]


def _env(cache: bool) -> dict[str, str]:
    env = dict(os.environ)
    if cache:
        env.pop("BOT_CACHE_DIR", None)
    else:
        env["BOT_CACHE_DIR"] = "off"
    return env


def cold_start(runs: int, cache: bool) -> None:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "bot", "ask", "--json", "hvad er oslo standarden"],
                       cwd=ROOT, check=True, capture_output=True, env=_env(cache))
        times.append(time.perf_counter() - start)
    how = "engine from the cache" if cache else "no cache: load, validate and build"
    print(f"cold start (process start to first answer), {how}: median {statistics.median(times):.3f} s "
          f"over {runs} runs (min {min(times):.3f}, max {max(times):.3f})")


def ask_stdin(questions: list[str], runs: int, cache: bool = True) -> None:
    data = "\n".join(questions) + "\n"
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "bot", "ask", "--json", "-"], cwd=ROOT,
                             input=data, text=True, check=True, capture_output=True, env=_env(cache)).stdout
        times.append(time.perf_counter() - start)
        assert len(out.splitlines()) == len(questions)
    print(f"`ask --json -` over {len(questions)} questions{'' if cache else ' (no cache)'}: "
          f"median wall {statistics.median(times):.3f} s over {runs} runs")


def in_process(engine: Engine, questions: list[str], rounds: int) -> None:
    lat = []
    for _ in range(rounds):
        for q in questions:
            start = time.perf_counter()
            engine.reply(q)
            lat.append(time.perf_counter() - start)
    print(f"in-process per question, {len(engine.knowledge.entries)} entries: "
          f"p50 {pct(lat, 0.5) * 1000:.2f} ms, p99 {pct(lat, 0.99) * 1000:.2f} ms, "
          f"max {max(lat) * 1000:.2f} ms ({len(lat)} replies)")


def scale(engine: Engine, questions: list[str], size: int) -> None:
    """A generated knowledge base of `size` entries built from the real vocabulary."""
    rng = random.Random(7)
    vocab = sorted({w for e in engine.knowledge.entries for w in words(e.answer) if len(w) > 3})
    real = [i for i in engine.matcher.items]
    items = list(real)
    while len(items) < size:
        n = len(items)
        title = " ".join(rng.sample(vocab, 3))
        items.append(Item(
            key=f"gen-{n}",
            title=title,
            phrasings=tuple(" ".join(rng.sample(vocab, rng.randint(3, 8))) for _ in range(8)),
            keywords=tuple(rng.sample(vocab, 4)),
            body=" ".join(rng.sample(vocab, 60)),
        ))
    tracemalloc.start()
    start = time.perf_counter()
    matcher = Matcher(items)
    build = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    lat = []
    for q in questions:
        t0 = time.perf_counter()
        matcher.rank(q, limit=8)
        lat.append(time.perf_counter() - t0)
    print(f"scale: {len(items)} entries: build {build:.1f} s, peak traced memory {peak / 2**20:.0f} MiB, "
          f"per question p50 {pct(lat, 0.5) * 1000:.2f} ms, p99 {pct(lat, 0.99) * 1000:.2f} ms")

    # The entry model at that size: one weight per (feature, class), float16 as shipped.
    shipped = engine.entry_model
    classes = [it.key for it in items] + [em.NONE]
    rng_np = np.random.default_rng(7)
    weights = (rng_np.standard_normal((len(shipped.vocabulary), len(classes))) * 0.1).astype(np.float16)
    model = em.EntryModel(classes, shipped.vocabulary, weights, np.zeros(len(classes), dtype=np.float32))
    sized = object.__new__(Engine)  # only what Engine.search uses
    sized.matcher, sized.entry_model = matcher, model
    lat = []
    for q in questions:
        t0 = time.perf_counter()
        Engine.search(sized, q)
        lat.append(time.perf_counter() - t0)
    print(f"scale with the entry model ({weights.nbytes / 2**20:.0f} MiB of weights): "
          f"per question p50 {pct(lat, 0.5) * 1000:.2f} ms, p99 {pct(lat, 0.99) * 1000:.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--no-scale", action="store_true", help="skip the 10,000-entry run")
    args = parser.parse_args()
    runs = 3 if args.quick else 7
    questions = [c.q for c in load_cases(DEFAULT_EVAL)]
    engine = Engine(load_knowledge())
    cold_start(1, cache=True)  # fills the cache if it is not current
    cold_start(runs, cache=True)
    cold_start(runs, cache=False)
    ask_stdin(questions[:200], runs)
    ask_stdin(questions[:200], 3, cache=False)
    ask_stdin(questions, 3)
    in_process(engine, questions, 1 if args.quick else 5)
    if not args.no_scale:
        scale(engine, questions, args.size)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"benchmark process max RSS {rss:.0f} MiB")


if __name__ == "__main__":
    main()
