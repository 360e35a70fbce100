"""Planning jobs, in the transaction of the change that calls for them: an invitation plans
its nudge, a confirmation its reminders, an event its manager's alert."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.backends.base.client import BaseDBAsyncClient

from models import (
    Assignment,
    AssignmentStatus,
    Event,
    EventStatus,
    JobKind,
    JobStatus,
    ScheduledJob,
)
from services.clock import Clock

log = logging.getLogger(__name__)


OURS = (JobKind.REMINDER, JobKind.NUDGE, JobKind.MANAGER_ALERT, JobKind.ANSWER_DEADLINE)
PER_ASSIGNMENT = (JobKind.NUDGE, JobKind.REMINDER, JobKind.ANSWER_DEADLINE)


@dataclass(frozen=True)
class Wanted:
    kind: JobKind
    due_at: datetime
    key: str


class Planner:
    """The planning half of `Scheduler`; it sets these in its `__init__`."""

    clock: Clock
    reminder_offsets: tuple[timedelta, ...]
    nudge_after: timedelta
    alert_window: timedelta
    answer_within: timedelta | None  # None: no answer deadlines (no backups offered)

    async def plan_assignment(
        self, assignment: Assignment, event: Event, conn: BaseDBAsyncClient
    ) -> None:
        now = self.clock.now()
        wanted: list[Wanted] = []
        if event.status is EventStatus.SCHEDULED:
            if assignment.status is AssignmentStatus.INVITED:
                earlier = (
                    await ScheduledJob.filter(assignment_id=assignment.id, kind=JobKind.NUDGE)
                    .using_db(conn)
                    .order_by("-id")
                    .first()
                )
                # Kept when plans are redone (an event's time moved); a new invitation after
                # a decline gets its own, counted from when it was sent.
                current = earlier is not None and earlier.due_at > assignment.invited_at
                due = earlier.due_at if earlier and current else now + self.nudge_after
                if due < event.call_at:
                    wanted.append(
                        Wanted(JobKind.NUDGE, due, f"nudge:a{assignment.id}:{due.timestamp():.0f}")
                    )
                deadline = self.answer_by(assignment, event)
                if deadline is not None:
                    key = f"deadline:a{assignment.id}:{deadline.timestamp():.0f}"
                    wanted.append(Wanted(JobKind.ANSWER_DEADLINE, deadline, key))
            elif assignment.status is AssignmentStatus.CONFIRMED:
                for offset in self.reminder_offsets:
                    due = event.call_at - offset
                    if due > now:
                        wanted.append(
                            Wanted(
                                JobKind.REMINDER,
                                due,
                                f"reminder:a{assignment.id}:{due.timestamp():.0f}",
                            )
                        )
        scope = ScheduledJob.filter(assignment_id=assignment.id, kind__in=PER_ASSIGNMENT)
        await self._sync(scope, wanted, conn, event_id=event.id, assignment_id=assignment.id)

    def answer_by(self, assignment: Assignment, event: Event) -> datetime | None:
        """When an unanswered invitation's spot goes to a backup: None with Auto backups off,
        or when that would be at or after the call time."""
        if self.answer_within is None or not event.auto_backups:
            return None
        due = assignment.invited_at + self.answer_within
        return due if due < event.call_at else None

    async def plan_event(self, event: Event, conn: BaseDBAsyncClient) -> None:
        """The manager's alert; after a time change, every assignment's jobs too."""
        now = self.clock.now()
        wanted: list[Wanted] = []
        if event.status is EventStatus.SCHEDULED:
            due = event.call_at - self.alert_window
            if due <= now:  # created inside the window: give crew a moment to answer first
                due = now + min(self.nudge_after, (event.call_at - now) / 2)
            if due < event.call_at:
                wanted.append(
                    Wanted(JobKind.MANAGER_ALERT, due, f"alert:e{event.id}:{due.timestamp():.0f}")
                )
        scope = ScheduledJob.filter(event_id=event.id, kind=JobKind.MANAGER_ALERT)
        await self._sync(scope, wanted, conn, event_id=event.id, assignment_id=None)
        assignments = await Assignment.filter(event_id=event.id).using_db(conn)
        for assignment in assignments:
            await self.plan_assignment(assignment, event, conn)

    async def _sync(
        self,
        scope: object,
        wanted: list[Wanted],
        conn: BaseDBAsyncClient,
        *,
        event_id: int,
        assignment_id: int | None,
    ) -> None:
        keys = {w.key for w in wanted}
        query = scope.filter(status=JobStatus.PENDING)  # type: ignore[attr-defined]
        if keys:
            query = query.exclude(dedupe_key__in=keys)
        await query.using_db(conn).update(status=JobStatus.CANCELLED)
        if not wanted:
            return
        found = await ScheduledJob.filter(dedupe_key__in=sorted(keys)).using_db(conn)
        known = {job.dedupe_key: job for job in found}
        missing = [item for item in wanted if item.key not in known]
        if missing:  # one statement for all of them (a confirmation plans two reminders)
            now = self.clock.now()
            await ScheduledJob.bulk_create(
                [
                    ScheduledJob(
                        kind=item.kind,
                        due_at=item.due_at,
                        dedupe_key=item.key,
                        event_id=event_id,
                        assignment_id=assignment_id,
                        created_at=now,
                    )
                    for item in missing
                ],
                using_db=conn,
            )
        for item in wanted:
            existing = known.get(item.key)
            if existing is not None and existing.status is JobStatus.CANCELLED:
                await (
                    ScheduledJob.filter(id=existing.id, status=JobStatus.CANCELLED)
                    .using_db(conn)
                    .update(status=JobStatus.PENDING, due_at=item.due_at, attempts=0)
                )

    async def cancel_for_event(self, event_id: int, conn: BaseDBAsyncClient) -> int:
        return await (
            ScheduledJob.filter(event_id=event_id, status=JobStatus.PENDING, kind__in=OURS)
            .using_db(conn)
            .update(status=JobStatus.CANCELLED)
        )
