"""The board's week: each event starting in it, its crew by answer, and what is missing.

Counted by the database in three queries whatever the size of the crew: the week's events,
their assignments grouped by (event, role, status), and their needs per role."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from tortoise.functions import Count

from models import Assignment, AssignmentStatus, Event, EventNeed, EventStatus, Person
from services.errors import require_manager

WORKING = (AssignmentStatus.CONFIRMED, AssignmentStatus.COMPLETED)
WEEKS_AWAY = 52  # how far the board's ‹ › go either way


@dataclass(frozen=True)
class Gap:
    """Crew still missing: `count` more, of `role` (None: any role, the event's crew target)."""

    count: int
    role: str | None = None


@dataclass
class WeekEvent:
    event: Event
    confirmed: int = 0
    invited: int = 0
    declined: int = 0
    gaps: list[Gap] = field(default_factory=list)

    @property
    def missing(self) -> int:
        return sum(g.count for g in self.gaps)


@dataclass(frozen=True)
class Week:
    offset: int  # 0 this week, 1 next, -1 last
    starts: datetime  # Monday 00:00 in the company's timezone
    ends: datetime  # the Monday after
    events: list[WeekEvent]

    @property
    def missing(self) -> int:
        return sum(e.missing for e in self.events if e.event.status is EventStatus.SCHEDULED)

    @property
    def last_day(self) -> datetime:
        return self.ends - timedelta(days=1)


def week_bounds(now: datetime, tz: ZoneInfo, offset: int = 0) -> tuple[datetime, datetime]:
    local = now.astimezone(tz)
    monday = (local - timedelta(days=local.weekday())).date() + timedelta(weeks=offset)
    starts = datetime(monday.year, monday.month, monday.day, tzinfo=tz)
    following = monday + timedelta(weeks=1)
    return starts, datetime(following.year, following.month, following.day, tzinfo=tz)


def parse_offset(text: str | None) -> int:
    """The board's `?week=` value; anything else is this week."""
    value = (text or "").strip()
    # ASCII digits only: "--5" or "²" pass str.isdigit() but not int().
    if not re.fullmatch(r"-?[0-9]{1,3}", value):
        return 0
    return max(-WEEKS_AWAY, min(WEEKS_AWAY, int(value)))


async def week(actor: Person, now: datetime, tz: ZoneInfo, offset: int = 0) -> Week:
    """Events starting in the week (Monday to Sunday, company timezone), soonest first;
    cancelled ones stay listed, without gaps."""
    require_manager(actor, "see the board")
    starts, ends = week_bounds(now, tz, offset)
    events = await Event.filter(starts_at__gte=starts, starts_at__lt=ends).order_by(
        "starts_at", "id"
    )
    rows = {e.id: WeekEvent(e) for e in events}
    if not rows:
        return Week(offset, starts, ends, [])
    ids = list(rows)
    filled: dict[int, Counter[str]] = defaultdict(Counter)
    for row in (
        await Assignment.filter(event_id__in=ids)
        .annotate(n=Count("id"))
        .group_by("event_id", "role", "status")
        .values("event_id", "role", "status", "n")
    ):
        shown = rows[row["event_id"]]
        status = AssignmentStatus(row["status"])
        if status in WORKING:
            shown.confirmed += row["n"]
            filled[shown.event.id][row["role"]] += row["n"]
        elif status is AssignmentStatus.INVITED:
            shown.invited += row["n"]
        elif status is AssignmentStatus.DECLINED:
            shown.declined += row["n"]
    needs: dict[int, list[EventNeed]] = defaultdict(list)
    for need in await EventNeed.filter(event_id__in=ids).order_by("id"):
        needs[need.event_id].append(need)  # type: ignore[attr-defined]
    for shown in rows.values():
        event = shown.event
        if event.status is EventStatus.CANCELLED:
            continue
        per_role = needs.get(event.id, [])
        if per_role:
            shown.gaps = [
                Gap(n.count - filled[event.id][n.role], n.role)
                for n in per_role
                if n.count > filled[event.id][n.role]
            ]
        elif event.crew_target and event.crew_target > shown.confirmed:
            shown.gaps = [Gap(event.crew_target - shown.confirmed)]
    return Week(offset, starts, ends, list(rows.values()))
