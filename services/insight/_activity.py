"""/activity: who did what and when across the company, newest first, a page at a time.

The source is the audit log, which every change writes in its own transaction: answers,
payments and payouts, pay sheets, people, events. `/activity` alone shows everything,
`/activity today` the company's day, `/activity Jane` what Jane did and what was done about
her (her answers, payments, payouts), `/activity EV12` (or `event 12`) everything about an
event.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from tortoise.expressions import Q

from models import (
    Assignment,
    AuditLog,
    Event,
    Invoice,
    Payment,
    Payout,
    PaySheet,
    Person,
    RecordedPayment,
)
from services.buttons.insight import ActivityPage, Scope
from services.clock import Clock
from services.errors import CallsheetError, InvalidInput, NotFound, require_manager
from services.insight._describe import Subjects, describe, event_label
from services.people import PersonNotFound
from services.people.lookup import Among, find

PAGE_SIZE = 12  # lines of at most ~300 characters: a page stays far under Telegram's 4,096
USAGE = (
    "Send /activity alone for everything, /activity today, /activity Jane (a name, phone or "
    "#id) or /activity EV12 (an event)."
)
_EVENT = re.compile(r"(?:ev|event)\s*#?\s*(\d{1,9})", re.IGNORECASE)
_PERSON = re.compile(r"person\s+(.+)", re.IGNORECASE)


class ActivityError(CallsheetError):
    pass


class UnknownSubject(ActivityError, NotFound):
    pass


class InvalidActivity(ActivityError, InvalidInput):
    pass


@dataclass(frozen=True)
class ActivityLine:
    at: datetime
    who: str
    what: str


@dataclass(frozen=True)
class ActivityView:
    scope: Scope
    ref: int
    title: str  # "everything", "today, Mon 23 Nov", "Jane Wanjiku", "EV12 Afro Night"
    lines: list[ActivityLine]
    page: int  # 0-based
    pages: int
    total: int
    upto: int

    def press(self, page: int) -> ActivityPage:
        return ActivityPage(self.scope, self.ref, self.upto, page)


class Activity:
    def __init__(self, clock: Clock, tz: ZoneInfo) -> None:
        self.clock, self.tz = clock, tz

    async def for_manager(self, actor: Person | None, text: str) -> ActivityView:
        require_manager(actor, "see the activity")
        scope, ref = await self.parse(text)
        return await self.page(scope, ref, upto=None, page=0)

    async def turn(self, actor: Person | None, press: ActivityPage) -> ActivityView:
        require_manager(actor, "see the activity")
        return await self.page(press.scope, press.ref, upto=press.upto, page=press.page)

    async def parse(self, text: str) -> tuple[Scope, int]:
        typed = " ".join(text.split())
        if not typed:
            return Scope.ALL, 0
        if typed.lower() == "today":
            return Scope.DAY, self.clock.now().astimezone(self.tz).date().toordinal()
        if match := _EVENT.fullmatch(typed):
            if not await Event.exists(id=int(match[1])):
                raise UnknownSubject(f"There is no event EV{int(match[1])}. {USAGE}")
            return Scope.EVENT, int(match[1])
        if match := _PERSON.fullmatch(typed):
            typed = match[1]
        try:
            person = await find(typed, among=Among.EVERYONE)
        except PersonNotFound as exc:
            raise UnknownSubject(f"{exc} {USAGE}") from exc
        return Scope.PERSON, person.id

    async def page(self, scope: Scope, ref: int, *, upto: int | None, page: int) -> ActivityView:
        where, title = await self._where(scope, ref)
        if upto is None:
            newest = await AuditLog.filter(where).order_by("-id").first()
            upto = newest.id if newest is not None else 0
        rows = AuditLog.filter(where, id__lte=upto)
        total = await rows.count()
        pages = max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
        page = min(max(page, 0), pages - 1)
        shown = await rows.order_by("-at", "-id").offset(page * PAGE_SIZE).limit(PAGE_SIZE)
        subjects = await Subjects.load(shown)
        lines = [ActivityLine(row.at, *describe(row, subjects)) for row in shown]
        return ActivityView(scope, ref, title, lines, page, pages, total, upto)

    async def _where(self, scope: Scope, ref: int) -> tuple[Q, str]:
        if scope is Scope.DAY:
            day = date.fromordinal(ref) if 1 <= ref <= date.max.toordinal() else None
            if day is None:
                raise InvalidActivity(f"That day is not in the calendar. {USAGE}")
            start = datetime.combine(day, time(0), tzinfo=self.tz).astimezone(UTC)
            end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=self.tz)
            today = self.clock.now().astimezone(self.tz).date()
            label = f"{day:%a} {day.day} {day:%b}"
            label = f"today, {label}" if day == today else f"{label} {day.year}"
            return Q(at__gte=start, at__lt=end.astimezone(UTC)), label
        if scope is Scope.PERSON:
            person = await Person.get_or_none(id=ref)
            if person is None:
                raise UnknownSubject(f"There is no person #{ref} any more. {USAGE}")
            return await _about_person(ref), person.name
        if scope is Scope.EVENT:
            event = await Event.get_or_none(id=ref)
            if event is None:
                raise UnknownSubject(f"There is no event EV{ref} any more. {USAGE}")
            return await _about_event(ref), event_label(event)
        return Q(), "everything"


def _subjects(kind: str, ids: list[int]) -> Q | None:
    return Q(subject_type=kind, subject_id__in=ids) if ids else None


def _any(*conditions: Q | None) -> Q:
    found = [c for c in conditions if c is not None]
    combined = found[0]
    for condition in found[1:]:
        combined |= condition
    return combined


async def _ids(query: object) -> list[int]:
    return [int(i) for i in await query.values_list("id", flat=True)]  # type: ignore[attr-defined]


async def _about_person(person_id: int) -> Q:
    """What she did, and what was done about her: her invitations and answers, the money
    asked of her and received from her, her wages, her card."""
    return _any(
        Q(actor_id=person_id),
        Q(subject_type="person", subject_id=person_id),
        _subjects("assignment", await _ids(Assignment.filter(person_id=person_id))),
        _subjects("payment", await _ids(Payment.filter(person_id=person_id))),
        _subjects("payout", await _ids(Payout.filter(line__person_id=person_id))),
        _subjects("recorded_payment", await _ids(RecordedPayment.filter(person_id=person_id))),
    )


async def _about_event(event_id: int) -> Q:
    sheets = await _ids(PaySheet.filter(event_id=event_id))
    return _any(
        Q(subject_type="event", subject_id=event_id),
        _subjects("assignment", await _ids(Assignment.filter(event_id=event_id))),
        _subjects("payment", await _ids(Payment.filter(event_id=event_id))),
        _subjects("pay_sheet", sheets),
        _subjects("payout", await _ids(Payout.filter(sheet_id__in=sheets or [0]))),
        _subjects("invoice", await _ids(Invoice.filter(event_id=event_id))),
    )
