"""Deactivating a person (their open assignments cancelled, queued messages held) and
reactivating them."""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.transactions import in_transaction

from models import (
    Assignment,
    AssignmentStatus,
    AuditAction,
    EventStatus,
    JobKind,
    JobStatus,
    NotificationKind,
    OutboxMessage,
    OutboxStatus,
    Person,
    ScheduledJob,
)
from services import audit
from services.errors import NotAllowed
from services.notifications import NOT_SENT_INACTIVE
from services.people._core import AssignmentLine, PeopleCore

OPEN_ASSIGNMENTS = (AssignmentStatus.INVITED, AssignmentStatus.CONFIRMED)


@dataclass(frozen=True)
class Deactivated:
    person: Person
    cancelled: list[AssignmentLine]  # their open assignments, now cancelled


class Deactivation(PeopleCore):
    async def check_can_deactivate(self, actor: Person | None, person_id: int) -> Person:
        person = await self.get_person(actor, person_id)
        if actor is not None and person.id == actor.id:
            raise NotAllowed(
                "You cannot deactivate yourself: ask another manager to do it, "
                "so there is always a manager."
            )
        return person

    async def set_active(
        self, actor: Person | None, person_id: int, active: bool, *, chat_id: int | None = None
    ) -> Person:
        if not active:
            return (await self.deactivate(actor, person_id, chat_id=chat_id)).person
        person = await self.get_person(actor, person_id)
        return await self._change(
            person, {"active": True}, AuditAction.PERSON_REACTIVATED, actor, chat_id
        )

    async def deactivate(
        self, actor: Person | None, person_id: int, *, chat_id: int | None = None
    ) -> Deactivated:
        """The bot forgets them as a recipient: their open assignments (invited or confirmed,
        on events not over) are cancelled with their reminders and nudges, and messages
        still queued for them are not delivered. Their history and balance stay."""
        person = await self.check_can_deactivate(actor, person_id)
        if not person.active:
            return Deactivated(person, [])
        now = self.clock.now()
        async with in_transaction() as conn:
            changed = (
                await Person.filter(id=person.id, active=True)
                .using_db(conn)
                .update(active=False, updated_at=now)
            )
            if not changed:  # another manager did it a moment ago
                return Deactivated(await Person.get(id=person.id), [])
            open_rows = (
                await Assignment.filter(
                    person_id=person.id,
                    status__in=OPEN_ASSIGNMENTS,
                    event__status=EventStatus.SCHEDULED,
                    event__ends_at__gt=now,
                )
                .using_db(conn)
                .select_related("event", "event__manager")
                .order_by("event__starts_at", "id")
            )
            ids = [a.id for a in open_rows]
            if ids:
                await (
                    Assignment.filter(id__in=ids, status__in=OPEN_ASSIGNMENTS)
                    .using_db(conn)
                    .update(status=AssignmentStatus.CANCELLED, updated_at=now)
                )
                await (
                    ScheduledJob.filter(
                        assignment_id__in=ids,
                        status=JobStatus.PENDING,
                        kind__in=[JobKind.NUDGE, JobKind.REMINDER, JobKind.ANSWER_DEADLINE],
                    )
                    .using_db(conn)
                    .update(status=JobStatus.CANCELLED)
                )
            for row in open_rows:
                await audit.record(
                    AuditAction.ASSIGNMENT_CANCELLED,
                    "assignment",
                    row.id,
                    at=now,
                    actor=actor,
                    chat_id=chat_id,
                    details={
                        "event_id": row.event.id,
                        "person": person.name,
                        "from": row.status.value,
                        "reason": "person deactivated",
                    },
                    using_db=conn,
                )
                if actor is None or row.event.manager.id != actor.id:
                    await self.notifier.notify(
                        row.event.manager,
                        NotificationKind.CREW_REMOVED,
                        {
                            "crew": person,
                            "event": row.event,
                            "by": actor.name if actor else "an operator",
                            "was": row.status.value,
                            "role": row.role,
                        },
                        using_db=conn,
                    )
            held = (
                await OutboxMessage.filter(person_id=person.id, status=OutboxStatus.PENDING)
                .using_db(conn)
                .update(status=OutboxStatus.SKIPPED, last_error=NOT_SENT_INACTIVE)
            )
            await audit.record(
                AuditAction.PERSON_DEACTIVATED,
                "person",
                person.id,
                at=now,
                actor=actor,
                chat_id=chat_id,
                details={
                    "old": {"active": True},
                    "new": {"active": False},
                    "cancelled_assignments": ids,
                    "messages_held": held,
                },
                using_db=conn,
            )
        self.outbox.wake()
        if ids and self.vacated is not None:
            # After the commit, each spot in its own transaction (an answer locks the spot
            # before the assignment; this transaction held the assignments first).
            await self.vacated.vacated(ids)
        cancelled = [
            AssignmentLine(a.event.title, a.event.starts_at, a.role, a.status) for a in open_rows
        ]
        return Deactivated(await Person.get(id=person.id), cancelled)
