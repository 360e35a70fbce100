"""The outbox queue: claiming rows with a lease, and recording each outcome.

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
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import F, Q, RawSQL, Subquery
from tortoise.transactions import in_transaction

from models import Channel, OutboxMessage, OutboxStatus, Person
from services.clock import Clock
from services.notifications import NOT_SENT_INACTIVE
from services.worker import ERROR_LIMIT

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
            "last_error": fit(error),
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
            "last_error": fit(error),
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


def fit(error: str) -> str:
    """An error text cut to its column (last_error)."""
    return error if len(error) <= ERROR_LIMIT else error[: ERROR_LIMIT - 1] + "…"
