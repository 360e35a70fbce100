"""Changing a scheduled event: one field at a time, crew told what changed."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from models import (
    Assignment,
    AssignmentStatus,
    AuditAction,
    Event,
    EventNeed,
    EventStatus,
    NotificationKind,
    OutboxMessage,
    Person,
)
from services import audit
from services.dates import DateError, parse_when
from services.errors import require_manager
from services.events._chat import TELEGRAM_LIMIT, invitation_rows, longest_chat
from services.events._errors import EventClosed, EventNotFound, InvalidEvent
from services.events._fields import EventFields
from services.events._model import FIELD_LABELS, Change, Edited, EditField, Needs, _short


class EventEdits(EventFields):
    async def get(self, event_id: int, conn: BaseDBAsyncClient | None = None) -> Event:
        event = await Event.get_or_none(id=event_id, using_db=conn)
        if event is None:
            raise EventNotFound(f"There is no event #{event_id}. Send /events to see the list.")
        return event

    async def _open_for_change(self, event_id: int, conn: BaseDBAsyncClient) -> Event:
        query = Event.filter(id=event_id).using_db(conn)
        if conn.capabilities.dialect == "postgres":
            query = query.select_for_update()
        event = await query.first()
        if event is None:
            raise EventNotFound(f"There is no event #{event_id}. Send /events to see the list.")
        if event.status is not EventStatus.SCHEDULED:
            raise EventClosed(f"{event.title} is {event.status.value}; it can no longer change.")
        return event

    async def edit(
        self, event_id: int, what: EditField, value: str, *, actor: Person, chat_id: int | None
    ) -> Edited:
        """Saves one change. Confirmed crew and those who have not answered yet are told what
        changed, and an invitation still waiting for its answer is edited to show it."""
        require_manager(actor)
        async with in_transaction() as conn:
            event = await self._open_for_change(event_id, conn)
            if what is EditField.CREW:
                changes = await self._change_needs(event, value, conn)
            else:
                changes = self._apply(event, what, value)
            if not changes:
                return Edited([])
            event.updated_at = now = self.clock.now()
            await event.save(using_db=conn)
            await audit.record(
                AuditAction.EVENT_EDITED,
                "event",
                event.id,
                at=now,
                actor=actor,
                chat_id=chat_id,
                details={"changes": [[c.label, c.before, c.after] for c in changes]},
                using_db=conn,
            )
            if what in {EditField.START, EditField.END, EditField.CALL}:
                await self.scheduler.plan_event(event, conn)
            if what is EditField.CREW:
                return Edited(changes)
            told = await self._tell_about_change(event, changes, now, conn)
        self.outbox.wake()
        return told

    async def _tell_about_change(
        self, event: Event, changes: list[Change], now: datetime, conn: BaseDBAsyncClient
    ) -> Edited:
        assignments = (
            await Assignment.filter(
                event_id=event.id,
                status__in=[AssignmentStatus.CONFIRMED, AssignmentStatus.INVITED],
            )
            .using_db(conn)
            .order_by("id")
            .prefetch_related("person")
        )
        manager = await Person.get(id=event.manager_id).using_db(conn)  # type: ignore[attr-defined]
        rows: list[OutboxMessage] = []
        told = Counter[AssignmentStatus]()
        for a in assignments:
            if a.status is AssignmentStatus.INVITED:
                # The invitation they still have to answer shows the new details. (Confirmed
                # crew have answered: the notice is enough, and an edit would cost each chat
                # a second message against Telegram's per-chat limit.)
                rows += invitation_rows(self.notifier, a, event, manager, now)
            told[a.status] += 1
            rows += self.notifier.prepare(
                a.person,
                NotificationKind.EVENT_CHANGED,
                {"event": event, "assignment": a, "changes": changes},
            )
        longest = longest_chat(rows)
        if longest > TELEGRAM_LIMIT:
            raise InvalidEvent(
                f"With this change the message to crew would be {longest:,} characters, and "
                f"Telegram takes {TELEGRAM_LIMIT:,}. Shorten it by {longest - TELEGRAM_LIMIT:,}."
            )
        await self.notifier.supersede(rows, conn)
        await OutboxMessage.bulk_create(rows, using_db=conn)
        return Edited(changes, told[AssignmentStatus.CONFIRMED], told[AssignmentStatus.INVITED])

    async def needs_of(self, event: Event, conn: BaseDBAsyncClient | None = None) -> Needs:
        rows = await EventNeed.filter(event_id=event.id).using_db(conn).order_by("id")
        return Needs(event.crew_target, tuple((n.role, n.count) for n in rows))

    async def save_needs(self, event: Event, needs: Needs, conn: BaseDBAsyncClient) -> None:
        await EventNeed.filter(event_id=event.id).using_db(conn).delete()
        if needs.roles:
            await EventNeed.bulk_create(
                [EventNeed(event_id=event.id, role=r, count=n) for r, n in needs.roles],
                using_db=conn,
            )

    async def _change_needs(
        self, event: Event, value: str, conn: BaseDBAsyncClient
    ) -> list[Change]:
        """`crew 4` (any role) or `rigger 3, sound engineer 1`: the event's needs replaced."""
        before, after = await self.needs_of(event, conn), self.parse_needs(value)
        if str(before) == str(after):
            return []
        event.crew_target = after.total
        await self.save_needs(event, after, conn)
        return [Change(FIELD_LABELS[EditField.CREW], str(before), str(after))]

    def _apply(self, event: Event, what: EditField, value: str) -> list[Change]:
        label = FIELD_LABELS[what]
        if what is EditField.TITLE:
            new_title = self.clean_title(value)
            change = Change(label, event.title, new_title)
            event.title = new_title
        elif what is EditField.VENUE:
            new_venue = self.clean_venue(value)
            change = Change(label, event.venue, new_venue)
            event.venue = new_venue
        elif what is EditField.NOTES:
            new_notes = self.clean_notes(value)
            if new_notes == event.notes:
                return []
            change = Change(label, _short(event.notes) or "(none)", _short(new_notes) or "(none)")
            event.notes = new_notes
        elif what is EditField.START:
            now = self.clock.now()
            try:
                starts = parse_when(value, now=now, tz=self.tz, day_of=event.starts_at)
            except DateError as exc:
                raise InvalidEvent(f"Start: {exc}") from exc
            if starts <= now:
                raise InvalidEvent(f"The start, {self.when(starts)}, is in the past.")
            # The call time and end move with the start, keeping their distance to it.
            shift = starts - event.starts_at
            if not shift:
                return []
            moved = [
                Change(label, self.when(event.starts_at), self.when(starts)),
                Change(
                    FIELD_LABELS[EditField.END],
                    self.when(event.ends_at),
                    self.when(event.ends_at + shift),
                ),
                Change(
                    FIELD_LABELS[EditField.CALL],
                    self.when(event.call_at),
                    self.when(event.call_at + shift),
                ),
            ]
            event.starts_at, event.ends_at, event.call_at = (
                starts,
                event.ends_at + shift,
                event.call_at + shift,
            )
            if event.call_at <= now:
                raise InvalidEvent(
                    f"With that start the call time would be {self.when(event.call_at)}, "
                    "which is in the past. Change the call time first."
                )
            return moved
        elif what is EditField.END:
            ends = self.parse_end(value, event.starts_at)
            change = Change(label, self.when(event.ends_at), self.when(ends))
            event.ends_at = ends
        else:
            call = self.parse_call(value, event.starts_at)
            change = Change(label, self.when(event.call_at), self.when(call))
            event.call_at = call
        return [] if change.before == change.after else [change]
