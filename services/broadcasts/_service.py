"""The preview (a draft naming its recipients), Send (once) and Cancel."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from tortoise.transactions import in_transaction

from models import (
    AuditAction,
    Broadcast,
    BroadcastStatus,
    Channel,
    LiveMessage,
    NotificationKind,
    OutboxMessage,
    Person,
)
from services import audit
from services.broadcasts._audience import BROADCAST_FORMAT, resolve
from services.broadcasts._errors import AlreadySent, BroadcastGone, BroadcastUnclear
from services.clock import Clock
from services.errors import require_manager
from services.notifications import Notifier
from services.outbox import Outbox

log = logging.getLogger(__name__)

TEXT_MAX = 3_500  # Telegram takes 4,096 characters, with our header and its tags
NAMES_SHOWN = 10  # first names in the preview
NAME_MAX = 20  # of each, so that the preview always fits one message
INSERT_BATCH = 500


@dataclass(frozen=True)
class Preview:
    broadcast: Broadcast
    count: int
    names: list[str]  # first names, the first NAMES_SHOWN

    @property
    def more(self) -> int:
        return self.count - len(self.names)


def live_key(broadcast_id: int) -> str:
    return f"broadcast:{broadcast_id}"


def dedupe_prefix(broadcast_id: int) -> str:
    return f"broadcast:{broadcast_id}:"


class Broadcasts:
    def __init__(self, notifier: Notifier, outbox: Outbox, clock: Clock, tz: ZoneInfo) -> None:
        self.notifier = notifier
        self.outbox = outbox
        self.clock = clock
        self.tz = tz

    def parse(self, text: str) -> tuple[str, str]:
        audience, bar, body = text.partition("|")
        body = body.strip()
        if not bar or not audience.strip() or not body:
            raise BroadcastUnclear(f"I need the audience, then | and the text: {BROADCAST_FORMAT}")
        if len(body) > TEXT_MAX:
            raise BroadcastUnclear(
                f"The text is {len(body):,} characters; keep it under {TEXT_MAX:,}."
            )
        return audience.strip(), body

    async def preview(self, actor: Person, text: str) -> Preview:
        """Who it would go to, kept as a draft; nothing is sent before `send`."""
        require_manager(actor, "send broadcasts")
        audience_text, body = self.parse(text)
        audience = await resolve(audience_text, sender=actor, now=self.clock.now(), tz=self.tz)
        if not audience.people:
            raise BroadcastUnclear(f"Nobody is in {audience.name} right now: nothing to send.")
        draft = await Broadcast.create(
            sender_id=actor.id,
            audience=audience.name[:100],
            text=body,
            recipients=[p.id for p in audience.people],
            created_at=self.clock.now(),
        )
        names = [p.name.split()[0][:NAME_MAX] for p in audience.people[:NAMES_SHOWN]]
        return Preview(draft, len(audience.people), names)

    async def _mine(self, actor: Person, broadcast_id: int) -> Broadcast:
        require_manager(actor, "send broadcasts")
        found = await Broadcast.get_or_none(id=broadcast_id, sender_id=actor.id)
        if found is None:
            raise BroadcastGone("That broadcast is not yours or no longer exists.")
        return found

    async def send(
        self,
        actor: Person,
        broadcast_id: int,
        *,
        chat_id: int | None = None,
        message_id: int | None = None,
    ) -> Broadcast:
        """Queue one message per recipient, in one transaction; a second press sends nothing.
        The summary is kept in `message_id` (the preview) when given."""
        broadcast = await self._mine(actor, broadcast_id)
        now = self.clock.now()
        if broadcast.status is not BroadcastStatus.DRAFT:
            raise AlreadySent(f"This broadcast was already {_done(broadcast)}.")
        # Rendered before the transaction, so the write lock is held for the inserts alone.
        people = await Person.filter(id__in=list(broadcast.recipients))
        rows: list[OutboxMessage] = []
        context = {"sender": actor, "body": broadcast.text}
        for person in people:
            rows += self.notifier.prepare(
                person,
                NotificationKind.BROADCAST,
                context,
                dedupe_key=f"{dedupe_prefix(broadcast.id)}{person.id}",
                channels=(Channel.TELEGRAM,),
            )
        async with in_transaction() as conn:
            started = (
                await Broadcast.filter(id=broadcast.id, status=BroadcastStatus.DRAFT)
                .using_db(conn)
                .update(status=BroadcastStatus.SENDING, sent_at=now)
            )
            if not started:  # another press (or Cancel) got there first
                await broadcast.refresh_from_db(using_db=conn)
                raise AlreadySent(f"This broadcast was already {_done(broadcast)}.")
            await OutboxMessage.bulk_create(rows, batch_size=INSERT_BATCH, using_db=conn)
            if chat_id is not None and message_id is not None and chat_id == actor.telegram_id:
                await LiveMessage.filter(key=live_key(broadcast.id)).using_db(conn).delete()
                await LiveMessage.create(
                    key=live_key(broadcast.id),
                    chat_id=chat_id,
                    message_id=message_id,
                    updated_at=now,
                    using_db=conn,
                )
            await audit.record(
                AuditAction.BROADCAST_SENT,
                "broadcast",
                broadcast.id,
                at=now,
                actor=actor,
                chat_id=chat_id,
                details={"audience": broadcast.audience, "recipients": len(people)},
                using_db=conn,
            )
        log.info("broadcast %s queued for %s people", broadcast.id, len(people))
        self.outbox.wake()
        broadcast.status, broadcast.sent_at = BroadcastStatus.SENDING, now
        return broadcast

    async def cancel(self, actor: Person, broadcast_id: int) -> Broadcast:
        broadcast = await self._mine(actor, broadcast_id)
        cancelled = await Broadcast.filter(id=broadcast.id, status=BroadcastStatus.DRAFT).update(
            status=BroadcastStatus.CANCELLED
        )
        if not cancelled:
            await broadcast.refresh_from_db()
            raise AlreadySent(f"This broadcast was already {_done(broadcast)}.")
        broadcast.status = BroadcastStatus.CANCELLED
        return broadcast


def _done(broadcast: Broadcast) -> str:
    return "cancelled" if broadcast.status is BroadcastStatus.CANCELLED else "sent"
