"""Load: questions from many members through the fake Bot API against the running bot.

    .venv/bin/python tests/bench/bench_load.py [--members 200] [--questions 10]

`python -m bot run` runs as its own process with long polling against the fake Bot API on
127.0.0.1. Every member sends their questions; the benchmark checks that every question got
exactly one reply (none lost, none twice) and reports the reply latency (update queued at the
fake API -> sendMessage received) and the throughput.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bot.evaluate import DEFAULT_EVAL, load_cases  # noqa: E402
from tests.fakes import FakeBotApiServer, FakeTelegram, bot_env  # noqa: E402


async def run(members: int, per_member: int, rate: float, seed: int = 1) -> dict[str, float]:
    rng = random.Random(seed)
    questions = [c.q for c in load_cases(DEFAULT_EVAL) if c.group in ("entry", "fallback", "policy-suicide")]
    fake = FakeTelegram()
    server = FakeBotApiServer(fake)
    await server.start()
    with tempfile.TemporaryDirectory() as tmp:
        env = bot_env(server, Path(tmp) / "bot.sqlite3")
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "run", cwd=ROOT, env=env,
                                                    stdout=asyncio.subprocess.DEVNULL,
                                                    stderr=asyncio.subprocess.DEVNULL)
        while not any(c.method == "getUpdates" for c in fake.calls):
            await asyncio.sleep(0.05)
        asked: dict[int, list[float]] = defaultdict(list)
        total = members * per_member
        start = time.monotonic()
        # members write at random moments, `rate` questions a second on average
        schedule = sorted((rng.uniform(0, total / rate), m) for m in range(members) for _ in range(per_member))
        for at, member in schedule:
            delay = start + at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            chat = 2_000_000 + member
            asked[chat].append(time.monotonic())
            fake.message_update(rng.choice(questions), user_id=chat)

        def replies() -> int:
            return sum(1 for c in fake.calls if c.method == "sendMessage" and int(c.params["chat_id"]) >= 2_000_000)

        deadline = time.monotonic() + 120
        while replies() < total and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)  # anything extra would show up now
        proc.send_signal(signal.SIGINT)
        await proc.wait()
    await server.stop()
    sent: dict[int, list[float]] = defaultdict(list)
    for c in fake.calls:
        if c.method == "sendMessage" and int(c.params["chat_id"]) >= 2_000_000:
            sent[int(c.params["chat_id"])].append(c.at)
    per_chat = Counter({chat: len(v) for chat, v in sent.items()})
    lost = sum(max(0, len(asked[c]) - per_chat[c]) for c in asked)
    extra = sum(max(0, per_chat[c] - len(asked[c])) for c in per_chat)
    latencies = [s - a for c in asked for a, s in zip(asked[c], sorted(sent[c]), strict=False)]
    latencies.sort()
    span = max(t for v in sent.values() for t in v) - start
    return {
        "questions": total, "lost": lost, "extra": extra,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(0.99 * (len(latencies) - 1))] * 1000,
        "per_second": total / span,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--questions", type=int, default=10)
    parser.add_argument("--rates", default="50,400", help="questions per second arriving, one run each")
    args = parser.parse_args()
    for rate in (float(x) for x in args.rates.split(",")):
        r = asyncio.run(run(args.members, args.questions, rate))
        print(f"arriving at {rate:.0f}/s: "
              f"{r['questions']} questions from {args.members} members: lost {r['lost']}, answered twice "
          f"{r['extra']}; reply latency p50 {r['p50_ms']:.0f} ms, p99 {r['p99_ms']:.0f} ms; "
              f"{r['per_second']:.0f} questions/s")


if __name__ == "__main__":
    main()
