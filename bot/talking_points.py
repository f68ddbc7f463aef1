"""Daily talking points: the points, who gets which, and when the daily send is. No telegram.

- Points are the `talking_points:` of the knowledge base plus the coordinators' own.
- A subscriber picks a theme: the five mærkesager, the regional recommendations, or all.
  Coordinators' own points go to everyone.
- Rotation: every subscriber gets, each time, the first point in the campaign queue that
  fits their theme and that they have not had in their current round through the points;
  when they have had them all, a new round starts. What each got is stored, so a restart
  never resets it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.knowledge import MAX_TALKING_POINT, Knowledge, render_talking_point

SUBSCRIBER_THEMES = {
    "maerkesager": "De fem mærkesager",
    "regionale": "Anbefalingerne til regionerne",
    "alle": "Alle budskaber",
}
CUSTOM = "egne"  # the theme of coordinators' own points: every subscriber gets them
MAX_CUSTOM_TEXT = 450
SOURCE_NOTE = "Kilde: Bedre Psykiatris kampagnekoordinatorer"
_TIME = re.compile(r"^([01]?\d|2[0-3])[:.]([0-5]\d)$")


@dataclass(frozen=True)
class Point:
    id: str
    theme: str  # maerkesager | regionale | national | egne
    text: str  # the message as members see it, plain text
    entry_id: str | None  # "Fortæl mig mere" opens this entry


def build_points(knowledge: Knowledge, custom: Iterable[tuple[str, str]] = ()) -> dict[str, Point]:
    groups = {t.id: t.group for t in knowledge.topics.values()}
    theme_of = {"maerkesag": "maerkesager", "regional": "regionale", "national": "national"}
    points: dict[str, Point] = {}
    for entry in knowledge.entries:
        doc = knowledge.sources[entry.source.doc]
        for tp in entry.talking_points:
            points[tp.id] = Point(tp.id, theme_of[groups[entry.topic]],
                                  render_talking_point(tp, entry, doc), entry.id)
    for point_id, text in custom:
        points[point_id] = Point(point_id, CUSTOM, f"{text.strip()}\n\n{SOURCE_NOTE}", None)
    return points


def wants(subscriber_theme: str, point: Point) -> bool:
    if subscriber_theme == "alle" or point.theme == CUSTOM:
        return True
    return point.theme == subscriber_theme


def synced_queue(queue: Sequence[str], points: dict[str, Point]) -> list[str]:
    """The stored queue with points that no longer exist dropped and new ones added last."""
    kept = [p for p in queue if p in points]
    return kept + [p for p in points if p not in set(kept)]


def plan(subscribers: Iterable[tuple[int, str, int]], queue: Sequence[str],
         delivered: dict[int, set[str]], points: dict[str, Point]) -> list[tuple[int, str, bool]]:
    """(chat, point, starts a new round) for every subscriber who has a point to get."""
    rows = []
    for chat_id, theme, _cycle in subscribers:
        mine = [p for p in queue if p in points and wants(theme, points[p])]
        if not mine:
            continue
        had = delivered.get(chat_id, set())
        fresh = next((p for p in mine if p not in had), None)
        if fresh is not None:
            rows.append((chat_id, fresh, False))
        else:
            rows.append((chat_id, mine[0], True))  # all had: a new round starts
    return rows


def head_of_queue(queue: Sequence[str], points: dict[str, Point]) -> Point | None:
    """The point a subscriber to everything who is up to date gets next."""
    return next((points[p] for p in queue if p in points), None)


def skip(queue: Sequence[str]) -> list[str]:
    """/spring: the first point goes last."""
    return [*queue[1:], queue[0]] if queue else []


def check_custom_text(text: str) -> str | None:
    """Why a coordinator's point cannot be used (Danish), or None."""
    text = text.strip()
    if len(text) < 20:
        return "Budskabet er for kort. Skriv mindst 20 tegn."
    if len(text) > MAX_CUSTOM_TEXT:
        return f"Budskabet er {len(text)} tegn; højst {MAX_CUSTOM_TEXT}, så det kan deles."
    if len(f"{text}\n\n{SOURCE_NOTE}") > MAX_TALKING_POINT:
        return f"Budskabet bliver for langt med kildeangivelsen; højst {MAX_TALKING_POINT} tegn i alt."
    return None


# -- the daily time --------------------------------------------------------------------------

def parse_time(text: str) -> time | None:
    m = _TIME.match(text.strip())
    return time(int(m.group(1)), int(m.group(2))) if m else None


def next_daily_run(now: datetime, at: time, tz: ZoneInfo) -> datetime:
    """The next moment the clock on the wall in `tz` shows `at`, as UTC.

    Computed on the local calendar, so 09:00 stays 09:00 across daylight-saving changes
    (a time that does not exist on a spring-forward day moves on by the gap).
    """
    local_now = now.astimezone(tz)
    day = local_now.date()
    for offset in range(3):
        candidate = _wall(day + timedelta(days=offset), at, tz)
        if candidate > now:
            return candidate
    raise AssertionError("unreachable")


def _wall(day: date, at: time, tz: ZoneInfo) -> datetime:
    local = datetime.combine(day, at, tzinfo=tz)
    # A non-existent local time (spring forward) round-trips to a later one; fold=0 is
    # the first of two on the autumn day.
    return local.astimezone(UTC).astimezone(tz).astimezone(UTC)


def local_day(now: datetime, tz: ZoneInfo) -> str:
    return now.astimezone(tz).date().isoformat()


def missed_today(now: datetime, at: time, tz: ZoneInfo) -> bool:
    """Is today's send time already past (so a bot started now has missed it)?"""
    return now >= _wall(now.astimezone(tz).date(), at, tz)



