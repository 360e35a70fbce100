"""The payouts an approved sheet queues, and the claim the paying step's sender uses.

A claimed payout is SENT from the moment it is claimed, before any request leaves: if the
process dies between the claim and Daraja's answer, the payout may have reached Daraja, so it
is settled by Transaction Status, never sent again. Only QUEUED payouts are ever claimed.
"""

from __future__ import annotations

from tortoise.transactions import in_transaction

from models import Payout, PayoutStatus, PaySheet, PaySheetStatus
from services.clock import Clock

# Only a run the Account Balance result cleared (services/payroll/results.py) is paid: not an
# approved sheet nobody pressed Pay on, nor a stopped or checking one.
PAYABLE = (PaySheetStatus.PAYING,)
CLAIM_TRIES = 20  # a loser of a race looks again; bounded so a hot queue cannot spin forever


async def claim_payout(clock: Clock, sheet_id: int | None = None) -> Payout | None:
    """Take the oldest QUEUED payout of a sheet being paid, mark it SENT with its `sent_at`,
    and return it; None when nothing is queued.

    Two claimers, in one process or several, never get the same payout. PostgreSQL: the
    candidate row is read `FOR UPDATE SKIP LOCKED`, so a second claimer passes over it to
    the next. SQLite (no row locks; write transactions begin IMMEDIATE, `bot/sqlite.py`):
    the conditional `UPDATE … WHERE status = 'queued'` makes the claim unique, and whoever
    updates no row looks again (as `services/outbox` and `services/batches` claim)."""
    for _ in range(CLAIM_TRIES):
        async with in_transaction() as conn:
            sheets = PaySheet.filter(status__in=PAYABLE)
            if sheet_id is not None:
                sheets = sheets.filter(id=sheet_id)
            payable = list(await sheets.using_db(conn).values_list("id", flat=True))
            if not payable:
                return None
            query = (
                Payout.filter(status=PayoutStatus.QUEUED, sheet_id__in=payable)
                .order_by("id")
                .limit(1)
                .using_db(conn)
            )
            if conn.capabilities.dialect == "postgres":
                query = query.select_for_update(skip_locked=True)
            found = await query
            if not found:
                return None
            candidate = found[0]
            now = clock.now()
            claimed = (
                await Payout.filter(id=candidate.id, status=PayoutStatus.QUEUED)
                .using_db(conn)
                .update(status=PayoutStatus.SENT, sent_at=now, updated_at=now)
            )
            if not claimed:
                continue  # another claimer took it between our read and our update
            return await Payout.filter(id=candidate.id).using_db(conn).get()
    return None
