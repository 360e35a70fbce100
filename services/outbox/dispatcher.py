"""The delivery loop of one channel: claim due rows, send each on its own, record the outcome."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from models import Channel, DocumentSeries, EventDocument, FileKind, LiveMessage, OutboxMessage
from services.outbox.errors import (
    ChatUnreachable,
    MessageGone,
    OutcomeUnknown,
    Permanent,
    RetryLater,
    Transient,
)
from services.outbox.service import OutboxService
from services.worker import Failure, Worker, backoff, isolated

log = logging.getLogger(__name__)

# Sends whose outcome is unknown before a row is parked as failed: one duplicate at most.
UNKNOWN_OUTCOMES_LIMIT = 2


class ChatSender(Protocol):
    async def send(self, chat_id: int, text: str, markup: Any) -> int: ...

    async def edit(self, chat_id: int, message_id: int, text: str, markup: Any) -> None: ...


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str  # "application/pdf"
    data: bytes


class EmailSender(Protocol):
    async def send(
        self,
        to: str,
        subject: str,
        text: str,
        html: str | None,
        attachments: Sequence[Attachment] = (),
    ) -> None: ...


class FileSender(Protocol):
    """Sends a file Telegram already holds, by its file_id (an event's documents)."""

    async def send_file(self, chat_id: int, kind: FileKind, file_id: str, caption: str) -> int: ...


class BriefingFiles(Protocol):
    """The documents a briefing's email attaches (services/eventdocs)."""

    async def briefing_files(self, briefing_id: int) -> list[Attachment]: ...


class AttachmentSource(Protocol):
    """Draws the document an email row names, when it is sent (services/documents)."""

    async def attachment(self, series: DocumentSeries, document_id: int) -> Attachment: ...


class Dispatcher(Worker):
    """One delivery loop for one channel.

    Each row is delivered on its own: whatever one row's send raises is counted against
    that row (and parks it as failed after its limit), never against the other rows of
    the round."""

    def __init__(
        self,
        service: OutboxService,
        channel: Channel,
        *,
        chat: ChatSender | None = None,
        email: EmailSender | None = None,
        attachments: AttachmentSource | None = None,
        files: FileSender | None = None,
        briefing_files: BriefingFiles | None = None,
        max_attempts: int = 8,
        batch: int = 30,
        poll_seconds: float = 1.0,
    ) -> None:
        if (channel is Channel.TELEGRAM) != (chat is not None) or (
            (channel is Channel.EMAIL) != (email is not None)
        ):
            raise ValueError("a Telegram dispatcher needs `chat`, an email dispatcher `email`")
        super().__init__(idle_seconds=poll_seconds)
        self.name = f"{channel} dispatcher"
        self.service = service
        self.outbox = service.outbox
        self.channel = channel
        self.chat = chat
        self.email = email
        self.attachments = attachments
        self.files = files
        self.briefing_files = briefing_files
        self.max_attempts = max_attempts
        self.batch = batch
        self.poll_seconds = poll_seconds

    async def round(self) -> int:
        return await self.deliver_due()

    async def wait_for_work(self, seconds: float) -> None:
        await self.outbox.wait(self.channel, seconds)

    async def deliver_due(self) -> int:
        rows = await self.outbox.claim(self.channel, self.batch)
        if not rows:
            return 0
        in_flight = list(rows)

        async def one(row: OutboxMessage) -> None:
            outcome = await isolated(f"outbox {row.id}", lambda: self._deliver(row))
            if isinstance(outcome, Failure):
                await isolated(f"outbox {row.id} outcome", lambda: self._unexpected(row, outcome))
            in_flight.remove(row)

        try:
            # Telegram rows are one per chat (heads only), so these run in parallel safely;
            # the sender's rate limiter keeps the pace (bot/delivery.py: on PostgreSQL one
            # budget shared by every instance, services/outbox/budget.py).
            async with asyncio.TaskGroup() as group:
                for row in rows:
                    group.create_task(one(row))
        except BaseException:
            # Cancelled (shutdown): hand back what was not finished, at once.
            await asyncio.shield(self.outbox.release(in_flight))
            raise
        return len(rows)

    async def _deliver(self, row: OutboxMessage) -> None:
        try:
            if self.channel is Channel.TELEGRAM:
                message_id = await self._send_chat(row)
                await self.outbox.mark_sent(row, message_id)
            else:
                assert self.email is not None and row.email_to is not None
                files = await self._attachments(row)
                if files:
                    await self.email.send(
                        row.email_to, row.subject or "", row.text, row.html, attachments=files
                    )
                else:
                    await self.email.send(row.email_to, row.subject or "", row.text, row.html)
                await self.outbox.mark_sent(row)
            log.info("outbox %s sent: %s %s", row.id, row.channel, row.kind)
        except RetryLater as exc:
            log.info("outbox %s throttled for %.0fs", row.id, exc.seconds)
            await self.outbox.mark_retry(row, exc.seconds, str(exc), counts=False)
        except ChatUnreachable as exc:
            log.warning("outbox %s: chat %s unreachable: %s", row.id, row.chat_id, exc)
            await self.service.chat_unreachable(row, str(exc))
        except Permanent as exc:
            log.warning("outbox %s failed for good: %s", row.id, exc)
            await self.outbox.mark_failed(row, str(exc))
        except OutcomeUnknown as exc:
            await self._maybe_delivered(row, str(exc))
        except Transient as exc:
            if row.attempts >= self.max_attempts:
                log.warning("outbox %s failed after %s attempts: %s", row.id, row.attempts, exc)
                await self.outbox.mark_failed(row, str(exc))
            else:
                delay = backoff(row.attempts)
                log.info(
                    "outbox %s attempt %s failed (%s); retry in %.1fs",
                    row.id,
                    row.attempts,
                    exc,
                    delay,
                )
                await self.outbox.mark_retry(row, delay, str(exc))

    async def _attachments(self, row: OutboxMessage) -> list[Attachment]:
        if row.attachment is None or row.attachment_id is None:
            return []
        if row.attachment is DocumentSeries.BRIEFING:
            if self.briefing_files is None:
                raise Permanent("nothing here can read the briefing's documents")
            return await self.briefing_files.briefing_files(row.attachment_id)
        if self.attachments is None:
            raise Permanent(f"nothing here can draw the {row.attachment} document it attaches")
        return [await self.attachments.attachment(row.attachment, row.attachment_id)]

    async def _unexpected(self, row: OutboxMessage, failure: Failure) -> None:
        """A send that raised something no sender should: it may have gone out before it
        broke, so it is treated as a send whose outcome is unknown."""
        await self._maybe_delivered(row, f"unexpected error: {failure.text()}")

    async def _maybe_delivered(self, row: OutboxMessage, error: str) -> None:
        if row.unknown_outcomes + 1 >= UNKNOWN_OUTCOMES_LIMIT or row.attempts >= self.max_attempts:
            log.warning(
                "outbox %s failed: %s send(s) may have arrived; not sent again: %s",
                row.id,
                row.unknown_outcomes + 1,
                error,
            )
            await self.outbox.mark_failed(
                row,
                f"may have arrived (its outcome was unknown {row.unknown_outcomes + 1} times), "
                f"so not sent again: {error}",
                unknown=True,
            )
        else:
            delay = backoff(row.attempts)
            log.warning(
                "outbox %s may have arrived (%s); sent once more in %.1fs", row.id, error, delay
            )
            await self.outbox.mark_retry(row, delay, error, unknown=True)

    async def _send_chat(self, row: OutboxMessage) -> int:
        assert self.chat is not None and row.chat_id is not None
        if row.attachment is DocumentSeries.EVENT_FILE and row.attachment_id is not None:
            return await self._send_file(row.chat_id, row.attachment_id, row.text)
        if row.live_key:
            live = await LiveMessage.get_or_none(key=row.live_key)
            if live is not None and live.chat_id == row.chat_id:
                try:
                    await self.chat.edit(live.chat_id, live.message_id, row.text, row.reply_markup)
                    return int(live.message_id)
                except MessageGone:
                    pass
            message_id = await self.chat.send(row.chat_id, row.text, row.reply_markup)
            await LiveMessage.update_or_create(
                defaults={
                    "chat_id": row.chat_id,
                    "message_id": message_id,
                    "updated_at": self.outbox.clock.now(),
                },
                key=row.live_key,
            )
            return message_id
        return int(await self.chat.send(row.chat_id, row.text, row.reply_markup))

    async def _send_file(self, chat_id: int, document_id: int, caption: str) -> int:
        if self.files is None:
            raise Permanent("nothing here can send files")
        document = await EventDocument.get_or_none(id=document_id)
        if document is None:
            raise Permanent(f"document {document_id} was removed before it was sent")
        return await self.files.send_file(
            chat_id, document.kind, document.telegram_file_id, caption
        )
