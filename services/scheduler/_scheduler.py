"""The scheduler: claims the jobs that are due and queues their messages, exactly once."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Protocol

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import F, Q
from tortoise.transactions import in_transaction

from models import (
    Assignment,
    AssignmentStatus,
    Event,
    EventStatus,
    JobKind,
    JobStatus,
    NotificationKind,
    OutboxMessage,
    Person,
    ScheduledJob,
)
from services.availability import off_for_event
from services.buttons.assignments import answer_buttons, answer_many_buttons
from services.buttons.events import card_button
from services.clock import Clock
from services.dates import format_days
from services.notifications import Notifier
from services.outbox import Outbox
from services.scheduler._plans import OURS, Planner
from services.worker import Failure, Worker, backoff, isolated

log = logging.getLogger(__name__)


NUDGE_BUTTONS = 8  # invitations answerable from one nudge; the rest are in /my


class Deadlines(Protocol):
    """Who acts when an invitation is unanswered by its deadline (the assignment service)."""

    async def deadline_passed(
        self, assignment_id: int, event: Event, conn: BaseDBAsyncClient
    ) -> bool: ...


class JobLost(Exception):
    """Our lease on a job ran out and someone else took it: roll back, send nothing."""


def human_delta(delta: timedelta) -> str:
    minutes = max(0, round(delta.total_seconds() / 60))
    if minutes >= 48 * 60 and minutes % (24 * 60) == 0:
        return f"{minutes // (24 * 60)} days"
    if minutes >= 60:
        hours, rest = divmod(minutes, 60)
        text = f"{hours} hour{'s' if hours != 1 else ''}"
        return text + (f" {rest} min" if rest else "")
    return f"{minutes} min"


class Scheduler(Planner, Worker):
    name = "scheduler"

    def __init__(
        self,
        notifier: Notifier,
        outbox: Outbox,
        clock: Clock,
        *,
        reminder_offsets: Sequence[timedelta],
        nudge_after: timedelta,
        alert_window: timedelta,
        answer_within: timedelta | None = None,
        lease: timedelta = timedelta(minutes=2),
        max_attempts: int = 5,
        poll_seconds: float = 5.0,
    ) -> None:
        super().__init__(idle_seconds=poll_seconds)
        self.notifier = notifier
        self.outbox = outbox
        self.clock = clock
        self.reminder_offsets = tuple(reminder_offsets)
        self.nudge_after = nudge_after
        self.alert_window = alert_window
        self.answer_within = answer_within
        self.deadlines: Deadlines | None = None  # set once the assignment service is built
        self.lease = lease
        self.max_attempts = max_attempts
        self.poll_seconds = poll_seconds

    # --- running -------------------------------------------------------------------

    async def round(self) -> int:
        """Polled until `stop()`; a round in progress finishes first (never cut mid-transaction)."""
        return await self.run_due()

    async def run_due(self, limit: int = 100) -> int:
        """Claim the jobs that are due and queue their messages; returns how many ran."""
        jobs = await self.claim(limit)
        waiting = list(jobs)
        try:
            for job in jobs:
                outcome = await isolated(f"job {job.id}", functools.partial(self._run_one, job))
                if isinstance(outcome, Failure):
                    await isolated(
                        f"job {job.id} outcome", functools.partial(self._failed, job, outcome)
                    )
                waiting.remove(job)
        except asyncio.CancelledError:
            await asyncio.shield(self._release(waiting))
            raise
        if jobs:
            self.outbox.wake()
        return len(jobs)

    async def _run_one(self, job: ScheduledJob) -> None:
        try:
            await self._finish(job)
        except JobLost:
            log.info("job %s was taken over by another instance", job.id)

    async def _failed(self, job: ScheduledJob, failure: Failure) -> None:
        """Count the failure against this job: tried again after a backoff (the lease is
        stretched to it), parked as FAILED after `max_attempts`."""
        mine = ScheduledJob.filter(id=job.id, status=JobStatus.RUNNING, attempts=job.attempts)
        if job.attempts >= self.max_attempts:
            async with in_transaction() as conn:
                parked = await mine.using_db(conn).update(
                    status=JobStatus.FAILED, lease_until=None, last_error=failure.text()
                )
                if parked:
                    await self._tell_manager(conn, job, failure.text())
            log.warning(
                "job %s (%s) failed after %s attempts: %s",
                job.id,
                job.kind,
                job.attempts,
                failure.text(),
            )
            return
        lease_until = self.clock.now() + timedelta(seconds=backoff(job.attempts, cap=3600))
        await mine.update(lease_until=lease_until, last_error=failure.text())

    async def _give_up(self, conn: BaseDBAsyncClient, job: ScheduledJob) -> None:
        """A job whose lease ran out after its last attempt (the process stopped each time)."""
        error = f"gave up after {job.attempts} attempts that never finished"
        parked = await (
            ScheduledJob.filter(id=job.id, status=JobStatus.RUNNING, attempts=job.attempts)
            .using_db(conn)
            .update(status=JobStatus.FAILED, lease_until=None, last_error=error)
        )
        if parked:
            await self._tell_manager(conn, job, error)
        log.warning(
            "job %s (%s) failed: %s attempts never finished", job.id, job.kind, job.attempts
        )

    async def _tell_manager(self, conn: BaseDBAsyncClient, job: ScheduledJob, error: str) -> None:
        """A message people were counting on will not go out: the event's manager hears it,
        in the transaction that parks the job, with what to do instead."""
        event = await Event.filter(id=job.event_id).using_db(conn).first()  # type: ignore[attr-defined]
        if event is None or event.status is not EventStatus.SCHEDULED:
            return  # nothing is lost: the event is over or off
        manager = await Person.get(id=event.manager_id).using_db(conn)  # type: ignore[attr-defined]
        what = {JobKind.MANAGER_ALERT: "crew alert", JobKind.ANSWER_DEADLINE: "backup offer"}.get(
            job.kind, job.kind.value
        )
        await self.notifier.notify(
            manager,
            NotificationKind.JOB_FAILED,
            {
                "event": event,
                "what": what,
                "reminder": job.kind is JobKind.REMINDER,
                "attempts": job.attempts,
                "error": error[:300],
            },
            buttons=card_button(event.id),
            dedupe_key=f"job-failed:{job.id}",
            using_db=conn,
        )

    async def _release(self, jobs: Sequence[ScheduledJob]) -> None:
        """At shutdown, give back claimed jobs so the next process runs them without waiting."""
        for job in jobs:
            await ScheduledJob.filter(
                id=job.id, status=JobStatus.RUNNING, attempts=job.attempts
            ).update(status=JobStatus.PENDING, lease_until=None, attempts=F("attempts") - 1)

    async def claim(self, limit: int) -> list[ScheduledJob]:
        now = self.clock.now()
        due = Q(status=JobStatus.PENDING, due_at__lte=now) | Q(
            status=JobStatus.RUNNING, lease_until__lt=now
        )
        claimed: list[ScheduledJob] = []
        async with in_transaction() as conn:
            query = ScheduledJob.filter(due, kind__in=OURS).order_by("due_at", "id").limit(limit)
            if conn.capabilities.dialect == "postgres":
                query = query.select_for_update(skip_locked=True)
            rows = await query.using_db(conn)
            lease_until = now + self.lease
            for row in rows:
                if row.status is JobStatus.RUNNING and row.attempts >= self.max_attempts:
                    await self._give_up(conn, row)
                    continue
                # Conditional update: on SQLite (no row locks) it is what makes the claim unique.
                updated = (
                    await ScheduledJob.filter(id=row.id, status=row.status, attempts=row.attempts)
                    .using_db(conn)
                    .update(
                        status=JobStatus.RUNNING,
                        lease_until=lease_until,
                        attempts=F("attempts") + 1,
                    )
                )
                if updated:
                    row.status = JobStatus.RUNNING
                    row.lease_until = lease_until
                    row.attempts += 1
                    claimed.append(row)
        return claimed

    async def _finish(self, job: ScheduledJob) -> None:
        now = self.clock.now()
        async with in_transaction() as conn:
            done = (
                await ScheduledJob.filter(
                    id=job.id, status=JobStatus.RUNNING, attempts=job.attempts
                )
                .using_db(conn)
                .update(status=JobStatus.DONE, done_at=now, lease_until=None)
            )
            if not done:
                raise JobLost(job.id)
            sent = await self._send(job, conn)
        log.info("job %s (%s) done: %s", job.id, job.kind, "sent" if sent else "nothing to send")

    async def _send(self, job: ScheduledJob, conn: BaseDBAsyncClient) -> bool:
        now = self.clock.now()
        event = await Event.filter(id=job.event_id).using_db(conn).first()  # type: ignore[attr-defined]
        if event is None or event.status is not EventStatus.SCHEDULED or now >= event.starts_at:
            return False
        key = f"job:{job.id}"
        if job.kind is JobKind.MANAGER_ALERT:
            return await self._alert(event, key, conn)
        if job.kind is JobKind.ANSWER_DEADLINE:
            if self.deadlines is None or now >= event.call_at:
                return False
            return await self.deadlines.deadline_passed(job.assignment_id, event, conn)  # type: ignore[attr-defined]
        assignment = (
            await Assignment.filter(id=job.assignment_id)  # type: ignore[attr-defined]
            .using_db(conn)
            .prefetch_related("person")
            .first()
        )
        if assignment is None or now >= event.call_at:
            return False
        context = {
            "event": event,
            "assignment": assignment,
            "until": human_delta(event.call_at - now),
        }
        if job.kind is JobKind.REMINDER and assignment.status is AssignmentStatus.CONFIRMED:
            if await self._off_instead(assignment, event, conn):
                return True
            await self.notifier.notify(
                assignment.person,
                NotificationKind.REMINDER,
                context,
                dedupe_key=key,
                using_db=conn,
            )
            return True
        if job.kind is JobKind.NUDGE and assignment.status is AssignmentStatus.INVITED:
            return await self._nudge(job, assignment, event, key, conn)
        return False

    async def _off_instead(
        self, assignment: Assignment, event: Event, conn: BaseDBAsyncClient
    ) -> bool:
        """Confirmed crew who then marked a day of the event off get no reminder: the
        event's manager is told instead, once per assignment however many reminders fall."""
        tz = self.notifier.renderer.tz
        off = (await off_for_event([assignment.person.id], event, tz, conn)).get(
            assignment.person.id
        )
        if off is None:
            return False
        key = f"crewoff:{assignment.id}"
        told = await OutboxMessage.filter(dedupe_key__startswith=f"{key}:").using_db(conn).exists()
        if not told:
            manager = await Person.get(id=event.manager_id).using_db(conn)  # type: ignore[attr-defined]
            today = self.clock.now().astimezone(tz).date()
            await self.notifier.notify(
                manager,
                NotificationKind.CREW_OFF,
                {
                    "event": event,
                    "assignment": assignment,
                    "who": assignment.person,
                    "span": format_days(off.first_day, off.last_day, today),
                    "reason": off.reason,
                },
                buttons=card_button(event.id),
                dedupe_key=key,
                using_db=conn,
            )
        log.info("reminder for assignment %s skipped: off (day off %s)", assignment.id, off.id)
        return True

    async def _nudge(
        self,
        job: ScheduledJob,
        assignment: Assignment,
        event: Event,
        key: str,
        conn: BaseDBAsyncClient,
    ) -> bool:
        """One message for everything the person has not answered whose nudge is due now:
        twelve unanswered invitations bring one nudge listing them, not twelve."""
        now = self.clock.now()
        due = (
            await ScheduledJob.filter(
                kind=JobKind.NUDGE,
                status__in=[JobStatus.PENDING, JobStatus.RUNNING],
                due_at__lte=now,
                assignment__person_id=assignment.person_id,  # type: ignore[attr-defined]
                assignment__status=AssignmentStatus.INVITED,
                assignment__event__status=EventStatus.SCHEDULED,
                assignment__event__call_at__gt=now,
            )
            .exclude(id=job.id)
            .using_db(conn)
            .order_by("id")
        )
        taken: list[int] = []
        for other in due:  # each taken here is done: its own turn sends nothing
            done = (
                await ScheduledJob.filter(id=other.id, status=other.status, attempts=other.attempts)
                .using_db(conn)
                .update(status=JobStatus.DONE, done_at=now, lease_until=None)
            )
            if done:
                taken.append(other.assignment_id)  # type: ignore[attr-defined]
        waiting = [assignment]
        if taken:
            waiting += list(
                await Assignment.filter(id__in=taken).using_db(conn).prefetch_related("event")
            )
        assignment.event = event
        waiting.sort(key=lambda a: (a.event.starts_at, a.id))
        if len(waiting) == 1:
            buttons = answer_buttons(assignment.id)
        else:
            buttons = answer_many_buttons(waiting[:NUDGE_BUTTONS])
        await self.notifier.notify(
            assignment.person,
            NotificationKind.NUDGE,
            {
                "event": event,
                "assignment": assignment,
                "waiting": [(a.event, a) for a in waiting],
                "listed": NUDGE_BUTTONS,
                "until": human_delta(event.call_at - now),
            },
            buttons=buttons,
            dedupe_key=key,
            using_db=conn,
        )
        return True

    async def _alert(self, event: Event, key: str, conn: BaseDBAsyncClient) -> bool:
        assignments = (
            await Assignment.filter(event_id=event.id).using_db(conn).prefetch_related("person")
        )
        waiting = [a for a in assignments if a.status is AssignmentStatus.INVITED]
        confirmed = [a for a in assignments if a.status is AssignmentStatus.CONFIRMED]
        short = max(0, (event.crew_target or 0) - len(confirmed))
        if not waiting and not short:
            return False
        manager = await Person.get(id=event.manager_id).using_db(conn)  # type: ignore[attr-defined]
        await self.notifier.notify(
            manager,
            NotificationKind.MANAGER_ALERT,
            {
                "event": event,
                "waiting": waiting,
                "confirmed": confirmed,
                "short": short,
                "until": human_delta(event.call_at - self.clock.now()),
            },
            buttons=card_button(event.id),
            dedupe_key=key,
            using_db=conn,
        )
        return True
