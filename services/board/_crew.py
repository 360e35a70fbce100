"""A crew member's own page, read only: their events to come with where each answer stands,
their balance, payslips and receipts. Answers go through `AssignmentService.respond`, as the
chat's Confirm and Decline do."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from models import Assignment, AssignmentStatus, EventStatus, Person, Receipt
from services.payroll import MyPay, my_pay

UPCOMING_SHOWN = 30
RECEIPTS_SHOWN = 20
ANSWERABLE = (AssignmentStatus.INVITED, AssignmentStatus.CONFIRMED, AssignmentStatus.DECLINED)


@dataclass(frozen=True)
class Upcoming:
    assignment: Assignment  # with .event and .event.manager
    open: bool  # before the call time: the answer can still change

    @property
    def waiting(self) -> bool:
        return self.assignment.status is AssignmentStatus.INVITED


@dataclass(frozen=True)
class CrewPage:
    person: Person  # as just read: its balance is current
    upcoming: list[Upcoming]  # waiting for an answer first, then the soonest
    pay: MyPay
    receipts: list[Receipt]


async def crew_page(person: Person, now: datetime, tz: ZoneInfo) -> CrewPage:
    fresh = await Person.get(id=person.id)
    rows = await (
        Assignment.filter(
            person_id=fresh.id,
            status__in=ANSWERABLE,
            event__status=EventStatus.SCHEDULED,
            event__ends_at__gt=now,
        )
        .order_by("event__starts_at", "id")
        .limit(UPCOMING_SHOWN)
        .prefetch_related("event", "event__manager")
    )
    upcoming = [Upcoming(a, now < a.event.call_at) for a in rows]
    upcoming.sort(key=lambda u: not (u.waiting and u.open))  # stable: soonest first in each
    receipts = await Receipt.filter(person_id=fresh.id).order_by("-id").limit(RECEIPTS_SHOWN)
    return CrewPage(fresh, upcoming, await my_pay(fresh, now, tz), list(receipts))
