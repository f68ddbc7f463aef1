"""Broadcast benchmark: `python -m bot deliver` against the fake Bot API on 127.0.0.1.

    .venv/bin/python tests/bench/bench_broadcast.py [--subscribers 10000] [--slow 1000]

1. 10,000 subscribers with the limit raised to 1,000/s: messages per second achieved.
2. With Telegram's real limit (25/s), fewer subscribers (the run takes subscribers/25 s):
   the measured rate, and the most messages seen in any one-second window.
The fake server runs in this process and timestamps every request; the bot is a separate
process, as in production.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import time
import tempfile
from collections import deque
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bot.knowledge import load_knowledge  # noqa: E402
from tests.fakes import FakeBotApiServer, FakeTelegram, bot_env, planned_broadcast  # noqa: E402


async def run(subscribers: int, rate: int) -> None:
    knowledge = load_knowledge()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.sqlite3"
        await planned_broadcast(db, knowledge, subscribers, first_chat=1_000_000)
        fake = FakeTelegram()
        server = FakeBotApiServer(fake)
        await server.start()
        env = bot_env(server, db, BOT_BROADCAST_RATE=str(rate))
        cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        own_before = time.process_time()
        start = asyncio.get_running_loop().time()
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "deliver", cwd=ROOT, env=env)
        code = await proc.wait()
        wall = asyncio.get_running_loop().time() - start
        cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        bot_cpu = (cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime)
        server_cpu = time.process_time() - own_before
        await server.stop()
    stamps = sorted(c.at for c in fake.calls if c.method == "sendMessage")
    span = stamps[-1] - stamps[0] if len(stamps) > 1 else 0.0
    window: deque[float] = deque()
    peak = 0
    for t in stamps:
        window.append(t)
        while window[0] <= t - 1.0:
            window.popleft()
        peak = max(peak, len(window))
    print(f"limit {rate}/s, {subscribers} subscribers: exit {code}, {len(stamps)} messages in "
          f"{span:.1f} s = {len(stamps) / span if span else 0:.1f} messages/s "
          f"(process wall {wall:.1f} s incl. start); most in any 1 s window: {peak}; "
          f"CPU: bot {bot_cpu:.1f} s, fake server {server_cpu:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--slow", type=int, default=1_000, help="subscribers for the 25/s run")
    args = parser.parse_args()
    asyncio.run(run(args.subscribers, 1000))
    asyncio.run(run(args.slow, 25))


if __name__ == "__main__":
    main()
