"""Delivering the outbox: claim rows with a lease, send them, record the outcome.

Several dispatchers (in one process or several) may run at once: a row is claimed by
exactly one of them, and a row whose lease ran out (its process died) is claimed again.
Every outcome is written only by the claim that is still current (the attempt number is the
fencing token), so a dispatcher that lost its lease cannot overwrite its successor's result.
Telegram rows for one chat go out in the order they were written: only the oldest
unfinished row of a chat may be claimed.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import F, Q, RawSQL, Subquery
from tortoise.transactions import in_transaction

from models import (
    Access,
    AuditAction,
    Channel,
    LiveMessage,
    NotificationKind,
    OutboxMessage,
    OutboxStatus,
    Person,
)
from services import audit
from services.clock import Clock
from services.errors import CallsheetError, Conflict, NotAllowed
from services.notifications import NOT_SENT_INACTIVE, Notifier
from services.worker import ERROR_LIMIT, Failure, Worker, backoff, isolated

log = logging.getLogger(__name__)

UNFINISHED = (OutboxStatus.PENDING, OutboxStatus.SENDING)
# True for a chat row with an earlier unfinished row in the same chat (index: channel,
# chat_id, status). Only our own enum values are interpolated.
BEHIND = (
    "EXISTS (SELECT 1 FROM outbox_message earlier"
    f" WHERE earlier.channel = '{Channel.TELEGRAM.value}'"
    " AND earlier.chat_id = outbox_message.chat_id"
    f" AND earlier.status IN ('{OutboxStatus.PENDING.value}', '{OutboxStatus.SENDING.value}')"
    " AND earlier.id < outbox_message.id)"
)


class DeliveryError(Exception):
    """Raised by senders; the dispatcher decides from its class what happens next."""


class RetryLater(DeliveryError):
    """The service asked us to wait (Telegram 429): not a failure, not counted as an attempt."""

    def __init__(self, seconds: float, reason: str) -> None:
        super().__init__(reason)
        self.seconds = seconds


class Transient(DeliveryError):
    """Timeouts, 5xx, a mail server that is down: try again with backoff."""


class Permanent(DeliveryError):
    """The message can never be delivered as it is (bad request, refused address)."""


class ChatUnreachable(Permanent):
    """Telegram answered 403: the person blocked the bot or never started it."""


class OutcomeUnknown(DeliveryError):
    """The message may have been delivered (a timeout after it was sent, an answer we could
    not read): sent again at most once more, so a person gets at most one duplicate."""


# Sends whose outcome is unknown before a row is parked as failed: one duplicate at most.
UNKNOWN_OUTCOMES_LIMIT = 2


class MessageGone(DeliveryError):
    """The live message to edit no longer exists: send a new one instead."""


class OutboxError(CallsheetError):
    pass


class NothingToResend(OutboxError, Conflict):
    pass


class ChatSender(Protocol):
    async def send(self, chat_id: int, text: str, markup: Any) -> int: ...

    async def edit(self, chat_id: int, message_id: int, text: str, markup: Any) -> None: ...


class EmailSender(Protocol):
    async def send(self, to: str, subject: str, text: str, html: str | None) -> None: ...


class Outbox:
    """The queue itself: claiming, leases and outcomes."""

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
            # Someone deactivated after this row was queued (a retry, a lease that ran out, a
            # manager's Resend) gets nothing: the row is kept, skipped, with the reason.
            await (
                OutboxMessage.filter(
                    due,
                    channel=channel,
                    person_id__in=Subquery(Person.filter(active=False).values("id")),
                )
                .using_db(conn)
                .update(status=OutboxStatus.SKIPPED, lease_until=None, last_error=NOT_SENT_INACTIVE)
            )
            query = OutboxMessage.filter(due, channel=channel)
            if channel is Channel.TELEGRAM:
                # Only the head of each chat's queue: a later message never overtakes an
                # earlier one that is waiting (backoff, 429) or being sent.
                query = query.annotate(behind=RawSQL(BEHIND)).filter(behind=False)
            query = query.order_by("id").limit(limit).using_db(conn)
            if conn.capabilities.dialect == "postgres":
                query = query.select_for_update(skip_locked=True)
            rows = await query
            lease_until = now + self.lease
            claim = {
                "status": OutboxStatus.SENDING,
                "lease_until": lease_until,
                "attempts": F("attempts") + 1,
            }
            claimed: list[OutboxMessage] = []
            if conn.capabilities.dialect == "postgres":
                # The rows are locked FOR UPDATE by this transaction: no one else has them.
                if rows:
                    ids = [r.id for r in rows]
                    await OutboxMessage.filter(id__in=ids).using_db(conn).update(**claim)
                claimed = list(rows)
            else:
                for row in rows:
                    # No row locks on SQLite: this conditional update makes the claim unique.
                    updated = (
                        await OutboxMessage.filter(
                            id=row.id, status=row.status, attempts=row.attempts
                        )
                        .using_db(conn)
                        .update(**claim)
                    )
                    if updated:
                        claimed.append(row)
            for row in claimed:
                row.status = OutboxStatus.SENDING
                row.lease_until = lease_until
                row.attempts += 1
        return claimed

    @staticmethod
    def _mine(row: OutboxMessage) -> Q:
        """The row as long as this claim is still the current one."""
        return Q(id=row.id, status=OutboxStatus.SENDING, attempts=row.attempts)

    async def mark_sent(self, row: OutboxMessage, message_id: int | None = None) -> bool:
        updated = await OutboxMessage.filter(self._mine(row)).update(
            status=OutboxStatus.SENT,
            sent_at=self.clock.now(),
            lease_until=None,
            telegram_message_id=message_id,
            last_error=None,
        )
        return bool(updated)

    async def mark_retry(
        self,
        row: OutboxMessage,
        delay: float,
        error: str,
        *,
        counts: bool = True,
        unknown: bool = False,
    ) -> bool:
        changes: dict[str, Any] = {
            "status": OutboxStatus.PENDING,
            "next_attempt_at": self.clock.now() + timedelta(seconds=delay),
            "lease_until": None,
            "last_error": _fit(error),
        }
        if not counts:
            changes["attempts"] = F("attempts") - 1
        if unknown:
            changes["unknown_outcomes"] = F("unknown_outcomes") + 1
        return bool(await OutboxMessage.filter(self._mine(row)).update(**changes))

    async def mark_failed(
        self,
        row: OutboxMessage,
        error: str,
        using_db: BaseDBAsyncClient | None = None,
        *,
        unknown: bool = False,
    ) -> bool:
        changes: dict[str, Any] = {
            "status": OutboxStatus.FAILED,
            "lease_until": None,
            "last_error": _fit(error),
        }
        if unknown:
            changes["unknown_outcomes"] = F("unknown_outcomes") + 1
        updated = await OutboxMessage.filter(self._mine(row)).using_db(using_db).update(**changes)
        return bool(updated)

    async def release(self, rows: Sequence[OutboxMessage]) -> None:
        """Give claimed rows back (shutdown): due at once, and the attempt does not count."""
        for row in rows:
            await OutboxMessage.filter(self._mine(row)).update(
                status=OutboxStatus.PENDING,
                lease_until=None,
                next_attempt_at=self.clock.now(),
                attempts=F("attempts") - 1,
            )


@dataclass(frozen=True)
class Delivery:
    """One outbox row as a manager sees it."""

    id: int
    person_id: int | None
    person_name: str
    kind: str
    channel: Channel
    status: OutboxStatus
    what: str  # the subject, or the chat message's first line
    to: str  # the address or "Telegram"
    created_at: datetime
    sent_at: datetime | None
    attempts: int
    error: str | None


@dataclass(frozen=True)
class Unreachable:
    people: list[Person]  # unreachable in chat, newest first
    failed_chats: list[Delivery]  # chat messages that failed


def _first_line(text: str) -> str:
    plain = html.unescape(re.sub(r"<[^>]+>", "", text)).strip()
    line = plain.splitlines()[0] if plain else ""
    return line if len(line) <= 80 else line[:79] + "…"


def _delivery(row: OutboxMessage, person: Person | None) -> Delivery:
    return Delivery(
        id=row.id,
        person_id=person.id if person else None,
        person_name=person.name if person else "(deleted)",
        kind=row.kind,
        channel=row.channel,
        status=row.status,
        what=row.subject if row.channel is Channel.EMAIL and row.subject else _first_line(row.text),
        to=(row.email_to or "") if row.channel is Channel.EMAIL else "Telegram",
        created_at=row.created_at,
        sent_at=row.sent_at,
        attempts=row.attempts,
        error=row.last_error,
    )


class OutboxService:
    """What happens around delivery: unreachable chats, failure lists, resending, history."""

    def __init__(self, outbox: Outbox, notifier: Notifier, clock: Clock) -> None:
        self.outbox = outbox
        self.notifier = notifier
        self.clock = clock

    async def chat_unreachable(self, row: OutboxMessage, error: str) -> bool:
        """Telegram refused the chat (403): fail this row and the chat's waiting rows, send
        by email what had no email twin, mark the person and tell the managers once.

        Returns False when this claim was no longer current (nothing changed)."""
        now = self.clock.now()
        reason = _reason(error)
        async with in_transaction() as conn:
            if not await self.outbox.mark_failed(row, f"chat unreachable: {reason}", conn):
                return False
            waiting = (
                await OutboxMessage.filter(
                    channel=Channel.TELEGRAM, chat_id=row.chat_id, status=OutboxStatus.PENDING
                )
                .using_db(conn)
                .order_by("id")
            )
            if waiting:
                await (
                    OutboxMessage.filter(id__in=[w.id for w in waiting])
                    .using_db(conn)
                    .update(
                        status=OutboxStatus.FAILED, last_error=_fit(f"chat unreachable: {reason}")
                    )
                )
            person_id = row.person_id  # type: ignore[attr-defined]
            person = await Person.filter(id=person_id).using_db(conn).first() if person_id else None
            moved = 0
            if person is not None and person.email:
                for failed in [row, *waiting]:
                    moved += await self._email_instead(failed, person.email, now, conn)
            if person is None:
                return True
            newly = (
                await Person.filter(id=person.id, chat_unreachable_at=None)
                .using_db(conn)
                .update(chat_unreachable_at=now, updated_at=now)
            )
            if not newly:
                return True
            person.chat_unreachable_at = now
            await audit.record(
                AuditAction.PERSON_CHAT_UNREACHABLE,
                "person",
                person.id,
                at=now,
                details={"reason": reason, "outbox_id": row.id, "moved_to_email": moved},
                using_db=conn,
            )
            managers = await Person.filter(access=Access.MANAGER, active=True).using_db(conn)
            for manager in managers:
                if manager.id == person.id:
                    continue
                await self.notifier.notify(
                    manager,
                    NotificationKind.CHAT_UNREACHABLE,
                    {
                        "who": person,
                        "reason": reason,
                        "since": now,
                        "moved": moved,
                        "phone": person.phone,
                    },
                    dedupe_key=f"unreachable:{person.id}:{int(now.timestamp())}:{manager.id}",
                    using_db=conn,
                )
        log.warning("person %s unreachable in chat %s: %s", person.id, row.chat_id, reason)
        self.outbox.wake()
        return True

    async def _email_instead(
        self, row: OutboxMessage, address: str, now: datetime, conn: BaseDBAsyncClient
    ) -> int:
        if row.email_text is None or row.live_key is not None:
            return 0  # it had an email twin already, or it is a live status
        key = f"fallback:{row.id}"
        if await OutboxMessage.exists(dedupe_key=key, using_db=conn):
            return 0
        await OutboxMessage.create(
            person_id=row.person_id,  # type: ignore[attr-defined]
            channel=Channel.EMAIL,
            kind=row.kind,
            dedupe_key=key,
            email_to=address,
            subject=row.subject,
            text=row.email_text,
            html=row.html,
            next_attempt_at=now,
            created_at=now,
            using_db=conn,
        )
        return 1

    async def failed_emails(self, limit: int = 20) -> list[Delivery]:
        rows = (
            await OutboxMessage.filter(channel=Channel.EMAIL, status=OutboxStatus.FAILED)
            .order_by("-id")
            .limit(limit)
            .prefetch_related("person")
        )
        return [_delivery(r, r.person) for r in rows]

    async def unreachable(self, limit: int = 20) -> Unreachable:
        people = (
            await Person.filter(active=True, chat_unreachable_at__isnull=False)
            .order_by("-chat_unreachable_at")
            .limit(limit)
        )
        rows = (
            await OutboxMessage.filter(channel=Channel.TELEGRAM, status=OutboxStatus.FAILED)
            .order_by("-id")
            .limit(limit)
            .prefetch_related("person")
        )
        return Unreachable(people=list(people), failed_chats=[_delivery(r, r.person) for r in rows])

    async def resend(self, actor: Person, outbox_id: int) -> Delivery:
        """Queue a failed message again, as a new message with fresh attempts."""
        if not actor.is_manager:
            raise NotAllowed("Only a manager can resend messages.")
        row = await OutboxMessage.get_or_none(id=outbox_id).prefetch_related("person")
        if row is None:
            raise NothingToResend(f"There is no message #{outbox_id}.")
        if row.status is not OutboxStatus.FAILED:
            raise NothingToResend(
                f"Message #{outbox_id} is {row.status.value}, not failed: nothing to resend."
            )
        person: Person | None = row.person
        if person is not None and not person.active:
            raise NothingToResend(
                f"{person.name} is deactivated, so nothing is sent to them. "
                f"Reactivate them on their card (/person {person.id}) first."
            )
        now = self.clock.now()
        changes: dict[str, Any] = {
            "status": OutboxStatus.PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "lease_until": None,
            "last_error": None,
        }
        if row.channel is Channel.EMAIL and person is not None and person.email:
            changes["email_to"] = person.email  # the address may have been corrected since
        async with in_transaction() as conn:
            updated = (
                await OutboxMessage.filter(id=row.id, status=OutboxStatus.FAILED)
                .using_db(conn)
                .update(**changes)
            )
            if not updated:
                raise NothingToResend(f"Message #{outbox_id} was already resent.")
            if row.channel is Channel.TELEGRAM and person is not None:
                # The manager asks to try the chat again (they may have unblocked the bot).
                await (
                    Person.filter(id=person.id)
                    .using_db(conn)
                    .update(chat_unreachable_at=None, updated_at=now)
                )
            await audit.record(
                AuditAction.OUTBOX_RESENT,
                "outbox_message",
                row.id,
                at=now,
                actor=actor,
                details={"channel": row.channel.value, "kind": row.kind},
                using_db=conn,
            )
        self.outbox.wake()
        await row.refresh_from_db()
        return _delivery(row, person)

    async def history_for(self, person_id: int, limit: int = 30) -> list[Delivery]:
        """What was sent to this person, newest first: when, through which channel, its state."""
        person = await Person.get_or_none(id=person_id)
        if person is None:
            raise OutboxError(f"There is no person #{person_id}. Send /crew to see the list.")
        rows = await OutboxMessage.filter(person_id=person_id).order_by("-id").limit(limit)
        return [_delivery(r, person) for r in rows]

    async def person(self, person_id: int) -> Person | None:
        return await Person.get_or_none(id=person_id)


def _fit(error: str) -> str:
    """An error text cut to its column (last_error)."""
    return error if len(error) <= ERROR_LIMIT else error[: ERROR_LIMIT - 1] + "…"


def _reason(error: str) -> str:
    lowered = error.lower()
    if "blocked" in lowered:
        return "they blocked the bot"
    if "initiate" in lowered or "chat not found" in lowered:
        return "they never opened the bot"
    if "deactivated" in lowered:
        return "their Telegram account was deleted"
    return error


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
            # PTB's rate limiter keeps the overall pace.
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
