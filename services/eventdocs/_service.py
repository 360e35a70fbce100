"""Attaching, listing and removing an event's documents, and what email attaches of them."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from models import AuditAction, Briefing, Event, EventDocument, EventStatus, Person
from services import audit
from services.clock import Clock
from services.errors import require_manager
from services.eventdocs._errors import DocumentNotFound, EventClosed
from services.eventdocs._kinds import Offered, check_content, check_size, mime_of
from services.eventdocs._store import FileStore, digest
from services.outbox import Attachment, Permanent

log = logging.getLogger(__name__)

ATTACHING = "attach documents to events"


@dataclass(frozen=True)
class Attached:
    document: EventDocument
    event: Event
    count: int  # the event's documents now
    already: bool = False  # the same file was attached to this event before


class EventDocuments:
    def __init__(self, store: FileStore, clock: Clock, tz: ZoneInfo) -> None:
        self.store = store
        self.clock = clock
        self.tz = tz

    async def target(self, event_id: int, actor: Person | None) -> Event:
        """The event a document may be attached to now."""
        require_manager(actor, ATTACHING)
        event = await Event.get_or_none(id=event_id)
        if event is None:
            raise DocumentNotFound(f"There is no event #{event_id}. Send /events to see the list.")
        if event.status is EventStatus.CANCELLED:
            raise EventClosed(f"#{event.id} {event.title} was cancelled; nothing can be attached.")
        return event

    @staticmethod
    def check(offered: Offered) -> None:
        """Refuse, before downloading, what we would not keep."""
        mime_of(offered)
        check_size(offered.name or "The photo", offered.size)

    async def attach(
        self,
        event_id: int,
        offered: Offered,
        content: bytes,
        *,
        actor: Person,
        chat_id: int | None,
    ) -> Attached:
        event = await self.target(event_id, actor)
        mime = mime_of(offered)
        now = self.clock.now()
        name = offered.name or f"photo {now.astimezone(self.tz):%Y-%m-%d %H%M}.jpg"
        check_size(name, len(content))
        check_content(name, mime, content)
        sha256 = digest(content)
        try:
            async with in_transaction() as conn:
                # The copy held: a removal that would delete it either finishes first (and the
                # copy is written again below) or waits for this row.
                await self._lock_copy(sha256, conn)
                existing = (
                    await EventDocument.filter(event_id=event.id, sha256=sha256)
                    .using_db(conn)
                    .first()
                )
                if existing is not None:
                    return await self._already(existing, event)
                await self.store.put(content)  # before the row: a row never names a missing copy
                document = await EventDocument.create(
                    event=event,
                    name=name[:255],
                    kind=offered.kind,
                    mime_type=mime,
                    size=len(content),
                    sha256=sha256,
                    telegram_file_id=offered.file_id,
                    added_by=actor,
                    added_at=now,
                    using_db=conn,
                )
                await audit.record(
                    AuditAction.EVENT_DOCUMENT_ADDED,
                    "event",
                    event.id,
                    at=now,
                    actor=actor,
                    chat_id=chat_id,
                    details={"document": document.id, "name": name[:100], "size": len(content)},
                    using_db=conn,
                )
        except IntegrityError:  # the same file sent to this event twice at once
            existing = await EventDocument.get(event_id=event.id, sha256=sha256)
            return await self._already(existing, event)
        log.info("event %s: document %s attached", event.id, document.id)
        return Attached(await self._loaded(document), event, await self._count(event.id))

    async def of_event(self, event_id: int) -> list[EventDocument]:
        return (
            await EventDocument.filter(event_id=event_id)
            .order_by("added_at", "id")
            .prefetch_related("added_by")
        )

    async def listing(
        self, event_id: int, actor: Person | None
    ) -> tuple[Event, list[EventDocument]]:
        require_manager(actor, "see an event's documents")
        event = await Event.get_or_none(id=event_id)
        if event is None:
            raise DocumentNotFound(f"There is no event #{event_id}. Send /events to see the list.")
        return event, await self.of_event(event_id)

    async def remove(
        self, document_id: int, *, actor: Person | None, chat_id: int | None
    ) -> EventDocument:
        """Take a document off its event; its copy goes once no event names it."""
        manager = require_manager(actor, "remove documents")
        now = self.clock.now()
        async with in_transaction() as conn:
            document = await EventDocument.filter(id=document_id).using_db(conn).first()
            # Its copy held as attach holds it: two removals, or a removal and an attach, of
            # one file take turns.
            locked = await self._lock_copy(document.sha256, conn) if document else []
            if document is None or document.id not in locked:
                raise DocumentNotFound(
                    f"Document {document_id} is not attached any more. Send /docs with the "
                    "event's number for its list."
                )
            others = set(locked) - {document.id}
            await EventDocument.filter(id=document.id).using_db(conn).delete()
            await audit.record(
                AuditAction.EVENT_DOCUMENT_REMOVED,
                "event",
                document.event_id,  # type: ignore[attr-defined]
                at=now,
                actor=manager,
                chat_id=chat_id,
                details={"document": document.id, "name": document.name[:100]},
                using_db=conn,
            )
            if not others:  # while the rows are locked: an attach of this file waits
                await self.store.delete(document.sha256)
        log.info("document %s removed from event %s", document.id, document.event_id)  # type: ignore[attr-defined]
        return document

    async def briefing_files(self, briefing_id: int) -> list[Attachment]:
        """The documents a briefing's email attaches: those its event had when it was sent."""
        briefing = await Briefing.get_or_none(id=briefing_id)
        if briefing is None:
            raise Permanent(f"briefing {briefing_id} is gone")
        documents = await EventDocument.filter(
            event_id=briefing.event_id,  # type: ignore[attr-defined]
            added_at__lte=briefing.created_at,
        ).order_by("added_at", "id")
        files: list[Attachment] = []
        for document in documents:
            try:
                content = await self.store.read(document.sha256)
            except FileNotFoundError as exc:
                raise Permanent(
                    f"the copy of document {document.id} is missing from FILES_DIR"
                ) from exc
            files.append(Attachment(document.name, document.mime_type, content))
        return files

    @staticmethod
    async def _lock_copy(sha256: str, conn: BaseDBAsyncClient) -> list[int]:
        """Hold this copy for the transaction, and the ids of the rows naming it.

        PostgreSQL: an advisory lock keyed by the digest, taken before reading the rows. Row
        locks alone let an attach's new row slip past a removal that was waiting on them (its
        query's snapshot predates the row), and the copy went with a row still naming it.
        SQLite's writers take turns anyway."""
        if conn.capabilities.dialect == "postgres":
            key = int.from_bytes(bytes.fromhex(sha256[:16]), "big", signed=True)
            await conn.execute_query("SELECT pg_advisory_xact_lock($1)", [key])
        rows = await EventDocument.filter(sha256=sha256).using_db(conn).order_by("id").only("id")
        return [r.id for r in rows]

    async def _already(self, document: EventDocument, event: Event) -> Attached:
        return Attached(await self._loaded(document), event, await self._count(event.id), True)

    @staticmethod
    async def _count(event_id: int) -> int:
        return await EventDocument.filter(event_id=event_id).count()

    @staticmethod
    async def _loaded(document: EventDocument) -> EventDocument:
        await document.fetch_related("added_by")
        return document
