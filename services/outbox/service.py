"""What happens around delivery: unreachable chats, the failure lists, resending, history."""

from __future__ import annotations

import html
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from models import (
    Access,
    AuditAction,
    Channel,
    NotificationKind,
    OutboxMessage,
    OutboxStatus,
    Person,
)
from services import audit
from services.clock import Clock
from services.errors import NotAllowed
from services.notifications import Notifier
from services.outbox.errors import NothingToResend, OutboxError
from services.outbox.queue import Outbox, fit

log = logging.getLogger(__name__)


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


def _nobody(row: OutboxMessage) -> str:
    """Who a row for no one on the list was for: a client (an invoice), or someone deleted."""
    return "client" if row.kind is NotificationKind.INVOICE else "(deleted)"


def _delivery(row: OutboxMessage, person: Person | None) -> Delivery:
    return Delivery(
        id=row.id,
        person_id=person.id if person else None,
        person_name=person.name if person else _nobody(row),
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
                        status=OutboxStatus.FAILED, last_error=fit(f"chat unreachable: {reason}")
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


def _reason(error: str) -> str:
    lowered = error.lower()
    if "blocked" in lowered:
        return "they blocked the bot"
    if "initiate" in lowered or "chat not found" in lowered:
        return "they never opened the bot"
    if "deactivated" in lowered:
        return "their Telegram account was deleted"
    return error
