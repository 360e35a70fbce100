"""Receipts for the movements made before receipts existed (`callsheet receipts`).

Each is numbered in the company year of its own time (resolved_at, finished_at), in the order
the money moved, after whatever that year has already; no email is sent. Run once after
upgrading; running it again finds nothing to do.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from tortoise.transactions import in_transaction

from models import Payment, PaymentStatus, Payout, PayoutStatus, Receipt, ReceiptKind
from services.clock import Clock
from services.documents.numbers import issue_receipt


async def issue_missing_receipts(clock: Clock, tz: ZoneInfo) -> list[Receipt]:
    receipts = await Receipt.all()
    has_payment = {r.payment_id for r in receipts}  # type: ignore[attr-defined]
    has_payout = {r.payout_id for r in receipts}  # type: ignore[attr-defined]
    now = clock.now()
    todo: list[tuple[datetime, int, Payment | Payout]] = []
    for payment in await Payment.filter(status=PaymentStatus.COMPLETED):
        if payment.id not in has_payment:
            todo.append((payment.resolved_at or payment.updated_at or now, 0, payment))
    for payout in await Payout.filter(status=PayoutStatus.PAID).prefetch_related("line"):
        if payout.id not in has_payout:
            todo.append((payout.finished_at or payout.updated_at or now, 1, payout))
    issued: list[Receipt] = []
    for at, _, movement in sorted(todo, key=lambda t: (t[0], t[1], t[2].id)):
        async with in_transaction() as conn:
            if isinstance(movement, Payment):
                locked = await Payment.filter(id=movement.id).select_for_update().using_db(conn)
                issued.append(
                    await issue_receipt(
                        conn,
                        kind=ReceiptKind.PAYMENT,
                        person_id=locked[0].person_id,  # type: ignore[attr-defined]
                        amount=locked[0].paid_amount or locked[0].amount,
                        at=at,
                        tz=tz,
                        payment_id=movement.id,
                    )
                )
            else:
                await Payout.filter(id=movement.id).select_for_update().using_db(conn)
                issued.append(
                    await issue_receipt(
                        conn,
                        kind=ReceiptKind.PAYOUT,
                        person_id=movement.line.person_id,  # type: ignore[attr-defined]
                        amount=movement.amount,
                        at=at,
                        tz=tz,
                        payout_id=movement.id,
                    )
                )
    return issued
