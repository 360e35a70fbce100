"""Events: create, list, show, edit, complete, cancel, and their history."""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.functions import Count
from tortoise.queryset import QuerySet
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
    NotificationKind,
    OutboxMessage,
    Person,
)
from services import audit
from services.clock import Clock, format_when
from services.dates import DateError, is_time_only, parse_when
from services.errors import (
    CallsheetError,
    Conflict,
    InvalidInput,
    NotFound,
    require_manager,
)
from services.keyboards import answer_buttons, change_button
from services.notifications import Keyboard, Notifier
from services.outbox import Outbox
from services.scheduler import Scheduler


class EventError(CallsheetError):
    pass


class InvalidEvent(EventError, InvalidInput):
    pass


class EventNotFound(EventError, NotFound):
    pass


class EventClosed(EventError, Conflict):
    """The event was cancelled or completed: nothing about it can change any more."""


class EditField(StrEnum):
    TITLE = "title"
    START = "start"
    END = "end"
    CALL = "call"
    VENUE = "venue"
    NOTES = "notes"
    CREW = "crew"  # how many crew the event needs: "crew 6" in /newevent too


FIELD_LABELS = {
    EditField.TITLE: "Title",
    EditField.START: "Start",
    EditField.END: "End",
    EditField.CALL: "Call time",
    EditField.VENUE: "Venue",
    EditField.NOTES: "Notes",
    EditField.CREW: "Crew",
}
# Older words still understood, so nobody's habit breaks ("target" was the crew number).
FIELD_ALIASES = {"target": EditField.CREW, "call time": EditField.CALL}

TELEGRAM_LIMIT = 4096  # characters of one chat message, counted after its HTML is read


def parse_field(text: str) -> EditField:
    word = " ".join(text.split()).lower()
    if word in FIELD_ALIASES:
        return FIELD_ALIASES[word]
    try:
        return EditField(word)
    except ValueError:
        names = ", ".join(f.value for f in EditField)
        raise InvalidEvent(
            f"“{text.strip()}” is not something I can change. Fields: {names}."
        ) from None


def chat_length(chat_html: str) -> int:
    """What Telegram counts against its limit: the text once tags and entities are read,
    in UTF-16 code units (an emoji can count as two)."""
    visible = html.unescape(re.sub(r"<[^>]*>", "", chat_html))
    return len(visible.encode("utf-16-le")) // 2


def longest_chat(rows: list[OutboxMessage]) -> int:
    return max((chat_length(r.text) for r in rows if r.channel is Channel.TELEGRAM), default=0)


def invitation_rows(
    notifier: Notifier, assignment: Assignment, event: Event, manager: Person, now: datetime
) -> list[OutboxMessage]:
    """The invitation in the person's chat (a live message) as things stand now: the answer
    buttons while an answer is still open, the event's current details."""
    buttons: Keyboard = ()
    if event.status is EventStatus.SCHEDULED and now < event.call_at:
        if assignment.status is AssignmentStatus.INVITED:
            buttons = answer_buttons(assignment.id)
        elif assignment.status in (AssignmentStatus.CONFIRMED, AssignmentStatus.DECLINED):
            buttons = change_button(assignment.id)
    return notifier.prepare(
        assignment.person,
        NotificationKind.INVITATION,
        {"event": event, "assignment": assignment, "manager": manager},
        buttons=buttons,
        live_key=f"asg:{assignment.id}",
        channels=(Channel.TELEGRAM,),
    )


INLINE_FORMAT = "/newevent Title | 2026-12-05 18:00 | 23:00 | Venue | call 15:00 | notes | crew 6"


@dataclass
class EventDraft:
    title: str = ""
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    venue: str = ""
    call_at: datetime | None = None
    notes: str = ""
    crew_target: int | None = None


@dataclass(frozen=True)
class Counts:
    confirmed: int
    invited: int
    declined: int
    target: int | None

    @property
    def needed(self) -> int:
        return max(0, (self.target or 0) - self.confirmed)


@dataclass(frozen=True)
class EventSummary:
    event: Event
    counts: Counts


@dataclass
class EventCard:
    event: Event
    counts: Counts
    by_status: dict[AssignmentStatus, list[Assignment]] = field(default_factory=dict)
    briefing: Briefing | None = None


@dataclass(frozen=True)
class Change:
    label: str
    before: str
    after: str


@dataclass(frozen=True)
class Edited:
    """What an edit changed, and how many crew are being told (confirmed, not answered)."""

    changes: list[Change]
    confirmed_told: int = 0
    invited_told: int = 0


