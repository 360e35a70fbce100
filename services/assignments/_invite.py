"""Inviting crew: the picker's candidates, /assign, and inviting again after a decline."""

from __future__ import annotations

from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from models import (
    Assignment,
    AssignmentStatus,
    AuditAction,
    AuditLog,
    Event,
    EventStatus,
    LiveMessage,
    NotificationKind,
    Person,
)
from services import audit
from services.assignments._asking import ask_to_answer
from services.assignments._errors import AlreadyAssigned, AssignmentError, Overlap, PersonOff
from services.assignments._model import ASSIGN_FORMAT, REINVITABLE, Candidate
from services.availability import off_for_event
from services.dates import format_days
from services.errors import require_manager
from services.events import EventNotFound, EventsBase
from services.people import PeopleService


class Inviting(EventsBase):
    def parse_inline(self, text: str) -> tuple[int, str, str]:
        parts = [p.strip() for p in text.split("|")]
        if len(parts) != 3 or not all(parts):
            raise AssignmentError(f"I need three parts separated by |: {ASSIGN_FORMAT}")
        if not parts[0].lstrip("#").isdigit():
            raise AssignmentError(f"“{parts[0]}” is not an event number. Send /events to see them.")
        return int(parts[0].lstrip("#")), parts[1], self.clean_role(parts[2])

    def clean_role(self, text: str) -> str:
        role = " ".join(text.split()).lower()
        if not role:
            raise AssignmentError("The role is empty. Type one, like sound engineer or rigger.")
        if len(role) > 60:
            raise AssignmentError(f"The role is {len(role)} characters; keep it under 60.")
        return role

    async def _event_open(self, event_id: int, conn: BaseDBAsyncClient | None = None) -> Event:
        event = await Event.get_or_none(id=event_id, using_db=conn)
        if event is None:
            raise EventNotFound(f"There is no event #{event_id}. Send /events to see the list.")
        if event.status is not EventStatus.SCHEDULED:
            raise AssignmentError(f"{event.title} is {event.status.value}; no one can be added.")
        if event.call_at <= self.clock.now():
            raise AssignmentError(f"The call time for {event.title} has passed.")
        return event

    async def conflict(self, person: Person, event: Event) -> Event | None:
        other = (
            await Assignment.filter(
                person_id=person.id,
                status=AssignmentStatus.CONFIRMED,
                event__status=EventStatus.SCHEDULED,
                event__call_at__lt=event.ends_at,
                event__ends_at__gt=event.call_at,
            )
            .exclude(event_id=event.id)
            .prefetch_related("event")
            .first()
        )
        return other.event if other else None

    async def candidates(self, event_id: int, *, actor: Person) -> tuple[Event, list[Candidate]]:
        require_manager(actor)
        event = await self._event_open(event_id)
        on_event = {
            a.person_id: a.status  # type: ignore[attr-defined]
            for a in await Assignment.filter(event_id=event.id)
        }
        people = await Person.filter(active=True).order_by("name")
        offs = await off_for_event([p.id for p in people], event, self.tz)
        result = []
        for person in people:
            conflict = await self.conflict(person, event)
            result.append(Candidate(person, conflict, on_event.get(person.id), offs.get(person.id)))
        return event, result

    async def assign(
        self,
        event_id: int,
        person_ref: str | int,
        role: str,
        *,
        actor: Person,
        chat_id: int | None,
        force: bool = False,
    ) -> Assignment:
        require_manager(actor)
        role = self.clean_role(role)
        event = await self._event_open(event_id)
        person = await PeopleService.find(str(person_ref))
        existing = await Assignment.get_or_none(event_id=event.id, person_id=person.id)
        if existing is not None and existing.status not in REINVITABLE:
            raise AlreadyAssigned(
                f"{person.name} is already on {event.title} ({existing.status.value}, "
                f"as {existing.role}). Send /event {event.id} to see the crew."
            )
        other = await self.conflict(person, event)
        if other is not None and not force:
            raise Overlap(
                f"{person.name} is confirmed on {other.title} ({self.when(other.call_at)} to "
                f"{self.when(other.ends_at)}), which overlaps {event.title}.",
                other,
            )
        off = (await off_for_event([person.id], event, self.tz)).get(person.id)
        if off is not None and not force:
            today = self.clock.now().astimezone(self.tz).date()
            raise PersonOff(
                f"{person.name} is off {format_days(off.first_day, off.last_day, today)}"
                f"{f' ({off.reason})' if off.reason else ''}, during {event.title} "
                f"({self.when(event.call_at)})."
            )
        now = self.clock.now()
        if existing is not None:
            return await self._reinvite(existing, event, person, role, actor, chat_id, other)
        try:
            async with in_transaction() as conn:
                assignment = await Assignment.create(
                    event=event,
                    person=person,
                    role=role,
                    invited_at=now,
                    updated_at=now,
                    using_db=conn,
                )
                await audit.record(
                    AuditAction.ASSIGNMENT_INVITED,
                    "assignment",
                    assignment.id,
                    at=now,
                    actor=actor,
                    chat_id=chat_id,
                    details={
                        "event_id": event.id,
                        "person": person.name,
                        "role": role,
                        "despite_overlap": other.title if other else None,
                        "despite_day_off": off.id if off else None,
                    },
                    using_db=conn,
                )
                await self._invite(assignment, event, person, actor, f"{assignment.id}", conn)
        except IntegrityError as exc:  # the same person assigned twice at the same moment
            raise AlreadyAssigned(f"{person.name} was just assigned to {event.title}.") from exc
        self.outbox.wake()
        assignment.person = person
        assignment.event = event
        return assignment

    async def _invite(
        self,
        assignment: Assignment,
        event: Event,
        person: Person,
        actor: Person,
        key: str,
        conn: BaseDBAsyncClient,
    ) -> None:
        context = self._context(assignment, event, actor)
        await ask_to_answer(
            self,
            person,
            NotificationKind.INVITATION,
            context,
            assignment,
            event,
            f"invitation:{key}",
            conn,
        )

    async def _reinvite(
        self,
        assignment: Assignment,
        event: Event,
        person: Person,
        role: str,
        actor: Person,
        chat_id: int | None,
        other: Event | None,
    ) -> Assignment:
        """Someone who declined (or was taken off) is asked again: the same row goes back to
        invited, its history stays, and they get a fresh invitation below their old one."""
        now = self.clock.now()
        async with in_transaction() as conn:
            previous = assignment.status
            updated = (
                await Assignment.filter(id=assignment.id, status=previous)
                .using_db(conn)
                .update(
                    status=AssignmentStatus.INVITED,
                    role=role,
                    invited_at=now,
                    responded_at=None,
                    decline_reason=None,
                    briefing_read_at=None,
                    updated_at=now,
                )
            )
            if not updated:
                raise AlreadyAssigned(f"{person.name}'s answer changed just now. Please try again.")
            assignment.status, assignment.role = AssignmentStatus.INVITED, role
            assignment.invited_at = assignment.updated_at = now
            assignment.responded_at = assignment.decline_reason = None
            assignment.briefing_read_at = None
            await audit.record(
                AuditAction.ASSIGNMENT_REINVITED,
                "assignment",
                assignment.id,
                at=now,
                actor=actor,
                chat_id=chat_id,
                details={
                    "event_id": event.id,
                    "person": person.name,
                    "role": role,
                    "from": previous.value,
                    "despite_overlap": other.title if other else None,
                },
                using_db=conn,
            )
            # A fresh message, not an edit of the old one far up the chat.
            await LiveMessage.filter(key=f"asg:{assignment.id}").using_db(conn).delete()
            invites = (
                await AuditLog.filter(
                    subject_type="assignment",
                    subject_id=assignment.id,
                    action=AuditAction.ASSIGNMENT_REINVITED,
                )
                .using_db(conn)
                .count()
            )
            await self._invite(
                assignment, event, person, actor, f"{assignment.id}:again{invites}", conn
            )
        self.outbox.wake()
        assignment.person = person
        assignment.event = event
        return assignment

    def _context(self, assignment: Assignment, event: Event, manager: Person) -> dict[str, Any]:
        return {"event": event, "assignment": assignment, "manager": manager}
