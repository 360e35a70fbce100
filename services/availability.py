"""Days off: `/off 24/12 - 26/12 | family`, the list with a Remove button each, and the
lookups the crew picker, /assign, broadcasts and reminders make ("is this person off then?").

A day is the company's calendar day (TIMEZONE). An event spans the days from its call time
to its end, so a night that ends after midnight touches both days.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from models import AuditAction, DayOff, Event, Person
from services import audit
from services.clock import Clock
from services.dates import DateError, format_days, parse_day
from services.errors import CallsheetError, Conflict, InvalidInput, NotFound

log = logging.getLogger(__name__)

MAX_DAYS = 60  # one /off covers at most this many days
MAX_AHEAD = timedelta(days=2 * 366)  # how far ahead a day off may start
REASON_MAX = 200
OFF_FORMAT = "/off 24/12 - 26/12 | family (one day: /off 24/12 | family; the reason is optional)"


class AvailabilityError(CallsheetError):
    pass


class BadDaysOff(AvailabilityError, InvalidInput):
    pass


class DaysOffClash(AvailabilityError, Conflict):
    pass


class DayOffNotFound(AvailabilityError, NotFound):
    pass


def event_days(event: Event, tz: ZoneInfo) -> tuple[date, date]:
    """The company's days an event touches, from call time to its end."""
    first = min(event.call_at, event.starts_at).astimezone(tz).date()
    last = event.ends_at.astimezone(tz).date()
    return first, max(first, last)


def label(off: DayOff, today: date) -> str:
    """'🏖 off 24–26 Dec', as the picker and previews show it."""
    return f"🏖 off {format_days(off.first_day, off.last_day, today)}"


async def off_between(
    person_ids: Iterable[int],
    first: date,
    last: date,
    conn: BaseDBAsyncClient | None = None,
) -> dict[int, DayOff]:
    """Each of these people who is off on any day from `first` to `last`: their earliest such
    day off."""
    ids = sorted(set(person_ids))
    if not ids:
        return {}
    rows = (
        await DayOff.filter(person_id__in=ids, first_day__lte=last, last_day__gte=first)
        .using_db(conn)
        .order_by("first_day", "id")
    )
    found: dict[int, DayOff] = {}
    for row in rows:
        found.setdefault(row.person_id, row)  # type: ignore[attr-defined]
    return found


async def off_for_event(
    person_ids: Iterable[int], event: Event, tz: ZoneInfo, conn: BaseDBAsyncClient | None = None
) -> dict[int, DayOff]:
    first, last = event_days(event, tz)
    return await off_between(person_ids, first, last, conn)


class Availability:
    """/off: marking, listing and removing one's own days off (crew and managers alike)."""

    def __init__(self, clock: Clock, tz: ZoneInfo) -> None:
        self.clock = clock
        self.tz = tz

    def today(self) -> date:
        return self.clock.now().astimezone(self.tz).date()

    def parse(self, text: str) -> tuple[date, date, str]:
        """`24/12 - 26/12 | family` → the first and last day and the reason ("" if none)."""
        days_text, _, reason = text.partition("|")
        reason = " ".join(reason.split())
        if len(reason) > REASON_MAX:
            raise BadDaysOff(f"The reason is {len(reason)} characters; keep it under {REASON_MAX}.")
        today = self.today()
        parts = [p.strip() for p in days_text.replace("–", "-").split(" - ")]
        if len(parts) == 1 and parts[0].count("-") == 1 and "/" in parts[0]:
            parts = [p.strip() for p in parts[0].split("-")]  # "24/12-26/12"
        if len(parts) > 2 or not all(parts):
            raise BadDaysOff(f"I could not read the days “{days_text.strip()}”. Use {OFF_FORMAT}.")
        try:
            first = parse_day(parts[0], today=today)
            last = parse_day(parts[-1], today=today)
        except DateError as exc:
            raise BadDaysOff(f"{exc} Use {OFF_FORMAT}.") from exc
        if last < first:
            raise BadDaysOff(
                f"The last day ({format_days(last, last, today)}) is before the first "
                f"({format_days(first, first, today)}). Write the earlier day first."
            )
        if first < today:
            raise BadDaysOff(
                f"{format_days(first, last, today)} is in the past. Days off start today or later."
            )
        if first > today + MAX_AHEAD:
            raise BadDaysOff(
                f"{format_days(first, last, today)} is more than two years ahead. "
                "Mark it nearer the time."
            )
        if (last - first).days + 1 > MAX_DAYS:
            raise BadDaysOff(
                f"That is {(last - first).days + 1} days; one /off covers at most {MAX_DAYS}. "
                "Send it in parts."
            )
        return first, last, reason

    async def add(self, person: Person, text: str, *, chat_id: int | None) -> DayOff:
        first, last, reason = self.parse(text)
        now = self.clock.now()
        async with in_transaction() as conn:
            clash = await off_between([person.id], first, last, conn)
            if clash:
                other = clash[person.id]
                raise DaysOffClash(
                    f"You are already off {format_days(other.first_day, other.last_day, self.today())}"
                    ", which overlaps. Send /off to see or remove your days off."
                )
            off = await DayOff.create(
                person_id=person.id,
                first_day=first,
                last_day=last,
                reason=reason,
                created_at=now,
                using_db=conn,
            )
            await audit.record(
                AuditAction.DAY_OFF_ADDED,
                "day_off",
                off.id,
                at=now,
                actor=person,
                chat_id=chat_id,
                details={"first": first.isoformat(), "last": last.isoformat(), "reason": reason},
                using_db=conn,
            )
        log.info("person %s off %s to %s (#%s)", person.id, first, last, off.id)
        return off

    async def mine(self, person: Person) -> list[DayOff]:
        """Days off not yet over, soonest first."""
        return list(
            await DayOff.filter(person_id=person.id, last_day__gte=self.today()).order_by(
                "first_day", "id"
            )
        )

    async def remove(self, person: Person, day_off_id: int, *, chat_id: int | None) -> DayOff:
        now = self.clock.now()
        async with in_transaction() as conn:
            off = await DayOff.get_or_none(id=day_off_id, person_id=person.id, using_db=conn)
            if off is None:
                raise DayOffNotFound("That day off is not on your list any more. Send /off.")
            await DayOff.filter(id=off.id).using_db(conn).delete()
            await audit.record(
                AuditAction.DAY_OFF_REMOVED,
                "day_off",
                off.id,
                at=now,
                actor=person,
                chat_id=chat_id,
                details={"first": off.first_day.isoformat(), "last": off.last_day.isoformat()},
                using_db=conn,
            )
        return off

    def span(self, off: DayOff) -> str:
        return format_days(off.first_day, off.last_day, self.today())

    def days(self, off: DayOff) -> int:
        return (off.last_day - off.first_day + timedelta(days=1)).days
