"""A month in numbers (`/stats 2026-11`, `callsheet stats --month`): events, how many of the
crew asked said yes, who dropped out late, and the money in and out, with the five months
before it for the chart.

- An event counts in the month it starts (company timezone); a cancelled one is counted
  apart and its crew left out.
- Confirm rate: of the crew asked for the month's events (taken off an event: not counted),
  those confirmed (or who worked it) now. No answer yet counts as not confirmed.
- Late drop-out: someone who had confirmed, then declined within `LATE_WINDOW` (48 hours)
  of the event's call time, and has not confirmed again.
- Money in: payments received (M-Pesa, and recorded cash, bank, …), less any undone.
  Money out: wages sent by M-Pesa (payouts). Both by the ledger entry's date, as /export.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from tortoise.functions import Count, Sum

from models import (
    Assignment,
    AssignmentStatus,
    AuditAction,
    AuditLog,
    Event,
    EventStatus,
    LedgerEntry,
    LedgerKind,
    Person,
)
from services.clock import Clock
from services.errors import require_manager
from services.ledger import Month, parse_month

LATE_WINDOW = timedelta(hours=48)
MONTHS_CHARTED = 6
_IN = (LedgerKind.PAYMENT, LedgerKind.RECORDED)  # negative amounts: money received
_OUT = (LedgerKind.PAYOUT,)  # positive amounts: wages sent


@dataclass(frozen=True)
class LateDropout:
    person: str
    role: str
    event: Event
    hours_before_call: int


@dataclass
class MonthStats:
    month: Month
    events: int = 0  # not cancelled
    cancelled: int = 0
    asked: int = 0
    confirmed: int = 0
    late: list[LateDropout] = field(default_factory=list)
    money_in: int = 0
    money_out: int = 0

    @property
    def confirm_rate(self) -> int | None:
        """Whole per cent, or None when nobody was asked."""
        return round(100 * self.confirmed / self.asked) if self.asked else None


@dataclass(frozen=True)
class StatsReport:
    months: list[MonthStats]  # oldest first; the last is the month asked for

    @property
    def month(self) -> MonthStats:
        return self.months[-1]


def month_of(when: datetime, tz: ZoneInfo) -> Month:
    local = when.astimezone(tz)
    return Month(local.year, local.month)


def months_back(last: Month, count: int) -> list[Month]:
    """`count` months ending with `last`, oldest first."""
    index = last.year * 12 + last.month - 1
    return [Month(i // 12, i % 12 + 1) for i in range(index - count + 1, index + 1)]


Draw = Callable[[StatsReport, str], bytes]


class Stats:
    def __init__(self, clock: Clock, tz: ZoneInfo, company: str, draw: Draw) -> None:
        self.clock, self.tz, self.company = clock, tz, company
        self.draw = draw  # CPU-bound: run in a worker thread, never on the event loop

    def parse(self, text: str) -> Month:
        """A typed month (2026-11), or this month in the company's timezone."""
        return parse_month(text) if text.strip() else month_of(self.clock.now(), self.tz)

    async def for_manager(self, actor: Person | None, text: str) -> StatsReport:
        require_manager(actor, "see the stats")
        return await self.report(self.parse(text))

    async def chart(self, report: StatsReport) -> bytes:
        """The PNG, drawn in a worker thread: the bot goes on answering meanwhile."""
        return await asyncio.to_thread(self.draw, report, self.company)

    async def report(self, month: Month) -> StatsReport:
        months = months_back(month, MONTHS_CHARTED)
        stats = {m: MonthStats(m) for m in months}
        start, _ = months[0].bounds(self.tz)
        _, end = month.bounds(self.tz)
        await self._crew(stats, start, end)
        await self._money(stats, start, end)
        return StatsReport([stats[m] for m in months])

    async def _crew(self, stats: dict[Month, MonthStats], start: datetime, end: datetime) -> None:
        events = {
            e.id: e
            for e in await Event.filter(starts_at__gte=start, starts_at__lt=end).order_by("id")
        }
        for event in events.values():
            counted = stats[month_of(event.starts_at, self.tz)]
            if event.status is EventStatus.CANCELLED:
                counted.cancelled += 1
            else:
                counted.events += 1
        live = [e.id for e in events.values() if e.status is not EventStatus.CANCELLED]
        # Counted by the database per event and answer; only the declined are read one by one.
        for tally in (
            await Assignment.filter(event_id__in=live or [0])
            .exclude(status=AssignmentStatus.CANCELLED)
            .annotate(n=Count("id"))
            .group_by("event_id", "status")
            .values("event_id", "status", "n")
        ):
            counted = stats[month_of(events[tally["event_id"]].starts_at, self.tz)]
            counted.asked += tally["n"]
            if AssignmentStatus(tally["status"]) in (
                AssignmentStatus.CONFIRMED,
                AssignmentStatus.COMPLETED,
            ):
                counted.confirmed += tally["n"]
        declined = {
            a.id: a
            for a in await Assignment.filter(
                event_id__in=live or [0], status=AssignmentStatus.DECLINED
            ).select_related("person")
        }
        late: dict[int, LateDropout] = {}
        for row in await AuditLog.filter(
            action=AuditAction.ASSIGNMENT_DECLINED,
            subject_type="assignment",
            subject_id__in=list(declined) or [0],
        ).order_by("at", "id"):
            a = declined[row.subject_id or 0]
            event = events[a.event_id]  # type: ignore[attr-defined]
            before = event.call_at - row.at
            if (row.details or {}).get("from") != "confirmed" or before > LATE_WINDOW:
                continue
            hours = max(int(before.total_seconds() // 3600), 0)
            late[a.id] = LateDropout(a.person.name, a.role, event, hours)
        for dropout in late.values():
            stats[month_of(dropout.event.starts_at, self.tz)].late.append(dropout)

    async def _money(self, stats: dict[Month, MonthStats], start: datetime, end: datetime) -> None:
        # Summed by the database, month by month (each a range of the created_at index):
        # six months of a busy ledger is a hundred thousand entries, too many to read here.
        for month, counted in stats.items():
            starts, ends = month.bounds(self.tz)
            for row in (
                await LedgerEntry.filter(
                    created_at__gte=starts, created_at__lt=ends, kind__in=[*_IN, *_OUT]
                )
                .annotate(total=Sum("amount"))
                .group_by("kind")
                .values("kind", "total")
            ):
                self._count(counted, LedgerKind(row["kind"]), int(row["total"] or 0))
        # An adjustment counts only as the undoing of money moved: few, read one by one.
        adjustments = await LedgerEntry.filter(
            created_at__gte=start,
            created_at__lt=end,
            kind=LedgerKind.ADJUSTMENT,
            reverses_id__isnull=False,
        ).values_list("amount", "created_at", "reverses_id")
        undone_ids = [reverses for _, _, reverses in adjustments]
        undone = dict(await LedgerEntry.filter(id__in=undone_ids or [0]).values_list("id", "kind"))
        for amount, created_at, reverses in adjustments:
            if reverses in undone:
                counted = stats[month_of(created_at, self.tz)]
                self._count(counted, LedgerKind(undone[reverses]), amount)

    @staticmethod
    def _count(counted: MonthStats, kind: LedgerKind, amount: int) -> None:
        if kind in _IN:
            counted.money_in -= amount
        elif kind in _OUT:
            counted.money_out += amount
