"""The refunds part of the money audit (`callsheet audit`): no payment is refunded more than
it paid, summed over its refunds that are not rejected or failed; each refund made that
credited someone has its REFUND entry of its amount; none is left half-way without a
result for long. It only reads."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from tortoise.backends.base.client import BaseDBAsyncClient

from models import LedgerEntry, LedgerKind, Payment, Refund, RefundStatus
from services.money import format_kes

if TYPE_CHECKING:
    from services.ledger.checks import Mismatch

HOLDING = (
    RefundStatus.REQUESTED,
    RefundStatus.APPROVED,
    RefundStatus.SENT,
    RefundStatus.UNKNOWN,
    RefundStatus.REFUNDED,
)


async def refund_checks(conn: BaseDBAsyncClient) -> list[Mismatch]:
    from services.ledger.checks import Mismatch

    problems: list[Mismatch] = []
    held: dict[int, int] = defaultdict(int)
    refunds = await Refund.filter(status__in=HOLDING).using_db(conn).order_by("id")
    for refund in refunds:
        held[refund.payment_id] += refund.amount  # type: ignore[attr-defined]
    payments = {p.id: p for p in await Payment.filter(id__in=sorted(held) or [0]).using_db(conn)}
    for payment_id, total in sorted(held.items()):
        payment = payments[payment_id]
        paid = payment.paid_amount if payment.paid_amount is not None else payment.amount
        if total > paid:
            problems.append(
                Mismatch(
                    f"payment #{payment_id}",
                    f"refunds of {format_kes(total)} are more than the {format_kes(paid)} paid",
                )
            )
    entries = {e.id: e for e in await LedgerEntry.filter(kind=LedgerKind.REFUND).using_db(conn)}
    for refund in refunds:
        subject = f"refund #{refund.id}"
        entry_id: int | None = refund.entry_id  # type: ignore[attr-defined]
        if refund.status is not RefundStatus.REFUNDED:
            if entry_id is not None:
                problems.append(Mismatch(subject, f"{refund.status.value} but has a ledger entry"))
            continue
        if entry_id is None:
            continue  # the payment had credited nobody: nothing to write back
        entry = entries.pop(entry_id, None)
        if entry is None or entry.amount != refund.amount:
            problems.append(Mismatch(subject, "its ledger entry is missing or of another amount"))
    for entry in entries.values():
        problems.append(Mismatch(f"ledger entry #{entry.id}", "a refund entry for no refund made"))
    return problems
