"""Durable, rate-limited delivery of broadcasts through the outbox. No telegram.

Every (broadcast, chat) is one outbox row: pending -> sending -> sent | failed | uncertain.
A row is marked `sending` and committed before the message goes out (in small batches, see
Deliverer.run); a process that dies mid-send leaves it `sending`, and the next start marks
it `uncertain` and never sends it again: a member should not get the same point twice (a repeated message annoys more than a
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
SPACING = 1.03  # sends are this much further apart than the rate allows (jitter margin)
SERVER_RETRIES = 3
BACKOFF = (1.0, 2.0, 4.0)
WORKERS = 8  # requests in flight at once
MAX_BATCH = 50  # rows claimed in one transaction: 1/25 s of sending, at most this many


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

    Sends are spread evenly, 3 % further apart than the rate allows, so that network jitter
    cannot crowd more than `rate` of them into one second where Telegram counts them. The
    clock and sleep are injected, so tests run it on a fake clock.
    """

    clock: Clock
    sleep: Sleep
    rate: int = GLOBAL_RATE
    per_chat: float = PER_CHAT_INTERVAL
    _sent: deque[float] = field(default_factory=deque)
    _last: dict[int, float] = field(default_factory=dict)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _paused_until: float = 0.0
    _next_slot: float = 0.0

    def pause(self, seconds: float) -> None:
        """Telegram said RetryAfter: nobody sends until it has passed."""
        self._paused_until = max(self._paused_until, self.clock() + seconds)

    async def acquire(self, chat_id: int) -> None:
        interval = SPACING / self.rate
        async with self._lock:
            while True:
                now = self.clock()
                while self._sent and self._sent[0] <= now - 1.0:
                    self._sent.popleft()
                wait = max(self._paused_until - now, self._next_slot - now)
                if len(self._sent) >= self.rate:
                    wait = max(wait, self._sent[0] + 1.0 - now)
                last = self._last.get(chat_id)
                if last is not None and now - last < self.per_chat:
                    wait = max(wait, last + self.per_chat - now)
                if wait <= 0:
                    self._sent.append(now)
                    self._last[chat_id] = now
                    # Keep the cadence when a sleep overshot a little (else every overshoot
                    # adds up), but never let two sends come closer than half an interval.
                    self._next_slot = max(self._next_slot + interval, now + interval / 2)
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
        """Send every pending row; return what happened.

        Rows go in batches: a batch is claimed ('sending') in one transaction before it is
        sent, and its outcomes are stored in one transaction after; the next batch is
        claimed while the current one goes out. A crash can leave at most two batches
        uncertain; a batch holds 1/25 s of sending (one row at Telegram's 25/s), larger
        only when the rate is raised, where the database would otherwise be the bottleneck.
        """
        report = Report()
        batch = max(1, min(MAX_BATCH, self.limiter.rate // 25))
        in_flight = asyncio.Semaphore(self.workers)

        async def one(row_id: int, chat_id: int, point_id: str) -> tuple[int, str, str | None]:
            async with in_flight:
                return await self._deliver(row_id, chat_id, point_id, report)

        async def claim() -> list[tuple[int, int, int, str]]:
            rows = await self.storage.pending_outbox(limit=batch)
            claimed = set(await self.storage.claim_outbox_batch([r[0] for r in rows], self.now())) if rows else set()
            return [r for r in rows if r[0] in claimed]

        current = await claim()
        while current:
            sending = asyncio.gather(*(one(row_id, chat_id, point_id)
                                       for row_id, _b, chat_id, point_id in current))
            # Claim the next batch while this one goes out, so no send slot is lost to the
            # database between batches.
            upcoming = await claim()
            await self.storage.finish_outbox_batch(await sending, self.now())
            current = upcoming
        return report

    async def _deliver(self, row_id: int, chat_id: int, point_id: str, report: Report) -> tuple[int, str, str | None]:
        """Send one claimed row; its final (row id, state, error)."""
        server_errors = 0
        while True:
            await self.limiter.acquire(chat_id)
            try:
                await self.send(chat_id, point_id)
            except RetryAfter as exc:
                self.limiter.pause(exc.seconds)  # waits every send, then this row again
                continue
            except ChatMigrated as exc:
                await self.storage.migrate_chat(row_id, chat_id, exc.new_chat_id)
                chat_id = exc.new_chat_id
                continue
            except Blocked as exc:
                await self.storage.unsubscribe(chat_id)
                report.failed += 1
                report.unsubscribed.append(chat_id)
                return row_id, "failed", f"blocked: {exc}"[:200]
            except TimedOut:
                report.uncertain += 1
                return row_id, "uncertain", "timed out"
            except ServerError as exc:
                if server_errors < SERVER_RETRIES:
                    await self.sleep(BACKOFF[min(server_errors, len(BACKOFF) - 1)])
                    server_errors += 1
                    continue
                report.failed += 1
                return row_id, "failed", f"server error: {exc}"[:200]
            except Rejected as exc:
                report.failed += 1
                return row_id, "failed", str(exc)[:200]
            report.sent += 1
            return row_id, "sent", None
