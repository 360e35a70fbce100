"""Claiming deliveries with a lease, as the outbox does (services/outbox/queue.py): each due
delivery is claimed by one sender of one instance; one whose lease ran out (its process
died) is claimed again. `attempts` is the fencing token: only the current claim may write
an outcome, so a sender that lost its lease cannot overwrite its successor's."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from tortoise.expressions import F, Q
from tortoise.transactions import in_transaction

from models import DeliveryStatus, WebhookDelivery

LEASE = timedelta(seconds=60)  # above the POST's 10 s timeout and the DNS lookup


def mine(row: WebhookDelivery) -> Q:
    """The delivery as long as this claim is still the current one."""
    return Q(id=row.id, status=DeliveryStatus.SENDING, attempts=row.attempts)


async def claim(now: datetime, limit: int) -> list[WebhookDelivery]:
    due = Q(status=DeliveryStatus.PENDING, next_attempt_at__lte=now) | Q(
        status=DeliveryStatus.SENDING, lease_until__lt=now
    )
    lease_until = now + LEASE
    async with in_transaction() as conn:
        query = WebhookDelivery.filter(due).order_by("id").limit(limit).using_db(conn)
        postgres = conn.capabilities.dialect == "postgres"
        if postgres:
            query = query.select_for_update(skip_locked=True)
        rows = await query
        update = {
            "status": DeliveryStatus.SENDING,
            "lease_until": lease_until,
            "attempts": F("attempts") + 1,
        }
        claimed: list[WebhookDelivery] = []
        if postgres:  # locked FOR UPDATE by this transaction: no one else has them
            if rows:
                await (
                    WebhookDelivery.filter(id__in=[r.id for r in rows])
                    .using_db(conn)
                    .update(**update)
                )
            claimed = list(rows)
        else:  # no row locks on SQLite: the conditional update makes the claim unique
            for row in rows:
                taken = (
                    await WebhookDelivery.filter(
                        id=row.id, status=row.status, attempts=row.attempts
                    )
                    .using_db(conn)
                    .update(**update)
                )
                if taken:
                    claimed.append(row)
        for row in claimed:
            row.status = DeliveryStatus.SENDING
            row.lease_until = lease_until
            row.attempts += 1
    return claimed


async def release(rows: Sequence[WebhookDelivery], now: datetime) -> None:
    """Give claimed deliveries back (shutdown): due at once, the attempt not counted."""
    for row in rows:
        await WebhookDelivery.filter(mine(row)).update(
            status=DeliveryStatus.PENDING,
            lease_until=None,
            next_attempt_at=now,
            attempts=F("attempts") - 1,
        )
