"""Assignments: inviting (`_invite.py`), answers (`_answer.py`), `/my`, reminders on
demand and briefings."""

from __future__ import annotations

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from models import (
    Assignment,
    AssignmentStatus,
    AuditAction,
    Briefing,
    Event,
    EventDocument,
    EventStatus,
    NotificationKind,
    OutboxMessage,
    Person,
)
from services import audit
from services.assignments._answer import Answering
from services.assignments._errors import AnswerRefused, AssignmentError, TooLong
from services.assignments._model import MyPage, MySection
from services.availability import off_for_event
from services.buttons.assignments import read_button
from services.errors import require_manager
from services.eventdocs import with_documents
from services.events import TELEGRAM_LIMIT, longest_chat
from services.phones import display_phone


class AssignmentService(Answering):
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

    async def remind_now(
        self, event_id: int, *, actor: Person, chat_id: int | None
    ) -> tuple[int, list[str]]:
        """Remind the event's confirmed crew now; those who marked a day of it off are left
        out. Returns how many were reminded, and the names left out."""
        require_manager(actor)
        event = await self._event_open(event_id)
        async with in_transaction() as conn:
            confirmed = await self._confirmed(event, conn)
            if not confirmed:
                raise AssignmentError(
                    f"No one has confirmed {event.title} yet, so no one to remind."
                )
            off = await off_for_event([a.person.id for a in confirmed], event, self.tz, conn)
            away = [a.person.name for a in confirmed if a.person.id in off]
            confirmed = [a for a in confirmed if a.person.id not in off]
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
                details={"sent_to": len(confirmed), "off": away},
                using_db=conn,
            )
        self.outbox.wake()
        return len(confirmed), away

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
            documents = (
                await EventDocument.filter(event_id=event.id)
                .using_db(conn)
                .order_by("added_at", "id")
            )
            rows: list[OutboxMessage] = []
            for a in confirmed:
                rows += self.notifier.prepare(
                    a.person,
                    NotificationKind.BRIEFING,
                    {
                        "event": event,
                        "assignment": a,
                        "roster": roster,
                        "text": body,
                        "documents": documents,
                    },
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
            rows = with_documents(rows, documents, briefing.id, f"#{event.id} {event.title}")
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