def _short(text: str, limit: int = 80) -> str:
    """A long value (the notes) quoted in a change line: its start only."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def counts_from(tally: Mapping[AssignmentStatus, int], target: int | None) -> Counts:
    confirmed = tally.get(AssignmentStatus.CONFIRMED, 0) + tally.get(AssignmentStatus.COMPLETED, 0)
    return Counts(
        confirmed,
        tally.get(AssignmentStatus.INVITED, 0),
        tally.get(AssignmentStatus.DECLINED, 0),
        target,
    )


def counts_of(assignments: list[Assignment], target: int | None) -> Counts:
    return counts_from(Counter(a.status for a in assignments), target)


class EventService:
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

    # --- parsing and validating, one field at a time (the guided form uses these) -------

    def clean_title(self, text: str) -> str:
        title = " ".join(text.split())
        if not title:
            raise InvalidEvent("The title is empty. Type a short name, like Harusi ya Wanjiru.")
        if len(title) > 120:
            raise InvalidEvent(f"The title is {len(title)} characters; keep it under 120.")
        return title

    def clean_venue(self, text: str) -> str:
        venue = " ".join(text.split())
        if not venue:
            raise InvalidEvent("The venue is empty. Type where it is, like KICC, Nairobi.")
        if len(venue) > 200:
            raise InvalidEvent(f"The venue is {len(venue)} characters; keep it under 200.")
        return venue

    def clean_notes(self, text: str) -> str:
        notes = text.strip()
        if notes.lower() in {"-", "none", "skip"}:
            return ""
        if len(notes) > 2000:
            raise InvalidEvent(f"The notes are {len(notes)} characters; keep them under 2000.")
        return notes

    def parse_target(self, text: str) -> int | None:
        cleaned = text.strip().lower()
        if cleaned in {"", "-", "none", "skip"}:
            return None
        match = re.fullmatch(r"(?:crew|needs?)?\s*:?\s*(\d{1,3})(?:\s*crew)?", cleaned)
        if not match or not 1 <= int(match.group(1)) <= 500:
            raise InvalidEvent(
                f"“{text.strip()}” is not a number of crew. Type a number like 6, or leave it out."
            )
        return int(match.group(1))

    def parse_start(self, text: str) -> datetime:
        now = self.clock.now()
        try:
            starts = parse_when(text, now=now, tz=self.tz)
        except DateError as exc:
            raise InvalidEvent(f"Start: {exc}") from exc
        if starts <= now:
            raise InvalidEvent(
                f"The start, {self.when(starts)}, is in the past. Events must start in the future."
            )
        return starts

    def parse_end(self, text: str, starts: datetime) -> datetime:
        """A time alone means the start's day, or the next day when it is not after the
        start (a wedding from 18:00 to 02:00 ends after midnight)."""
        now = self.clock.now()
        try:
            ends = parse_when(text, now=now, tz=self.tz, day_of=starts)
            if ends <= starts and is_time_only(text):
                ends = parse_when(text, now=now, tz=self.tz, day_of=starts + timedelta(days=1))
        except DateError as exc:
            raise InvalidEvent(f"End: {exc}") from exc
        if ends <= starts:
            raise InvalidEvent(
                f"The end, {self.when(ends)}, is not after the start, {self.when(starts)}."
            )
        return ends

    def ends_next_day(self, event: Event) -> bool:
        return event.ends_at.astimezone(self.tz).date() > event.starts_at.astimezone(self.tz).date()

    def parse_call(self, text: str, starts: datetime) -> datetime:
        cleaned = re.sub(r"^\s*call(\s+time)?\s*:?\s*", "", text, flags=re.IGNORECASE)
        if not cleaned.strip() or cleaned.strip().lower() in {"-", "skip", "none"}:
            return starts
        now = self.clock.now()
        try:
            call = parse_when(cleaned, now=now, tz=self.tz, day_of=starts)
        except DateError as exc:
            raise InvalidEvent(f"Call time: {exc}") from exc
        if call > starts:
            raise InvalidEvent(
                f"The call time, {self.when(call)}, is after the start, {self.when(starts)}. "
                "Crew must be called before the event starts."
            )
        if call <= now:
            raise InvalidEvent(f"The call time, {self.when(call)}, is in the past.")
        return call

    def parse_inline(self, text: str) -> EventDraft:
        parts = [p.strip() for p in text.split("|")]
        if len(parts) < 4 or len(parts) > 7:
            raise InvalidEvent(
                f"I need at least 4 parts separated by | (title, start, end, venue); "
                f"got {len(parts)}. For example:\n{INLINE_FORMAT}"
            )
        draft = EventDraft(title=self.clean_title(parts[0]))
        draft.starts_at = self.parse_start(parts[1])
        draft.ends_at = self.parse_end(parts[2], draft.starts_at)
        draft.venue = self.clean_venue(parts[3])
        optional = self._optional_parts(parts[4:])
        draft.call_at = self.parse_call(optional.get("call", ""), draft.starts_at)
        draft.notes = self.clean_notes(optional.get("notes", ""))
        draft.crew_target = self.parse_target(optional.get("crew", ""))
        return draft

    def _optional_parts(self, parts: list[str]) -> dict[str, str]:
        """Call time, notes and crew after the venue. A part that names itself ("call 15:00",
        "crew 6") is that part wherever it stands, so leaving the notes out does not turn
        "crew 2" into notes; an unnamed part takes its place in the order call, notes, crew."""
        found: dict[str, str] = {}
        unnamed: list[tuple[str, str]] = []
        for slot, part in zip(("call", "notes", "crew"), parts, strict=False):
            lower = part.lower()
            if re.match(r"call\b", lower):
                name = "call"
            elif re.fullmatch(r"(?:crew|needs?)\s*:?\s*\d+|\d+\s*crew", lower):
                name = "crew"
            else:
                unnamed.append((slot, part))
                continue
            if name in found:
                raise InvalidEvent(f"The {name} is given twice: “{found[name]}” and “{part}”.")
            found[name] = part
        for slot, part in unnamed:
            if not part:
                continue
            if slot in found:
                raise InvalidEvent(
                    f"“{part}” stands where the {slot} goes, but the {slot} is given as "
                    f"“{found[slot]}”. For example:\n{INLINE_FORMAT}"
                )
            found[slot] = part
        return found

    # --- changes ---------------------------------------------------------------------

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
            await self.scheduler.plan_event(event, conn)
        return event

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
        return card

    async def edit(
        self, event_id: int, what: EditField, value: str, *, actor: Person, chat_id: int | None
    ) -> Edited:
        """Saves one change. Confirmed crew and those who have not answered yet are told what
        changed, and an invitation still waiting for its answer is edited to show it."""
        require_manager(actor)
        async with in_transaction() as conn:
            event = await self._open_for_change(event_id, conn)
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
        elif what is EditField.CREW:
            target = self.parse_target(value)
            change = Change(label, str(event.crew_target or "not set"), str(target or "not set"))
            event.crew_target = target
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
