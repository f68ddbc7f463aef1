"""The campaign: points, queue, subscribers' rotation and broadcasts over storage. No telegram."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time
from zoneinfo import ZoneInfo

from bot.knowledge import Knowledge
from bot.storage import Storage
from bot.talking_points import (
    Point,
    build_points,
    head_of_queue,
    local_day,
    missed_today,
    next_daily_run,
    parse_time,
    plan,
    skip,
    synced_queue,
)

DEFAULT_TIME = time(9, 0)


class Campaign:
    def __init__(self, knowledge: Knowledge, storage: Storage, clock: Callable[[], datetime], tz: ZoneInfo):
        self.knowledge = knowledge
        self.storage = storage
        self.clock = clock
        self.tz = tz

    async def points(self) -> dict[str, Point]:
        return build_points(self.knowledge, await self.storage.custom_points())

    async def queue(self, points: dict[str, Point] | None = None) -> list[str]:
        points = points if points is not None else await self.points()
        stored = await self.storage.point_queue()
        queue = synced_queue(stored, points)
        if queue != stored:
            await self.storage.set_point_queue(queue)
        return queue

    async def next_point(self) -> Point | None:
        return head_of_queue(await self.queue(), await self.points())

    async def skip(self) -> Point | None:
        queue = await self.queue()
        await self.storage.set_point_queue(skip(queue))
        return await self.next_point()

    async def broadcast(self, kind: str) -> int | None:
        """Plan and store a broadcast; None when today's daily one exists already."""
        now = self.clock()
        points = await self.points()
        queue = await self.queue(points)
        subscribers, delivered = await self.storage.plan_inputs()
        rows = plan(subscribers, queue, delivered, points)
        day = local_day(now, self.tz) if kind == "daily" else None
        broadcast_id = await self.storage.create_broadcast(kind=kind, day=day, at=now, rows=rows)
        if broadcast_id is not None:
            # The campaign moves on: the point at the head goes last, so /dagens shows the
            # next one and a new subscriber joins where the campaign is.
            head = head_of_queue(queue, points)
            if head is not None and any(p == head.id for _, p, _ in rows):
                await self.storage.set_point_queue(skip(queue))
        return broadcast_id

    # -- the daily send --------------------------------------------------------------------

    async def daily_time(self) -> time:
        stored = await self.storage.get_meta("daily_time")
        return (parse_time(stored) if stored else None) or DEFAULT_TIME

    async def set_daily_time(self, at: time) -> None:
        await self.storage.set_meta("daily_time", at.strftime("%H:%M"))

    async def paused(self) -> bool:
        return await self.storage.get_meta("paused") == "1"

    async def set_paused(self, paused: bool) -> None:
        await self.storage.set_meta("paused", "1" if paused else "0")

    async def next_run(self) -> datetime:
        return next_daily_run(self.clock(), await self.daily_time(), self.tz)

    async def missed_daily(self) -> bool:
        """Started after today's send time without today's send: send it once now."""
        now = self.clock()
        if await self.paused() or not missed_today(now, await self.daily_time(), self.tz):
            return False
        return not await self.storage.daily_broadcast_exists(local_day(now, self.tz))
