"""Assignments: inviting crew, their answers, reminders on demand, briefings, and `/my`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from models import (
    Assignment,
    AssignmentStatus,
    AuditAction,
    AuditLog,
    Briefing,
    Channel,
    Event,
    EventStatus,
    LiveMessage,
    NotificationKind,
    OutboxMessage,
    Person,
)
from services import audit
from services.clock import Clock, format_when
from services.errors import (
    CallsheetError,
    Conflict,
    InvalidInput,
    NotAllowed,
    require_manager,
)
from services.events import (
    TELEGRAM_LIMIT,
    EventNotFound,
    invitation_rows,
    longest_chat,
)
from services.keyboards import answer_buttons, read_button
from services.notifications import Notifier
from services.outbox import Outbox
from services.people import PeopleService
from services.phones import display_phone
from services.scheduler import Scheduler


class AssignmentError(CallsheetError):
    pass


class AlreadyAssigned(AssignmentError, Conflict):
    pass


class Overlap(AssignmentError, Conflict):
    """The person is confirmed on an overlapping event; the manager must say "assign anyway"."""

    def __init__(self, message: str, other: Event) -> None:
        super().__init__(message)
        self.other = other


class AnswerRefused(AssignmentError, Conflict):
    """A press that cannot change anything (stale, someone else's, too late)."""


class TooLong(AssignmentError, InvalidInput):
    """The message would not fit in one Telegram message."""


# How long after declining the next plain message someone sends is taken as the reason.
REASON_WINDOW = timedelta(hours=1)
REASON_LIMIT = 500


class Answer(StrEnum):
    CONFIRM = "confirm"
    DECLINE = "decline"


# Who can be invited again to the same event: the row goes back to invited.
REINVITABLE = (AssignmentStatus.DECLINED, AssignmentStatus.CANCELLED)

ASSIGN_FORMAT = (
    "/assign <event id> | <person id or phone> | <role>, e.g. /assign 12 | 0712345678 | rigger"
)


@dataclass(frozen=True)
class Candidate:
    person: Person
    conflict: Event | None  # confirmed on this overlapping event
    status: AssignmentStatus | None  # already on this event


@dataclass(frozen=True)
class Response:
    assignment: Assignment
    event: Event
    previous: AssignmentStatus
    changed: bool


class MySection(StrEnum):
    """The parts of `/my`, in the order they are shown."""

    PENDING = "pending"  # waiting for the person's answer
    UPCOMING = "upcoming"  # confirmed, not over yet
    PAST = "past"
    DECLINED = "declined"


@dataclass
class MyPage:
    """One page of a person's assignments, each with its event loaded."""

    entries: list[tuple[MySection, Assignment]] = field(default_factory=list)
    page: int = 0
    pages: int = 0


class AssignmentService:
    def __init__(
        self, notifier: Notifier, outbox: Outbox, scheduler: Scheduler, clock: Clock, tz: ZoneInfo
    ) -> None:
        self.notifier = notifier
        self.outbox = outbox
        self.scheduler = scheduler
        self.clock = clock
        self.tz = tz

    def when(self, value: datetime) -> str:
        return format_when(value, self.tz, self.clock.now())

    # --- assigning ---------------------------------------------------------------------

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
        result = []
        for person in await Person.filter(active=True).order_by("name"):
            result.append(
                Candidate(person, await self.conflict(person, event), on_event.get(person.id))
            )
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
        await self.notifier.notify(
            person,
            NotificationKind.INVITATION,
            context,
            buttons=answer_buttons(assignment.id),
            live_key=f"asg:{assignment.id}",
            dedupe_key=f"invitation:{key}",
            channels=(Channel.TELEGRAM,),
            using_db=conn,
        )
        await self.notifier.notify(
            person,
            NotificationKind.INVITATION,
            context,
            dedupe_key=f"invitation:{key}",
            channels=(Channel.EMAIL,),
            using_db=conn,
        )
        await self.scheduler.plan_assignment(assignment, event, conn)

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

    # --- answers -----------------------------------------------------------------------

    async def _load_for(
        self, assignment_id: int, person: Person, conn: BaseDBAsyncClient
    ) -> tuple[Assignment, Event, Person]:
        """The assignment (locked on PostgreSQL), its event and the event's manager, in one
        query; refused if it is not `person`'s or can no longer be answered."""
        query = (
            Assignment.filter(id=assignment_id)
            .select_related("event", "event__manager")
            .using_db(conn)
        )
        if conn.capabilities.dialect == "postgres":
            # Only the assignment: every answer to one event joins the same event row.
            query = query.select_for_update(of=(Assignment._meta.db_table,))
        assignment = await query.first()
        if assignment is None:
            raise AnswerRefused("This invitation no longer exists. Nothing was changed.")
        if assignment.person_id != person.id:  # type: ignore[attr-defined]
            raise NotAllowed("This invitation is not yours. Nothing was changed.")
        event = assignment.event
        if event.status is EventStatus.CANCELLED or assignment.status is AssignmentStatus.CANCELLED:
            raise AnswerRefused(f"{event.title} was cancelled, so there is nothing to answer.")
        if event.status is EventStatus.COMPLETED or assignment.status is AssignmentStatus.COMPLETED:
            raise AnswerRefused(f"{event.title} is finished, so answers are closed.")
        assignment.person = person
        return assignment, event, event.manager

    async def respond(
        self,
        assignment_id: int,
        answer: Answer,
        *,
        person: Person,
        chat_id: int | None,
        wake_outbox: bool = True,
    ) -> Response:
        """Record the answer with its time, and queue the invitation's edit and the
        manager's message in the same transaction. `wake_outbox=False`: the caller wakes
        the dispatchers itself (the button handler answers the press first)."""
        now = self.clock.now()
        async with in_transaction() as conn:
            assignment, event, manager = await self._load_for(assignment_id, person, conn)
            if now >= event.call_at:
                raise AnswerRefused(
                    f"The call time for {event.title} ({self.when(event.call_at)}) has passed, "
                    f"so answers are closed. Call {manager.name} on "
                    f"{display_phone(manager.phone)} if something changed."
                )
            previous = assignment.status
            new = (
                AssignmentStatus.CONFIRMED
                if answer is Answer.CONFIRM
                else AssignmentStatus.DECLINED
            )
            if previous is new:
                await self._show_invitation(assignment, event, manager, conn)
                return Response(assignment, event, previous, changed=False)
            updated = (
                await Assignment.filter(id=assignment.id, status=previous)
                .using_db(conn)
                .update(status=new, responded_at=now, decline_reason=None, updated_at=now)
            )
            if not updated:
                raise AnswerRefused("Your answer changed at the same moment. Please try again.")
            assignment.status, assignment.responded_at = new, now
            assignment.decline_reason = None
            assignment.updated_at = now
            await audit.record(
                AuditAction.answer(new),
                "assignment",
                assignment.id,
                at=now,
                actor=person,
                chat_id=chat_id,
                details={"event_id": event.id, "from": previous.value, "role": assignment.role},
                using_db=conn,
            )
            rows = self._invitation_rows(assignment, event, manager)
            rows += self.notifier.prepare(
                manager,
                NotificationKind.ANSWER,
                {
                    "event": event,
                    "assignment": assignment,
                    "crew": person,
                    "previous": previous.value,
                    "dropped_out": previous is AssignmentStatus.CONFIRMED,
                },
            )
            await self.notifier.supersede(rows, conn)
            await OutboxMessage.bulk_create(rows, using_db=conn)
            await self.scheduler.plan_assignment(assignment, event, conn)
        if wake_outbox:
            self.outbox.wake()
        return Response(assignment, event, previous, changed=True)

    def _invitation_rows(
        self, assignment: Assignment, event: Event, manager: Person
    ) -> list[OutboxMessage]:
        """The edit of the invitation in the person's chat that shows where things stand."""
        return invitation_rows(self.notifier, assignment, event, manager, self.clock.now())

    async def _show_invitation(
        self, assignment: Assignment, event: Event, manager: Person, conn: BaseDBAsyncClient
    ) -> None:
        rows = self._invitation_rows(assignment, event, manager)
        await self.notifier.supersede(rows, conn)
        await OutboxMessage.bulk_create(rows, using_db=conn)

    async def reopen(self, assignment_id: int, *, person: Person) -> Assignment:
        """'Change my answer': show Confirm / Decline again; nothing changes until one is pressed."""
        async with in_transaction() as conn:
            assignment, event, manager = await self._load_for(assignment_id, person, conn)
            if self.clock.now() >= event.call_at:
                raise AnswerRefused(
                    f"The call time for {event.title} ({self.when(event.call_at)}) has passed, "
                    "so answers are closed."
                )
            await self.notifier.notify(
                person,
                NotificationKind.INVITATION,
                {**self._context(assignment, event, manager), "changing": True},
                buttons=answer_buttons(assignment.id),
                live_key=f"asg:{assignment.id}",
                channels=(Channel.TELEGRAM,),
                using_db=conn,
            )
        self.outbox.wake()
        return assignment

    async def awaiting_reason(self, person: Person) -> int | None:
        """The invitation `person` declined in the last hour and has given no reason for (nor
        tapped Skip): their next plain message is that reason."""
        found = (
            await Assignment.filter(
                person_id=person.id,
                status=AssignmentStatus.DECLINED,
                decline_reason__isnull=True,
                responded_at__gte=self.clock.now() - REASON_WINDOW,
            )
            .order_by("-responded_at", "-id")
            .first()
        )
        return found.id if found else None

    async def skip_reason(self, assignment_id: int, *, person: Person) -> None:
        """'Skip': no reason is coming, so the next message is not taken as one."""
        async with in_transaction() as conn:
            assignment, _, _ = await self._load_for(assignment_id, person, conn)
            if assignment.status is AssignmentStatus.DECLINED and assignment.decline_reason is None:
                await (
                    Assignment.filter(id=assignment.id, decline_reason__isnull=True)
                    .using_db(conn)
                    .update(decline_reason="", updated_at=self.clock.now())
                )

    async def give_reason(
        self, assignment_id: int, reason: str, *, person: Person, chat_id: int | None
    ) -> Assignment:
        text = " ".join(reason.split())
        if not text:
            raise AssignmentError("The reason is empty. Type it in a few words, or tap Skip.")
        if len(text) > REASON_LIMIT:
            raise AssignmentError(
                f"The reason is {len(text)} characters; keep it under {REASON_LIMIT}. "
                "Send it again, shorter."
            )
        async with in_transaction() as conn:
            assignment, event, manager = await self._load_for(assignment_id, person, conn)
            if assignment.status is not AssignmentStatus.DECLINED:
                raise AnswerRefused(
                    "You have not declined this invitation, so no reason is needed."
                )
            assignment.decline_reason = text
            assignment.updated_at = now = self.clock.now()
            await assignment.save(using_db=conn, update_fields=["decline_reason", "updated_at"])
            await audit.record(
                AuditAction.ASSIGNMENT_REASON,
                "assignment",
                assignment.id,
                at=now,
                actor=person,
                chat_id=chat_id,
                details={"reason": text},
                using_db=conn,
            )
            await self.notifier.notify(
                manager,
                NotificationKind.ANSWER,
                {
                    "event": event,
                    "assignment": assignment,
                    "crew": person,
                    "previous": AssignmentStatus.DECLINED.value,
                    "dropped_out": False,
                    "reason_only": True,
                },
                using_db=conn,
            )
        self.outbox.wake()
        return assignment

    # --- crew's own view ---------------------------------------------------------------

    def _my_sections(self) -> dict[MySection, tuple[Q, tuple[str, ...]]]:
        """Each part of `/my` as a filter on assignments, and its order."""
        now = self.clock.now()
        finished = Q(event__status=EventStatus.COMPLETED) | Q(event__ends_at__lte=now)
        soonest = ("event__starts_at", "-invited_at", "id")
        return {
            MySection.PENDING: (
                Q(status=AssignmentStatus.INVITED)
                & Q(event__status=EventStatus.SCHEDULED)
                & Q(event__ends_at__gt=now)
                & Q(event__call_at__gt=now),
                soonest,
            ),
            MySection.UPCOMING: (
                Q(status=AssignmentStatus.CONFIRMED)
                & ~Q(event__status=EventStatus.COMPLETED)
                & Q(event__ends_at__gt=now),
                soonest,
            ),
            MySection.PAST: (
                Q(status=AssignmentStatus.COMPLETED)
                | (Q(status=AssignmentStatus.CONFIRMED) & finished),
                ("-event__starts_at", "invited_at", "-id"),
            ),
            MySection.DECLINED: (Q(status=AssignmentStatus.DECLINED), soonest),
        }

    async def my(self, person: Person, page: int = 0, per_page: int = 8) -> MyPage:
        """Page `page` of the person's assignments: waiting for an answer, coming up, past
        (newest first), declined. The database counts each part and returns only the
        page's rows, so a person with 1,000 assignments costs no more than one with 10."""
        sections = self._my_sections()
        mine = Assignment.filter(person_id=person.id)
        counts = {s: await mine.filter(q).count() for s, (q, _) in sections.items()}
        total = sum(counts.values())
        if not total:
            return MyPage()
        pages = (total + per_page - 1) // per_page
        page = max(0, min(page, pages - 1))
        start, end = page * per_page, (page + 1) * per_page
        entries: list[tuple[MySection, Assignment]] = []
        before = 0  # rows in the sections before this one
        for section, (q, order) in sections.items():
            first, last = max(start - before, 0), min(end - before, counts[section])
            if first < last:
                rows = (
                    await mine.filter(q)
                    .order_by(*order)
                    .offset(first)
                    .limit(last - first)
                    .prefetch_related("event")
                )
                entries += [(section, a) for a in rows]
            before += counts[section]
        return MyPage(entries, page, pages)

    # --- reminders and briefings -------------------------------------------------------

    async def _confirmed(
        self, event: Event, conn: BaseDBAsyncClient | None = None
    ) -> list[Assignment]:
        return list(
            await Assignment.filter(event_id=event.id, status=AssignmentStatus.CONFIRMED)
            .using_db(conn)
            .order_by("id")
            .prefetch_related("person")
        )

    async def remind_now(self, event_id: int, *, actor: Person, chat_id: int | None) -> int:
        require_manager(actor)
        event = await self._event_open(event_id)
        async with in_transaction() as conn:
            confirmed = await self._confirmed(event, conn)
            if not confirmed:
                raise AssignmentError(
                    f"No one has confirmed {event.title} yet, so no one to remind."
                )
            for a in confirmed:
                await self.notifier.notify(
                    a.person,
                    NotificationKind.REMINDER,
                    {"event": event, "assignment": a, "until": None},
                    using_db=conn,
                )
            await audit.record(
                AuditAction.EVENT_REMINDED,
                "event",
                event.id,
                at=self.clock.now(),
                actor=actor,
                chat_id=chat_id,
                details={"sent_to": len(confirmed)},
                using_db=conn,
            )
        self.outbox.wake()
        return len(confirmed)

    async def brief(self, event_id: int, text: str, *, actor: Person, chat_id: int | None) -> int:
        require_manager(actor)
        body = text.strip()
        if not body:
            raise AssignmentError("The briefing is empty. Type what the crew need to know.")
        if len(body) > 3000:
            raise AssignmentError(f"The briefing is {len(body)} characters; keep it under 3000.")
        event = await self._event_open(event_id)
        async with in_transaction() as conn:
            confirmed = await self._confirmed(event, conn)
            if not confirmed:
                raise AssignmentError(
                    f"No one has confirmed {event.title} yet, so there is no one to brief."
                )
            now = self.clock.now()
            briefing = await Briefing.create(
                event=event, text=body, sent_by=actor, created_at=now, using_db=conn
            )
            await (
                Assignment.filter(id__in=[a.id for a in confirmed])
                .using_db(conn)
                .update(briefing_read_at=None, updated_at=now)
            )
            roster = [
                {"name": a.person.name, "role": a.role, "phone": display_phone(a.person.phone)}
                for a in confirmed
            ]
            rows: list[OutboxMessage] = []
            for a in confirmed:
                rows += self.notifier.prepare(
                    a.person,
                    NotificationKind.BRIEFING,
                    {"event": event, "assignment": a, "roster": roster, "text": body},
                    buttons=read_button(a.id),
                    dedupe_key=f"briefing:{briefing.id}:{a.id}",
                )
            longest = longest_chat(rows)
            if longest > TELEGRAM_LIMIT:  # refused before anything is queued: nothing half-sent
                over = longest - TELEGRAM_LIMIT
                raise TooLong(
                    f"With the event details and the crew list this briefing comes to "
                    f"{longest:,} characters, and Telegram takes {TELEGRAM_LIMIT:,} in one "
                    f"message. Shorten it by {over:,} characters (or shorten the event's "
                    f"notes with /editevent {event.id} | notes | …). Nothing was sent."
                )
            await OutboxMessage.bulk_create(rows, using_db=conn)
            await audit.record(
                AuditAction.EVENT_BRIEFED,
                "event",
                event.id,
                at=now,
                actor=actor,
                chat_id=chat_id,
                details={"sent_to": len(confirmed), "text": body[:200]},
                using_db=conn,
            )
        self.outbox.wake()
        return len(confirmed)

    async def acknowledge(
        self, assignment_id: int, *, person: Person, chat_id: int | None
    ) -> Assignment:
        async with in_transaction() as conn:
            assignment, event, _ = await self._load_for(assignment_id, person, conn)
            if assignment.status is not AssignmentStatus.CONFIRMED:
                raise AnswerRefused("You are not confirmed on this event any more.")
            if assignment.briefing_read_at is None:
                assignment.briefing_read_at = assignment.updated_at = now = self.clock.now()
                await assignment.save(
                    using_db=conn, update_fields=["briefing_read_at", "updated_at"]
                )
                await audit.record(
                    AuditAction.ASSIGNMENT_BRIEFING_READ,
                    "assignment",
                    assignment.id,
                    at=now,
                    actor=person,
                    chat_id=chat_id,
                    details={"event_id": event.id},
                    using_db=conn,
                )
        return assignment
