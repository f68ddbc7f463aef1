"""Talking points without Telegram: content, rotation, the daily time across daylight saving,
catching up a missed send, the rate limiter on a fake clock, and every delivery error."""

from __future__ import annotations

from collections import Counter, deque
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.campaign import Campaign
from bot.delivery import (
    Blocked,
    ChatMigrated,
    Deliverer,
    RateLimiter,
    Rejected,
    RetryAfter,
    ServerError,
    TimedOut,
)
from bot.knowledge import MAX_TALKING_POINT, Knowledge
from bot.storage import Storage
from bot.talking_points import build_points, check_custom_text, next_daily_run, parse_time, plan

CPH = ZoneInfo("Europe/Copenhagen")


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


# -- content -----------------------------------------------------------------------------

def test_at_least_40_points_over_the_mærkesager_and_regional_recommendations(knowledge: Knowledge) -> None:
    points = build_points(knowledge)
    assert len(points) >= 40
    topics = Counter(knowledge.by_id[p.entry_id].topic for p in points.values() if p.entry_id)
    for topic in ("paaroerendevenlige-kommuner", "paaroerendevenlige-regioner", "sociale-akuttilbud",
                  "akuthjaelp-regioner", "gode-bosteder", "regionale-anbefalinger"):
        assert topics[topic] >= 4, topic


def test_every_point_is_short_sourced_and_linked_where_the_documents_link(knowledge: Knowledge) -> None:
    for point in build_points(knowledge).values():
        assert len(point.text) <= MAX_TALKING_POINT
        assert "Kilde: " in point.text
        entry = knowledge.by_id[point.entry_id or ""]
        if entry.links:
            assert entry.links[0].url in point.text


def test_custom_point_validation_in_danish() -> None:
    assert check_custom_text("for kort") is not None
    assert "højst" in (check_custom_text("x" * 500) or "")
    assert check_custom_text("Vi vil have en pårørendevejleder i alle kommuner, nu.") is None


# -- rotation ----------------------------------------------------------------------------

def test_no_point_repeats_until_all_of_the_theme_were_sent(knowledge: Knowledge) -> None:
    points = build_points(knowledge)
    queue = list(points)
    regional = [p for p in queue if points[p].theme == "regionale"]
    delivered: dict[int, set[str]] = {}
    got: list[str] = []
    for _ in range(len(regional) + 2):
        (row,) = plan([(1, "regionale", 0)], queue, delivered, points)
        chat, point, new_cycle = row
        if new_cycle:
            delivered[chat] = set()
        delivered.setdefault(chat, set()).add(point)
        got.append(point)
    assert sorted(got[: len(regional)]) == sorted(regional)  # every one once
    assert got[len(regional)] == regional[0]  # then a new round from the start


async def test_rotation_survives_a_restart(tmp_path: Path, knowledge: Knowledge) -> None:
    path = tmp_path / "bot.sqlite3"
    clock = Clock(datetime(2026, 3, 1, 8, 0, tzinfo=UTC))
    got = []
    for _ in range(4):  # each broadcast in a new "process"
        store = await Storage.open(path)
        campaign = Campaign(knowledge, store, clock, CPH)
        await store.subscribe(42, "maerkesager", clock())
        bid = await campaign.broadcast("manual")
        rows = await store.pending_outbox()
        got += [p for _, b, c, p in rows if b == bid and c == 42]
        for row_id, *_ in rows:
            await store.finish_outbox(row_id, "sent", clock())
        await store.close()
        clock.now += timedelta(days=1)
    assert len(got) == 4 and len(set(got)) == 4


# -- the daily time ----------------------------------------------------------------------

@pytest.mark.parametrize("day", ["2026-03-28", "2026-03-29", "2026-03-30", "2026-10-24", "2026-10-25", "2026-10-26"])
def test_nine_oclock_is_nine_oclock_on_both_sides_of_each_switch(day: str) -> None:
    start = datetime.fromisoformat(f"{day}T00:30").replace(tzinfo=CPH)
    fire = next_daily_run(start.astimezone(UTC), time(9, 0), CPH)
    local = fire.astimezone(CPH)
    assert (local.date().isoformat(), local.hour, local.minute) == (day, 9, 0)


def test_parse_time() -> None:
    assert parse_time("09:00") == time(9, 0) and parse_time("7.30") == time(7, 30)
    assert parse_time("25:00") is None and parse_time("ni") is None


async def test_missed_daily_send_goes_out_once_the_same_day_only(tmp_path: Path, knowledge: Knowledge) -> None:
    store = await Storage.open(tmp_path / "bot.sqlite3")
    clock = Clock(datetime(2026, 6, 10, 5, 0, tzinfo=UTC))  # 07:00 in Copenhagen
    campaign = Campaign(knowledge, store, clock, CPH)
    await store.subscribe(1, "alle", clock())
    assert not await campaign.missed_daily()  # 09:00 has not come yet
    clock.now = datetime(2026, 6, 10, 9, 0, tzinfo=UTC)  # 11:00: the bot was down at 09:00
    assert await campaign.missed_daily()
    assert await campaign.broadcast("daily") is not None
    assert not await campaign.missed_daily()
    assert await campaign.broadcast("daily") is None  # never twice a day
    await campaign.set_paused(True)
    clock.now += timedelta(days=1)
    assert not await campaign.missed_daily()  # paused: nothing to catch up
    await store.close()


