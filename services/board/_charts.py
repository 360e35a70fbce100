"""The numbers behind the board's charts: money in and out by month and the confirm rate by
month (services/insight's `Stats`, as /stats counts them), and each regular's confirm rate
over the same months."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from tortoise.functions import Count

from models import Assignment, AssignmentStatus, EventStatus, Person
from services.errors import require_manager
from services.insight import Stats, StatsReport

PEOPLE_CHARTED = 8
WORKED = (AssignmentStatus.CONFIRMED, AssignmentStatus.COMPLETED)


@dataclass(frozen=True)
class Reliability:
    name: str
    asked: int
    confirmed: int

    @property
    def rate(self) -> int:
        return round(100 * self.confirmed / self.asked) if self.asked else 0


@dataclass(frozen=True)
class Charts:
    report: StatsReport  # six months, oldest first
    people: list[Reliability]  # the most asked first


async def charts(actor: Person, stats: Stats) -> Charts:
    require_manager(actor, "see the charts")
    month = stats.parse("")
    report = await stats.report(month)
    starts, _ = report.months[0].month.bounds(stats.tz)
    _, ends = report.month.month.bounds(stats.tz)
    counts: dict[int, dict[AssignmentStatus, int]] = defaultdict(dict)
    for row in (
        await Assignment.filter(event__starts_at__gte=starts, event__starts_at__lt=ends)
        .exclude(event__status=EventStatus.CANCELLED)
        .exclude(status=AssignmentStatus.CANCELLED)
        .annotate(n=Count("id"))
        .group_by("person_id", "status")
        .values("person_id", "status", "n")
    ):
        counts[row["person_id"]][AssignmentStatus(row["status"])] = row["n"]
    asked = {pid: sum(by.values()) for pid, by in counts.items()}
    most = sorted(asked, key=lambda pid: (-asked[pid], pid))[:PEOPLE_CHARTED]
    names = {p.id: p.name for p in await Person.filter(id__in=most or [0])}
    people = [
        Reliability(
            names.get(pid, f"#{pid}"), asked[pid], sum(counts[pid].get(s, 0) for s in WORKED)
        )
        for pid in most
    ]
    return Charts(report, people)
