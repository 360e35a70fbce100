"""/payruns for managers (every sheet version by event and status) and /pay for crew (their
own lines on approved sheets, with what each payout did, and this year's earnings)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from models import (
    Event,
    EventStatus,
    PayLine,
    Payout,
    PayoutStatus,
    PaySheet,
    PaySheetStatus,
    Person,
)
from services.errors import require_manager
from services.payroll._errors import BadChange

RUNS_SHOWN = 30
SLIPS_SHOWN = 20
# Versions a person's pay is on: approved, and everything after (not drafts, not replaced).
EARNING = (
    PaySheetStatus.APPROVED,
    PaySheetStatus.PAYING,
    PaySheetStatus.PAID,
    PaySheetStatus.STOPPED,
)


@dataclass(frozen=True)
class RunRow:
    sheet: PaySheet
    event: Event
    lines: int  # to pay
    net: int
    prepared_by: str
    approved_by: str | None


@dataclass(frozen=True)
class Slip:
    line: PayLine
    sheet: PaySheet
    event: Event
    payout: Payout | None  # the latest attempt, if any


@dataclass(frozen=True)
class MyPay:
    person: Person
    slips: list[Slip]  # newest first
    earned_this_year: int  # net on approved lines of this year's events
    paid_this_year: int  # of which paid by M-Pesa
    year: int


async def pay_runs(actor: Person, query: str = "") -> tuple[str, list[RunRow]]:
    """Sheet versions, newest first, optionally one status or one event (`#12` / `12`)."""
    require_manager(actor, "see pay runs")
    text = query.strip().lower().lstrip("#")
    rows = PaySheet.all()
    label = "latest"
    if text:
        statuses = {s.value: s for s in PaySheetStatus}
        if text in statuses:
            rows = rows.filter(status=statuses[text])
            label = text
        elif text.isdigit() and len(text) < 10:
            rows = rows.filter(event_id=int(text))
            label = f"event #{text}"
        else:
            raise BadChange(
                f"“{query.strip()[:30]}” is not an event number or a status. Try /payruns, "
                f"/payruns 12 or /payruns {' / '.join(s.value for s in PaySheetStatus)}."
            )
    sheets = await rows.order_by("-id").limit(RUNS_SHOWN)
    events = {e.id: e for e in await Event.filter(id__in=[s.event_id for s in sheets] or [0])}  # type: ignore[attr-defined]
    staff_ids = {s.prepared_by_id for s in sheets} | {s.approved_by_id for s in sheets}  # type: ignore[attr-defined]
    staff = {p.id: p.name for p in await Person.filter(id__in=[i for i in staff_ids if i] or [0])}
    result: list[RunRow] = []
    for sheet in sheets:
        lines = await PayLine.filter(sheet_id=sheet.id, left_out=False)
        result.append(
            RunRow(
                sheet=sheet,
                event=events[sheet.event_id],  # type: ignore[attr-defined]
                lines=sum(1 for line in lines if line.net > 0),
                net=sum(line.net for line in lines),
                prepared_by=staff.get(sheet.prepared_by_id, "?"),  # type: ignore[attr-defined]
                approved_by=staff.get(sheet.approved_by_id) if sheet.approved_by_id else None,  # type: ignore[attr-defined]
            )
        )
    return label, result


async def my_pay(person: Person, now: datetime, tz: ZoneInfo) -> MyPay:
    lines = await (
        PayLine.filter(person_id=person.id, left_out=False, sheet__status__in=EARNING)
        .prefetch_related("sheet")
        .order_by("-id")
    )
    events = {
        e.id: e
        for e in await Event.filter(id__in=sorted({line.sheet.event_id for line in lines}) or [0])  # type: ignore[attr-defined]
    }
    latest: dict[int, Payout] = {}
    for payout in await Payout.filter(line_id__in=[line.id for line in lines] or [0]).order_by(
        "attempt"
    ):
        latest[payout.line_id] = payout  # type: ignore[attr-defined]
    year = now.astimezone(tz).year
    earned = paid = 0
    slips: list[Slip] = []
    for line in lines:
        event = events[line.sheet.event_id]  # type: ignore[attr-defined]
        last = latest.get(line.id)
        if event.starts_at.astimezone(tz).year == year:
            earned += line.net
            if last is not None and last.status is PayoutStatus.PAID:
                paid += last.amount
        slips.append(Slip(line, line.sheet, event, last))
    return MyPay(person, slips[:SLIPS_SHOWN], earned, paid, year)


PICK_SHOWN = 8


async def events_to_pay(actor: Person) -> list[Event]:
    """For a bare /payroll: the latest events that were not cancelled, latest first."""
    require_manager(actor, "prepare pay sheets")
    return list(
        await Event.exclude(status=EventStatus.CANCELLED).order_by("-starts_at").limit(PICK_SHOWN)
    )
