"""Delivering the outbox: claim rows with a lease, send them, record the outcome.

Several dispatchers (in one process or several) may run at once: a row is claimed by
exactly one of them, and a row whose lease ran out (its process died) is claimed again.
Telegram rows for one chat go out in the order they were written.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, Protocol

from tortoise.expressions import F, Q
from tortoise.functions import Min
from tortoise.transactions import in_transaction

from models import Channel, LiveMessage, OutboxMessage, OutboxStatus, Person
from services.clock import Clock

log = logging.getLogger(__name__)


class DeliveryError(Exception):
    """Raised by senders; the dispatcher decides from its class what happens next."""


class RetryLater(DeliveryError):
    def __init__(self, seconds: float, reason: str) -> None:
        super().__init__(reason)
        self.seconds = seconds


class Transient(DeliveryError):
    """Timeouts, 5xx, a mail server that is down: try again with backoff."""


class Permanent(DeliveryError):
    """The message can never be delivered as it is (bad request, refused address)."""


class ChatUnreachable(Permanent):
    """Telegram answered 403: the person blocked the bot or never started it."""


class MessageGone(DeliveryError):
    """The live message to edit no longer exists: send a new one instead."""


class ChatSender(Protocol):
    async def send(self, chat_id: int, text: str, markup: Any) -> int: ...

    async def edit(self, chat_id: int, message_id: int, text: str, markup: Any) -> None: ...


class EmailSender(Protocol):
    async def send(self, to: str, subject: str, text: str, html: str | None) -> None: ...


def backoff(attempt: int, base: float = 2.0, cap: float = 3600.0) -> float:
    """Exponential backoff with full jitter: attempt 1 → up to 2 s, 2 → 4 s, …"""
    return random.uniform(0.5, 1.0) * min(cap, base**attempt)


class Outbox:
    def __init__(self, clock: Clock, *, lease: timedelta = timedelta(seconds=60)) -> None:
        self.clock = clock
        self.lease = lease
        self._wake: dict[Channel, asyncio.Event] = {c: asyncio.Event() for c in Channel}

    def wake(self) -> None:
        """Tell local dispatchers that rows were committed."""
        for event in self._wake.values():
            event.set()

    async def wait(self, channel: Channel, seconds: float) -> None:
        """Until rows are committed here, or `seconds` pass (rows from other processes)."""
        event = self._wake[channel]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), seconds)
        event.clear()

    async def claim(self, channel: Channel, limit: int) -> list[OutboxMessage]:
        now = self.clock.now()
        due = Q(status=OutboxStatus.PENDING, next_attempt_at__lte=now) | Q(
            status=OutboxStatus.SENDING, lease_until__lt=now
        )
        async with in_transaction() as conn:
            query = OutboxMessage.filter(due, channel=channel).order_by("id").limit(limit)
            postgres = conn.capabilities.dialect == "postgres"
            if postgres:
                query = query.select_for_update(skip_locked=True)
            rows = await query.using_db(conn)
            if channel is Channel.TELEGRAM and rows:
                rows = await self._first_per_chat(rows, conn)
            claimed: list[OutboxMessage] = []
            lease_until = now + self.lease
            for row in rows:
                # Conditional update: on SQLite (no row locks) it is what makes the claim unique.
                updated = (
                    await OutboxMessage.filter(id=row.id, status=row.status, attempts=row.attempts)
                    .using_db(conn)
                    .update(
                        status=OutboxStatus.SENDING,
                        lease_until=lease_until,
                        attempts=F("attempts") + 1,
                    )
                )
                if updated:
                    row.status = OutboxStatus.SENDING
                    row.lease_until = lease_until
                    row.attempts += 1
                    claimed.append(row)
        return claimed

    async def _first_per_chat(
        self, rows: Sequence[OutboxMessage], conn: Any
    ) -> list[OutboxMessage]:
        chats = {r.chat_id for r in rows}
        firsts = (
            await OutboxMessage.filter(
                channel=Channel.TELEGRAM,
                chat_id__in=chats,
                status__in=[OutboxStatus.PENDING, OutboxStatus.SENDING],
            )
            .using_db(conn)
            .group_by("chat_id")
            .annotate(first=Min("id"))
            .values("chat_id", "first")
        )
        first = {f["chat_id"]: f["first"] for f in firsts}
        return [r for r in rows if first.get(r.chat_id) == r.id]

    async def mark_sent(self, row: OutboxMessage, message_id: int | None = None) -> None:
        await OutboxMessage.filter(id=row.id, status=OutboxStatus.SENDING).update(
            status=OutboxStatus.SENT,
            sent_at=self.clock.now(),
            lease_until=None,
            telegram_message_id=message_id,
            last_error=None,
        )

    async def mark_retry(self, row: OutboxMessage, delay: float, error: str) -> None:
        await OutboxMessage.filter(id=row.id, status=OutboxStatus.SENDING).update(
            status=OutboxStatus.PENDING,
            next_attempt_at=self.clock.now() + timedelta(seconds=delay),
            lease_until=None,
            last_error=error[:500],
        )

    async def mark_failed(self, row: OutboxMessage, error: str) -> None:
        await OutboxMessage.filter(id=row.id, status=OutboxStatus.SENDING).update(
            status=OutboxStatus.FAILED, lease_until=None, last_error=error[:500]
        )

    async def release(self, rows: Sequence[OutboxMessage]) -> None:
        """Give claimed rows back at shutdown so another process may send them at once."""
        ids = [r.id for r in rows]
        if ids:
            await OutboxMessage.filter(id__in=ids, status=OutboxStatus.SENDING).update(
                status=OutboxStatus.PENDING, lease_until=None, attempts=F("attempts") - 1
            )


class Dispatcher:
    """One delivery loop for one channel."""

    def __init__(
        self,
        outbox: Outbox,
        channel: Channel,
        *,
        chat: ChatSender | None = None,
        email: EmailSender | None = None,
        max_attempts: int = 8,
        batch: int = 50,
        poll_seconds: float = 1.0,
    ) -> None:
        self.outbox = outbox
        self.channel = channel
        self.chat = chat
        self.email = email
        self.max_attempts = max_attempts
        self.batch = batch
        self.poll_seconds = poll_seconds
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        """Deliver until `stop()`; the round in progress finishes first."""
        while not self._stopping.is_set():
            delivered = await self.deliver_due()
            if delivered < self.batch and not self._stopping.is_set():
                await self.outbox.wait(self.channel, self.poll_seconds)

    def stop(self) -> None:
        self._stopping.set()
        self.outbox.wake()

    async def deliver_due(self) -> int:
        rows = await self.outbox.claim(self.channel, self.batch)
        if not rows:
            return 0
        by_chat: dict[Any, list[OutboxMessage]] = defaultdict(list)
        for row in rows:
            by_chat[row.chat_id if self.channel is Channel.TELEGRAM else row.id].append(row)
        pending = list(rows)

        async def one_chat(chat_rows: list[OutboxMessage]) -> None:
            for row in chat_rows:
                await self._deliver(row)
                pending.remove(row)

        try:
            async with asyncio.TaskGroup() as group:
                for chat_rows in by_chat.values():
                    group.create_task(one_chat(chat_rows))
        except asyncio.CancelledError:
            await asyncio.shield(self.outbox.release(pending))
            raise
        return len(rows)

    async def _deliver(self, row: OutboxMessage) -> None:
        try:
            if self.channel is Channel.TELEGRAM:
                message_id = await self._send_chat(row)
                await self.outbox.mark_sent(row, message_id)
            else:
                assert self.email is not None and row.email_to is not None
                await self.email.send(row.email_to, row.subject or "", row.text, row.html)
                await self.outbox.mark_sent(row)
            log.info("outbox %s sent: %s %s", row.id, row.channel, row.kind)
        except RetryLater as exc:
            log.info("outbox %s throttled for %.0fs", row.id, exc.seconds)
            await self.outbox.mark_retry(row, exc.seconds, str(exc))
        except ChatUnreachable as exc:
            log.warning("outbox %s: chat %s unreachable: %s", row.id, row.chat_id, exc)
            await self.outbox.mark_failed(row, str(exc))
            if row.person_id is not None:  # type: ignore[attr-defined]
                await Person.filter(id=row.person_id, chat_unreachable_at=None).update(  # type: ignore[attr-defined]
                    chat_unreachable_at=self.outbox.clock.now()
                )
        except Permanent as exc:
            log.warning("outbox %s failed for good: %s", row.id, exc)
            await self.outbox.mark_failed(row, str(exc))
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

    async def _send_chat(self, row: OutboxMessage) -> int:
        assert self.chat is not None and row.chat_id is not None
        if row.live_key:
            live = await LiveMessage.get_or_none(key=row.live_key)
            if live is not None:
                try:
                    await self.chat.edit(live.chat_id, live.message_id, row.text, row.reply_markup)
                    return int(live.message_id)
                except MessageGone:
                    pass
            message_id = await self.chat.send(row.chat_id, row.text, row.reply_markup)
            await LiveMessage.update_or_create(
                defaults={"chat_id": row.chat_id, "message_id": message_id}, key=row.live_key
            )
            return message_id
        return int(await self.chat.send(row.chat_id, row.text, row.reply_markup))
