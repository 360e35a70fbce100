"""Who a broadcast goes to: `all`, a role (`rigger`), `event 12`, or `free 24/12`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from models import Access, Assignment, AssignmentStatus, Event, EventStatus, Person
from services.availability import off_between
from services.broadcasts._errors import BroadcastGone, BroadcastUnclear
from services.dates import DateError, format_day, parse_day

BROADCAST_FORMAT = "/broadcast <audience> | <text>, e.g. /broadcast rigger | Load-in moved to 2pm"
AUDIENCE_FORMS = (
    "all (all active crew), a role such as rigger (people with that skill), "
    "event 12 (that event's confirmed crew), or free 24/12 (crew free that day)"
)


@dataclass(frozen=True)
class Audience:
    name: (
        str  # as the preview says it: "all crew", "riggers", "event #12 Harusi", "free Thu 24 Dec"
    )
    people: list[Person]


def _unknown(text: str, roles: list[str]) -> BroadcastUnclear:
    known = f" Roles on the crew list: {', '.join(roles)}." if roles else ""
    return BroadcastUnclear(f"I do not know the audience “{text}”. Use {AUDIENCE_FORMS}.{known}")


async def _crew(exclude: int) -> list[Person]:
    return list(
        await Person.filter(active=True, access=Access.CREW).exclude(id=exclude).order_by("name")
    )


async def resolve(text: str, *, sender: Person, now: datetime, tz: ZoneInfo) -> Audience:
    words = " ".join(text.lower().split())
    if not words:
        raise BroadcastUnclear(f"Say who it is for: {AUDIENCE_FORMS}.")
    head, _, rest = words.partition(" ")
    if words in ("all", "all crew", "everyone"):
        return Audience("all crew", await _crew(sender.id))
    if head == "event":
        return await _event(rest, sender)
    if head == "free":
        return await _free(rest, sender, now, tz)
    everyone = await Person.filter(active=True).exclude(id=sender.id).order_by("name")
    roles = sorted({s for p in everyone for s in p.skill_list})
    role = words if words in roles else words.removesuffix("s")
    if role not in roles:
        raise _unknown(text.strip(), roles)
    return Audience(f"the {role} role", [p for p in everyone if role in p.skill_list])


async def _event(rest: str, sender: Person) -> Audience:
    ref = rest.strip().lstrip("#")
    if not ref.isdigit() or len(ref) > 9:
        raise BroadcastUnclear(f"“event {rest}” needs an event number, like event 12.")
    event = await Event.get_or_none(id=int(ref))
    if event is None:
        raise BroadcastGone(f"There is no event #{ref}. Send /events to see the list.")
    rows = await Assignment.filter(
        event_id=event.id, status=AssignmentStatus.CONFIRMED, person__active=True
    ).prefetch_related("person")
    people = sorted((a.person for a in rows if a.person.id != sender.id), key=lambda p: p.name)
    return Audience(f"event #{event.id} {event.title} (confirmed crew)", people)


async def _free(rest: str, sender: Person, now: datetime, tz: ZoneInfo) -> Audience:
    today = now.astimezone(tz).date()
    try:
        day = parse_day(rest, today=today)
    except DateError as exc:
        raise BroadcastUnclear(f"{exc} For people free on a day: free 24/12.") from exc
    if not today <= day <= today + timedelta(days=2 * 366):
        raise BroadcastUnclear(
            f"{format_day(day, today)} is not between today and two years ahead. "
            "For people free on a day: free 24/12."
        )
    crew = await _crew(sender.id)
    busy = await busy_on(day, tz)
    off = await off_between([p.id for p in crew], day, day)
    free = [p for p in crew if p.id not in busy and p.id not in off]
    return Audience(f"crew free on {format_day(day, today)}", free)


async def busy_on(day: date, tz: ZoneInfo) -> set[int]:
    """People confirmed on a scheduled event that touches `day` (call time to end)."""
    start = datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
    rows = await Assignment.filter(
        status=AssignmentStatus.CONFIRMED,
        event__status=EventStatus.SCHEDULED,
        event__call_at__lt=end,
        event__ends_at__gt=start,
    ).values_list("person_id", flat=True)
    return {int(pid) for pid in rows}  # type: ignore[call-overload]
