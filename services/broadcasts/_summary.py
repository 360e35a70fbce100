"""The live summary of a broadcast: delivered, email only, failed, still waiting.

Each recipient has one outbox row (chat, or email when their chat is not linked, or a
skipped row when they have neither). A chat the person blocked fails its row and the outbox
writes the email instead (`fallback:<row id>`): that person counts as email only once it is
sent. The watcher edits the summary into the preview's message itself, through the same
rate-limited bot as the outbox, rather than queueing edits behind the broadcast's own
messages, so the counts move while the broadcast goes out. Edits are idempotent: two
instances watching the same broadcast at worst edit it twice with the same counts.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import asdict, dataclass

from models import (
    Broadcast,
    BroadcastStatus,
    Channel,
    LiveMessage,
    OutboxMessage,
    OutboxStatus,
    Person,
)
from services.broadcasts._service import dedupe_prefix, live_key
from services.clock import Clock
from services.notifications import Notifier
from services.outbox import ChatSender, DeliveryError, MessageGone
from services.worker import Worker, isolated

log = logging.getLogger(__name__)

WAITING = (OutboxStatus.PENDING, OutboxStatus.SENDING)


@dataclass(frozen=True)
class Counts:
    delivered: int = 0
    email_only: int = 0
    failed: int = 0
    waiting: int = 0

    @property
    def finished(self) -> bool:
        return self.waiting == 0


async def count(broadcast_id: int) -> Counts:
    rows = await OutboxMessage.filter(
        dedupe_key__startswith=dedupe_prefix(broadcast_id)
    ).values_list("id", "channel", "status")
    failed_chats = [
        int(row_id)
        for row_id, channel, status in rows
        if channel == Channel.TELEGRAM and status == OutboxStatus.FAILED
    ]
    fallback: dict[int, OutboxStatus] = {}
    if failed_chats:
        keys = [f"fallback:{row_id}" for row_id in failed_chats]
        for key, status in await OutboxMessage.filter(dedupe_key__in=keys).values_list(
            "dedupe_key", "status"
        ):
            fallback[int(str(key).split(":")[1])] = OutboxStatus(status)
    tally = {"delivered": 0, "email_only": 0, "failed": 0, "waiting": 0}
    for row_id, channel, raw in rows:
        status = OutboxStatus(raw)
        if status in WAITING:
            tally["waiting"] += 1
        elif status is OutboxStatus.SENT:
            tally["delivered" if channel == Channel.TELEGRAM else "email_only"] += 1
        elif status is OutboxStatus.FAILED and channel == Channel.TELEGRAM:
            instead = fallback.get(int(row_id))
            if instead in WAITING:
                tally["waiting"] += 1
            elif instead is OutboxStatus.SENT:
                tally["email_only"] += 1
            else:
                tally["failed"] += 1
        else:  # an email that failed, or nobody to send to (no chat, no email, deactivated)
            tally["failed"] += 1
    return Counts(**tally)


class BroadcastWatcher(Worker):
    """Keeps each sending broadcast's summary up to date, then marks it done."""

    name = "broadcasts"

    def __init__(
        self, notifier: Notifier, chat: ChatSender, clock: Clock, *, every: float = 1.0
    ) -> None:
        super().__init__(idle_seconds=every)
        self.notifier = notifier
        self.chat = chat
        self.clock = clock

    async def round(self) -> int:
        for broadcast in await Broadcast.filter(status=BroadcastStatus.SENDING).order_by("id"):
            await isolated(f"broadcast {broadcast.id}", functools.partial(self.refresh, broadcast))
        return 0  # a poll: the next look is `every` seconds later

    async def refresh(self, broadcast: Broadcast) -> None:
        counts = await count(broadcast.id)
        if broadcast.summary == asdict(counts):
            return
        sender = await Person.get(id=broadcast.sender_id)  # type: ignore[attr-defined]
        text = self.notifier.renderer.reply(
            "broadcasts/summary",
            {
                "broadcast": broadcast,
                "total": len(broadcast.recipients),
                "counts": counts,
                "now": self.clock.now(),
            },
        )
        if not await self._show(broadcast, sender, text):
            return  # tried again next round
        changes: dict[str, object] = {"summary": asdict(counts)}
        if counts.finished:
            changes.update(status=BroadcastStatus.DONE, done_at=self.clock.now())
            log.info("broadcast %s done: %s", broadcast.id, asdict(counts))
        await Broadcast.filter(id=broadcast.id).update(**changes)

    async def _show(self, broadcast: Broadcast, sender: Person, text: str) -> bool:
        live = await LiveMessage.get_or_none(key=live_key(broadcast.id))
        try:
            if live is not None:
                try:
                    await self.chat.edit(live.chat_id, live.message_id, text, None)
                    return True
                except MessageGone:
                    pass
            if sender.telegram_id is None:
                return True  # nowhere to show it; /broadcast's sender had a chat, though
            message_id = await self.chat.send(sender.telegram_id, text, None)
        except DeliveryError as exc:
            log.warning("broadcast %s: summary not shown: %s", broadcast.id, exc)
            return False
        await LiveMessage.update_or_create(
            defaults={
                "chat_id": sender.telegram_id,
                "message_id": message_id,
                "updated_at": self.clock.now(),
            },
            key=live_key(broadcast.id),
        )
        return True