# -- rate limiting on a fake clock -------------------------------------------------------

class FakeTime:
    def __init__(self) -> None:
        self.t = 1000.0

    def clock(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.t += max(seconds, 0.0)


async def test_never_more_than_25_a_second_or_one_a_second_per_chat() -> None:
    fake = FakeTime()
    limiter = RateLimiter(fake.clock, fake.sleep)
    stamps: list[tuple[float, int]] = []
    for i in range(200):
        chat = i % 120  # some chats twice
        await limiter.acquire(chat)
        stamps.append((fake.t, chat))
    window: deque[float] = deque()
    for t, _ in stamps:
        window.append(t)
        while window[0] <= t - 1.0:
            window.popleft()
        assert len(window) <= 25
    last: dict[int, float] = {}
    for t, chat in stamps:
        if chat in last:
            assert t - last[chat] >= 1.0
        last[chat] = t
    assert stamps[-1][0] - stamps[0][0] < 200 / 25 + 1  # and not slower than it must be


async def test_retry_after_pauses_everyone() -> None:
    fake = FakeTime()
    limiter = RateLimiter(fake.clock, fake.sleep)
    await limiter.acquire(1)
    limiter.pause(7)
    await limiter.acquire(2)
    assert fake.t >= 1007.0


# -- delivery errors -----------------------------------------------------------------------

async def _deliver_with(tmp_path: Path, knowledge: Knowledge, errors: dict[int, list[Exception]]):  # type: ignore[no-untyped-def]
    store = await Storage.open(tmp_path / "bot.sqlite3")
    clock = Clock(datetime(2026, 6, 10, 9, 0, tzinfo=UTC))
    for chat in (1, 2, 3, 4, 5, 6, 7):
        await store.subscribe(chat, "alle", clock())
    campaign = Campaign(knowledge, store, clock, CPH)
    bid = await campaign.broadcast("manual")
    sent: list[int] = []

    async def send(chat_id: int, point_id: str) -> None:
        queue = errors.get(chat_id, [])
        if queue:
            raise queue.pop(0)
        sent.append(chat_id)

    fake = FakeTime()
    deliverer = Deliverer(store, send, RateLimiter(fake.clock, fake.sleep), clock, fake.sleep, workers=2)
    report = await deliverer.run()
    states = await store.outbox_states(bid)  # type: ignore[arg-type]
    subscribers = {c for c in range(1, 10) if await store.subscriber(c)}
    await store.close()
    return report, states, sent, subscribers, fake


async def test_each_error_leaves_the_documented_state(tmp_path: Path, knowledge: Knowledge) -> None:
    report, states, sent, subscribers, fake = await _deliver_with(tmp_path, knowledge, {
        1: [Blocked("Forbidden: bot was blocked by the user")],
        2: [Blocked("Bad Request: chat not found")],
        3: [ChatMigrated(9)],
        4: [RetryAfter(30)],
        5: [ServerError("Internal Server Error"), ServerError("Bad Gateway")],
        6: [TimedOut()],
        7: [Rejected("Bad Request: message is too long")],
    })
    assert states[1] == "failed" and 1 not in subscribers  # blocked: unsubscribed, no retry
    assert states[2] == "failed" and 2 not in subscribers  # chat not found: likewise
    assert states[9] == "sent" and 9 in sent and 9 in subscribers and 3 not in subscribers  # migrated
    assert states[4] == "sent" and fake.t >= 1030  # waited the 30 s Telegram asked for
    assert states[5] == "sent"  # two server errors, then it went through
    assert states[6] == "uncertain" and 6 not in sent  # may have arrived: never again
    assert states[7] == "failed" and 7 in subscribers
    assert (report.sent, report.failed, report.uncertain) == (3, 3, 1)


async def test_server_errors_are_retried_a_bounded_number_of_times(tmp_path: Path, knowledge: Knowledge) -> None:
    _, states, sent, _, _ = await _deliver_with(tmp_path, knowledge, {5: [ServerError("x")] * 10})
    assert states[5] == "failed" and 5 not in sent


async def test_rows_left_sending_by_a_crash_become_uncertain_and_are_not_sent(tmp_path: Path, knowledge: Knowledge) -> None:
    store = await Storage.open(tmp_path / "bot.sqlite3")
    clock = Clock(datetime(2026, 6, 10, 9, 0, tzinfo=UTC))
    await store.subscribe(1, "alle", clock())
    await store.subscribe(2, "alle", clock())
    campaign = Campaign(knowledge, store, clock, CPH)
    bid = await campaign.broadcast("manual")
    first = (await store.pending_outbox())[0][0]
    assert await store.claim_outbox(first, clock())  # the process died right after this commit
    sent: list[int] = []

    async def send(chat_id: int, point_id: str) -> None:
        sent.append(chat_id)

    fake = FakeTime()
    deliverer = Deliverer(store, send, RateLimiter(fake.clock, fake.sleep), clock, fake.sleep)
    assert await deliverer.recover() == 1
    await deliverer.run()
    states = await store.outbox_states(bid)  # type: ignore[arg-type]
    assert sorted(states.values()) == ["sent", "uncertain"] and len(sent) == 1
    counts = (await store.recent_broadcasts())[0][4]
    assert counts == {"sent": 1, "uncertain": 1}
    await store.close()
