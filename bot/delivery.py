"""Durable, rate-limited delivery of broadcasts through the outbox. No telegram.

Every (broadcast, chat) is one outbox row: pending -> sending -> sent | failed | uncertain.
A row is marked `sending` and committed right before the message goes out (after waiting
for a send slot, so at most WORKERS rows are ever in flight); a process that dies mid-send
leaves it `sending`, and the next start marks it `uncertain` and never sends it again: a member should not get the same point twice (a repeated message annoys more than a
missing one). Coordinators see the uncertain count.

What the sender may raise (the Telegram layer maps python-telegram-bot's errors to these):
- Blocked: the member blocked the bot, left or deleted the chat, or the chat is not found:
  failed, and the subscription ends, no retry;
- ChatMigrated(new id): the group became a supergroup: follow it and send there;
- RetryAfter(seconds): Telegram asks us to wait: wait that long, then send again;
- TimedOut: the message may or may not have arrived: uncertain;
- ServerError: Telegram had trouble: retry with backoff, a bounded number of times;
- Rejected: anything else Telegram refuses: failed.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from bot.storage import Storage

log = logging.getLogger(__name__)

GLOBAL_RATE = 25  # messages per second, Telegram's broadcast limit
PER_CHAT_INTERVAL = 1.0  # seconds between two messages to the same chat
SERVER_RETRIES = 3
BACKOFF = (1.0, 2.0, 4.0)
WORKERS = 8


class SendError(Exception):
    pass


class Blocked(SendError):
    pass


class ChatMigrated(SendError):
    def __init__(self, new_chat_id: int):
        super().__init__(f"migrated to {new_chat_id}")
        self.new_chat_id = new_chat_id


class RetryAfter(SendError):
    def __init__(self, seconds: float):
        super().__init__(f"retry after {seconds}")
        self.seconds = seconds


class TimedOut(SendError):
    pass


class ServerError(SendError):
    pass


class Rejected(SendError):
    pass


Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


@dataclass
class RateLimiter:
    """At most `rate` sends in any one-second window, and one per chat per `per_chat` s.

    The clock and sleep are injected, so tests run it on a fake clock.
    """

    clock: Clock
    sleep: Sleep
    rate: int = GLOBAL_RATE
    per_chat: float = PER_CHAT_INTERVAL
    _sent: deque[float] = field(default_factory=deque)
    _last: dict[int, float] = field(default_factory=dict)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _paused_until: float = 0.0

    def pause(self, seconds: float) -> None:
        """Telegram said RetryAfter: nobody sends until it has passed."""
        self._paused_until = max(self._paused_until, self.clock() + seconds)

    async def acquire(self, chat_id: int) -> None:
        async with self._lock:
            while True:
                now = self.clock()
                while self._sent and self._sent[0] <= now - 1.0:
                    self._sent.popleft()
                wait = self._paused_until - now
                if len(self._sent) >= self.rate:
                    wait = self._sent[0] + 1.0 - now
                last = self._last.get(chat_id)
                if last is not None and now - last < self.per_chat:
                    wait = max(wait, last + self.per_chat - now)
                if wait <= 0:
                    self._sent.append(now)
                    self._last[chat_id] = now
                    return
                await self.sleep(wait)


Sender = Callable[[int, str], Awaitable[None]]  # (chat id, point id) -> sends or raises


@dataclass
class Report:
    sent: int = 0
    failed: int = 0
    uncertain: int = 0
    unsubscribed: list[int] = field(default_factory=list)


class Deliverer:
    def __init__(self, storage: Storage, send: Sender, limiter: RateLimiter,
                 now: Callable[[], datetime], sleep: Sleep, workers: int = WORKERS):
        self.storage = storage
        self.send = send
        self.limiter = limiter
        self.now = now
        self.sleep = sleep
        self.workers = workers

    async def recover(self) -> int:
        n = await self.storage.recover_outbox(self.now())
        if n:
            log.warning("%d outbox rows were being sent when the bot stopped: marked uncertain", n)
        return n

    async def run(self) -> Report:
        """Send every pending row; return what happened."""
        report = Report()
        while True:
            rows = await self.storage.pending_outbox(limit=self.workers * 50)
            if not rows:
                return report
            queue: asyncio.Queue[tuple[int, int, int, str]] = asyncio.Queue()
            for row in rows:
                queue.put_nowait(row)
            await asyncio.gather(*(self._worker(queue, report) for _ in range(self.workers)))

    async def _worker(self, queue: asyncio.Queue[tuple[int, int, int, str]], report: Report) -> None:
        while not queue.empty():
            row_id, _broadcast, chat_id, point_id = queue.get_nowait()
            # Wait for a send slot first and claim the row only then: a crash can only leave
            # rows 'sending' (uncertain) whose request was really on its way.
            await self.limiter.acquire(chat_id)
            if not await self.storage.claim_outbox(row_id, self.now()):
                continue  # someone else has it
            await self._deliver(row_id, chat_id, point_id, report)

    async def _deliver(self, row_id: int, chat_id: int, point_id: str, report: Report) -> None:
        server_errors = 0
        first = True
        while True:
            if not first:
                await self.limiter.acquire(chat_id)
            first = False
            try:
                await self.send(chat_id, point_id)
            except RetryAfter as exc:
                self.limiter.pause(exc.seconds)  # waits every worker, then this row again
                continue
            except ChatMigrated as exc:
                await self.storage.migrate_chat(row_id, chat_id, exc.new_chat_id)
                chat_id = exc.new_chat_id
                continue
            except Blocked as exc:
                await self.storage.finish_outbox(row_id, "failed", self.now(), f"blocked: {exc}"[:200])
                await self.storage.unsubscribe(chat_id)
                report.failed += 1
                report.unsubscribed.append(chat_id)
                return
            except TimedOut:
                await self.storage.finish_outbox(row_id, "uncertain", self.now(), "timed out")
                report.uncertain += 1
                return
            except ServerError as exc:
                if server_errors < SERVER_RETRIES:
                    await self.sleep(BACKOFF[min(server_errors, len(BACKOFF) - 1)])
                    server_errors += 1
                    continue
                await self.storage.finish_outbox(row_id, "failed", self.now(), f"server error: {exc}"[:200])
                report.failed += 1
                return
            except Rejected as exc:
                await self.storage.finish_outbox(row_id, "failed", self.now(), str(exc)[:200])
                report.failed += 1
                return
            await self.storage.finish_outbox(row_id, "sent", self.now())
            report.sent += 1
            return
