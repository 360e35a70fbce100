"""Events: create, list, show, complete, cancel, and their history (edits: `_edit.py`)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from tortoise.functions import Count
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from models import (
    Assignment,
    AssignmentStatus,
    AuditAction,
    AuditLog,
    Briefing,
    Event,
    EventStatus,
    NotificationKind,
    Person,
    WebhookEventType,
)
from services import audit, webhooks
from services.errors import require_manager
from services.events._edit import EventEdits
from services.events._errors import InvalidEvent
from services.events._model import (
    EventCard,
    EventDraft,
    EventSummary,
    Needs,
    RoleNeed,
    counts_from,
    counts_of,
)


class EventService(EventEdits):
    async def create(self, draft: EventDraft, *, actor: Person, chat_id: int | None) -> Event:
        require_manager(actor)
        if draft.starts_at is None or draft.ends_at is None:
            raise InvalidEvent("The event needs a start and an end.")
        now = self.clock.now()
        async with in_transaction() as conn:
            event = await Event.create(
                created_at=now,
                updated_at=now,
                title=draft.title,
                venue=draft.venue,
                starts_at=draft.starts_at,
                ends_at=draft.ends_at,
                call_at=draft.call_at or draft.starts_at,
                notes=draft.notes,
                crew_target=draft.crew_target,
                manager=actor,
                using_db=conn,
            )
            needs = getattr(draft, "needs", ())  # a draft pickled before needs per role: none
            await self.save_needs(event, Needs(draft.crew_target, tuple(needs)), conn)
            await audit.record(
                AuditAction.EVENT_CREATED,
                "event",
                event.id,
                at=now,
                actor=actor,
                chat_id=chat_id,
                details={
                    "title": event.title,
                    "starts": self.when(event.starts_at),
                    "venue": event.venue,
                },
                using_db=conn,
            )
            await webhooks.emit(
                WebhookEventType.EVENT_CREATED, webhooks.event_data(event), at=now, using_db=conn
            )
            await self.scheduler.plan_event(event, conn)
        return event

    def _upcoming(self) -> QuerySet[Event]:
        return Event.filter(status=EventStatus.SCHEDULED, ends_at__gt=self.clock.now())

    async def count_upcoming(self, actor: Person) -> int:
        require_manager(actor)
        return await self._upcoming().count()

    async def upcoming(
        self, actor: Person, *, offset: int = 0, limit: int | None = None
    ) -> list[EventSummary]:
        """Scheduled events not yet over, soonest first (`limit` of them from `offset`),
        with their crew counts counted by the database."""
        require_manager(actor)
        query = self._upcoming().order_by("starts_at", "id")
        if limit is not None:
            query = query.offset(max(offset, 0)).limit(limit)
        events = await query
        tallies: dict[int, Counter[AssignmentStatus]] = {}
        if events:
            rows = (
                await Assignment.filter(event_id__in=[e.id for e in events])
                .annotate(n=Count("id"))
                .group_by("event_id", "status")
                .values("event_id", "status", "n")
            )
            for row in rows:
                tallies.setdefault(row["event_id"], Counter())[AssignmentStatus(row["status"])] = (
                    row["n"]
                )
        return [EventSummary(e, counts_from(tallies.get(e.id, {}), e.crew_target)) for e in events]

    async def card(self, event_id: int, *, actor: Person) -> EventCard:
        require_manager(actor)
        event = await self.get(event_id)
        assignments = (
            await Assignment.filter(event_id=event.id).order_by("id").prefetch_related("person")
        )
        card = EventCard(event, counts_of(list(assignments), event.crew_target))
        for a in assignments:
            card.by_status.setdefault(a.status, []).append(a)
        card.briefing = await Briefing.filter(event_id=event.id).order_by("-id").first()
        working = (AssignmentStatus.CONFIRMED, AssignmentStatus.COMPLETED)
        for role, count in (await self.needs_of(event)).roles:
            filled = sum(1 for a in assignments if a.role == role and a.status in working)
            card.needs.append(RoleNeed(role, filled, count))
        return card

    async def set_auto_backups(
        self, event_id: int, on: bool, *, actor: Person, chat_id: int | None
    ) -> Event:
        """The card's "Auto backups: on/off". Off: nothing more is offered to backups (the
        answer deadlines are dropped); on: they are planned again."""
        require_manager(actor)
        async with in_transaction() as conn:
            event = await self._open_for_change(event_id, conn)
            if event.auto_backups is on:
                return event
            event.auto_backups = on
            event.updated_at = now = self.clock.now()
            await event.save(using_db=conn, update_fields=["auto_backups", "updated_at"])
            change = ["Auto backups", "off" if on else "on", "on" if on else "off"]
            await audit.record(
                AuditAction.EVENT_EDITED,
                "event",
                event.id,
                at=now,
                actor=actor,
                chat_id=chat_id,
                details={"changes": [change]},
                using_db=conn,
            )
            await self.scheduler.plan_event(event, conn)
        return event

    async def complete(self, event_id: int, *, actor: Person, chat_id: int | None) -> int:
        require_manager(actor)
        async with in_transaction() as conn:
            event = await self._open_for_change(event_id, conn)
            now = self.clock.now()
            if now < event.starts_at:
                raise InvalidEvent(
                    f"{event.title} has not started yet (starts {self.when(event.starts_at)}). "
                    "If it is not happening, cancel it instead."
                )
            event.status = EventStatus.COMPLETED
            event.updated_at = now
            await event.save(using_db=conn, update_fields=["status", "updated_at"])
            done = (
                await Assignment.filter(event_id=event.id, status=AssignmentStatus.CONFIRMED)
                .using_db(conn)
                .update(status=AssignmentStatus.COMPLETED, updated_at=now)
            )
            await (
                Assignment.filter(event_id=event.id, status=AssignmentStatus.INVITED)
                .using_db(conn)
                .update(status=AssignmentStatus.CANCELLED, updated_at=now)
            )
            await self.scheduler.cancel_for_event(event.id, conn)
            await audit.record(
                AuditAction.EVENT_COMPLETED,
                "event",
                event.id,
                at=now,
                actor=actor,
                chat_id=chat_id,
                details={"completed_assignments": done},
                using_db=conn,
            )
        return done

    async def cancel(self, event_id: int, *, actor: Person, chat_id: int | None) -> int:
        """Cancels the event; everyone invited or confirmed is told. Returns how many."""
        require_manager(actor)
        async with in_transaction() as conn:
            event = await self._open_for_change(event_id, conn)
            now = self.clock.now()
            event.status = EventStatus.CANCELLED
            event.updated_at = now
            await event.save(using_db=conn, update_fields=["status", "updated_at"])
            affected = (
                await Assignment.filter(
                    event_id=event.id,
                    status__in=[AssignmentStatus.INVITED, AssignmentStatus.CONFIRMED],
                )
                .using_db(conn)
                .prefetch_related("person")
            )
            for a in affected:
                a.status = AssignmentStatus.CANCELLED
                a.updated_at = now
                await a.save(using_db=conn, update_fields=["status", "updated_at"])
                context: dict[str, Any] = {"event": event, "assignment": a, "manager": actor}
                await self.notifier.notify(
                    a.person,
                    NotificationKind.INVITATION,
                    context,
                    live_key=f"asg:{a.id}",
                    using_db=conn,
                )
                await self.notifier.notify(
                    a.person, NotificationKind.EVENT_CANCELLED, context, using_db=conn
                )
            await self.scheduler.cancel_for_event(event.id, conn)
            await audit.record(
                AuditAction.EVENT_CANCELLED,
                "event",
                event.id,
                at=now,
                actor=actor,
                chat_id=chat_id,
                details={"told": len(affected)},
                using_db=conn,
            )
            await webhooks.emit(
                WebhookEventType.EVENT_CANCELLED, webhooks.event_data(event), at=now, using_db=conn
            )
        self.outbox.wake()
        return len(affected)

    async def history(self, event_id: int, *, actor: Person) -> tuple[Event, list[AuditLog]]:
        require_manager(actor)
        event = await self.get(event_id)
        assignment_ids = await Assignment.filter(event_id=event.id).values_list("id", flat=True)
        entries = await AuditLog.filter(subject_type="event", subject_id=event.id)
        if assignment_ids:
            entries += await AuditLog.filter(
                subject_type="assignment",
                subject_id__in=list(assignment_ids),
            )
        entries.sort(key=lambda e: e.id)
        return event, entries
