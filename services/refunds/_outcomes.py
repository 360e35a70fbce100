"""What an outcome does to a refund: each move is a conditional update from the states it may
leave, so a result posted twice, or a result and a Transaction Status answer about the same
refund, change it once.

A refund made writes, in the transaction that marks it REFUNDED: the REFUND entry on the
payer's ledger (when the payment had credited them), the withdrawal of whatever the payment
was charged for beyond what the payer owed (money given back is that extra first), its
numbered receipt, and the messages.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import F

from models import (
    AuditAction,
    LedgerEntry,
    LedgerKind,
    Payment,
    Person,
    ReceiptKind,
    Refund,
    RefundStatus,
)
from services import audit
from services.documents.numbers import issue_receipt
from services.ledger.service import LedgerService
from services.payments.settlement import beyond_description
from services.refunds import _messages as messages

if TYPE_CHECKING:
    from services.refunds._service import RefundsCore

log = logging.getLogger(__name__)

# Money that moved is recorded from any state a refund can be sent from, FAILED included: a
# Transaction Status answer can come after it was given up as failed.
CAN_BE_REFUNDED = (RefundStatus.SENT, RefundStatus.UNKNOWN, RefundStatus.FAILED)
CAN_FAIL = (RefundStatus.SENT, RefundStatus.UNKNOWN)
DESCRIPTION_MAX = 200


@dataclass(frozen=True)
class Made:
    receipt: str | None  # M-Pesa's receipt of the refund; None when only the status says so
    at: datetime | None
    code: str = "0"
    desc: str = ""


async def mark_refunded(
    core: RefundsCore, refund: Refund, made: Made, conn: BaseDBAsyncClient
) -> bool:
    """REFUNDED, with its ledger entries, receipt and messages; False when it was already."""
    now = core.clock.now()
    moved = (
        await Refund.filter(id=refund.id, status__in=CAN_BE_REFUNDED)
        .using_db(conn)
        .update(
            status=RefundStatus.REFUNDED,
            receipt=made.receipt,
            result_code=made.code,
            result_desc=made.desc[:255] or None,
            error=None,
            finished_at=made.at or now,
            updated_at=now,
        )
    )
    if not moved:
        return False
    if refund.status is RefundStatus.FAILED:
        log.error("refund %s given up as failed was made after all", refund.id)
    payment = await Payment.filter(id=refund.payment_id).using_db(conn).get()  # type: ignore[attr-defined]
    entry_id, withdrawn = await _post(refund, payment, made, now, conn)
    await Refund.filter(id=refund.id).using_db(conn).update(entry_id=entry_id, withdrawn=withdrawn)
    await audit.record(
        AuditAction.REFUND_REFUNDED,
        "refund",
        refund.id,
        at=now,
        actor_label="M-Pesa",
        details={
            "receipt": made.receipt,
            "amount": refund.amount,
            "payment": payment.id,
            "withdrawn": withdrawn,
        },
        using_db=conn,
    )
    await issue_receipt(
        conn,
        kind=ReceiptKind.REFUND,
        person_id=refund.person_id,  # type: ignore[attr-defined]
        amount=refund.amount,
        at=now,
        tz=core.notifier.renderer.tz,
        refund_id=refund.id,
    )
    await messages.tell_outcome(core, refund, conn)
    return True


async def _post(
    refund: Refund, payment: Payment, made: Made, now: datetime, conn: BaseDBAsyncClient
) -> tuple[int | None, int]:
    """The payer's REFUND entry and the withdrawn extra; nothing for a payment that never
    credited anyone (a phone nobody on the list has, or a flagged payment)."""
    person_id: int | None = payment.person_id  # type: ignore[attr-defined]
    if person_id is None:
        return None, 0
    standing = await LedgerService.still_standing(
        payment.id,
        person_id,
        beyond_description(payment),
        conn,
    )
    credit = next((e for e in standing if e.kind is LedgerKind.PAYMENT), None)
    if credit is None:
        return None, 0
    beyond = sum(e.amount for e in standing if e.kind is LedgerKind.CHARGE)
    taken = (
        await Refund.filter(payment_id=payment.id, status=RefundStatus.REFUNDED)
        .exclude(id=refund.id)
        .using_db(conn)
        .values_list("withdrawn", flat=True)
    )
    earlier = sum(int(w) for w in taken)  # type: ignore[call-overload]
    withdrawn = max(0, min(refund.amount, beyond - earlier))
    how = f"M-Pesa {made.receipt}" if made.receipt else "M-Pesa"
    entry = await LedgerEntry.create(
        person_id=person_id,
        kind=LedgerKind.REFUND,
        amount=refund.amount,
        description=(f"Refund by {how} · payment #{payment.id} · {refund.reason}")[
            :DESCRIPTION_MAX
        ],
        created_by_id=refund.decided_by_id,  # type: ignore[attr-defined]
        created_at=now,
        using_db=conn,
    )
    if withdrawn:
        await LedgerEntry.create(
            person_id=person_id,
            kind=LedgerKind.ADJUSTMENT,
            amount=-withdrawn,
            description=(f"{payment.purpose} · given back with refund #{refund.id}")[
                :DESCRIPTION_MAX
            ],
            created_by_id=refund.decided_by_id,  # type: ignore[attr-defined]
            created_at=now,
            using_db=conn,
        )
    await (
        Person.filter(id=person_id)
        .using_db(conn)
        .update(balance=F("balance") + (refund.amount - withdrawn), updated_at=now)
    )
    return entry.id, withdrawn


async def mark_failed(
    core: RefundsCore,
    refund: Refund,
    code: str | None,
    desc: str | None,
    reason: str,
    conn: BaseDBAsyncClient,
) -> bool:
    now = core.clock.now()
    moved = (
        await Refund.filter(id=refund.id, status__in=CAN_FAIL)
        .using_db(conn)
        .update(
            status=RefundStatus.FAILED,
            result_code=code,
            result_desc=(desc or "")[:255] or None,
            error=reason[:300],
            finished_at=now,
            updated_at=now,
        )
    )
    if not moved:
        return False
    await audit.record(
        AuditAction.REFUND_FAILED,
        "refund",
        refund.id,
        at=now,
        actor_label="M-Pesa",
        details={"code": code, "reason": reason},
        using_db=conn,
    )
    await messages.tell_outcome(core, refund, conn)
    return True


async def mark_unknown(
    core: RefundsCore,
    refund: Refund,
    note: str,
    conn: BaseDBAsyncClient,
    *,
    ask_by_receipt: bool = False,
) -> bool:
    """The outcome is not known: Transaction Status is asked at the next sweep.
    `ask_by_receipt`: ask about the payment's own receipt (after "already reversed")."""
    now = core.clock.now()
    changes: dict[str, object] = {
        "status": RefundStatus.UNKNOWN,
        "error": note[:300],
        "checked_at": None,
        "updated_at": now,
    }
    if ask_by_receipt:
        changes["daraja_originator_id"] = None
    moved = await Refund.filter(id=refund.id, status__in=CAN_FAIL).using_db(conn).update(**changes)
    if not moved:
        return False
    core.ask_soon()  # the sender asks Transaction Status in its next round
    if refund.status is not RefundStatus.UNKNOWN:
        await audit.record(
            AuditAction.REFUND_UNKNOWN,
            "refund",
            refund.id,
            at=now,
            actor_label="M-Pesa",
            details={"note": note},
            using_db=conn,
        )
        await messages.publish(core, refund, conn)
    return True
