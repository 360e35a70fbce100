"""What an outcome does to a payout and its sheet: each move is a conditional update from the
states it may leave, so a result posted twice, or a result and a Transaction Status answer
about the same payout, change it once.

A payout paid puts one PAYOUT ledger entry (the payout's own, unique) and one payslip in the
transaction that marks it PAID. A stop code (credential, role, funds) stops the sheet and
tells every manager what to do. The sheet whose last open payout settles is PAID when every
line with something to pay was paid; otherwise it stays PAYING with its failed lines shown,
for Retry failed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import F

from models import (
    Access,
    AuditAction,
    DocumentSeries,
    Event,
    LedgerEntry,
    LedgerKind,
    NotificationKind,
    PayLine,
    Payout,
    PayoutStatus,
    PaySheet,
    PaySheetStatus,
    Person,
    ReceiptKind,
    WebhookEventType,
)
from services import audit, webhooks
from services.documents.numbers import issue_receipt
from services.ledger.wages import DESCRIPTION_MAX

if TYPE_CHECKING:
    from services.payroll.paying import PayRuns

log = logging.getLogger(__name__)

OPEN = (PayoutStatus.QUEUED, PayoutStatus.SENT, PayoutStatus.UNKNOWN)
# A payout can be found paid from any state but CANCELLED: a Transaction Status answer can
# come after the line was given up as failed ("no record" too early). Money moved: say so.
CAN_BE_PAID = (PayoutStatus.SENT, PayoutStatus.UNKNOWN, PayoutStatus.FAILED)
CAN_FAIL = (PayoutStatus.SENT, PayoutStatus.UNKNOWN)


@dataclass(frozen=True)
class Paid:
    receipt: str
    amount: int | None
    at: datetime | None
    code: str = "0"
    desc: str = ""


async def mark_paid(runs: PayRuns, payout: Payout, paid: Paid, conn: BaseDBAsyncClient) -> bool:
    """PAID, with its ledger entry and payslip; False when it was paid already."""
    now = runs.clock.now()
    if paid.amount is not None and paid.amount != payout.amount:
        log.error(
            "payout %s paid KES %s, not the KES %s asked: recorded as M-Pesa reports it",
            payout.originator_conversation_id,
            paid.amount,
            payout.amount,
        )
    moved = (
        await Payout.filter(id=payout.id, status__in=CAN_BE_PAID)
        .using_db(conn)
        .update(
            status=PayoutStatus.PAID,
            transaction_id=paid.receipt,
            result_code=paid.code,
            result_desc=paid.desc[:255] or None,
            reason=None,
            finished_at=paid.at or now,
            updated_at=now,
        )
    )
    if not moved:
        return False
    if payout.status is PayoutStatus.FAILED:
        log.error("payout %s given up as failed was paid after all", payout.id)
    amount = paid.amount if paid.amount is not None else payout.amount
    line = await PayLine.filter(id=payout.line_id).using_db(conn).get()  # type: ignore[attr-defined]
    sheet = await PaySheet.filter(id=payout.sheet_id).using_db(conn).get()  # type: ignore[attr-defined]
    event = await Event.filter(id=sheet.event_id).using_db(conn).get()  # type: ignore[attr-defined]
    person_id: int = line.person_id  # type: ignore[attr-defined]
    await LedgerEntry.create(
        person_id=person_id,
        kind=LedgerKind.PAYOUT,
        amount=amount,
        description=(
            f"Paid by M-Pesa {paid.receipt} · #{event.id} {event.title} · v{sheet.version}"
        )[:DESCRIPTION_MAX],
        pay_line_id=line.id,
        payout_id=payout.id,
        created_at=now,
        using_db=conn,
    )
    await (
        Person.filter(id=person_id)
        .using_db(conn)
        .update(balance=F("balance") + amount, updated_at=now)
    )
    await audit.record(
        AuditAction.PAYOUT_PAID,
        "payout",
        payout.id,
        at=now,
        actor_label="M-Pesa",
        details={"receipt": paid.receipt, "amount": amount, "line": line.id},
        using_db=conn,
    )
    document = await issue_receipt(
        conn,
        kind=ReceiptKind.PAYOUT,
        person_id=person_id,
        amount=amount,
        at=now,
        tz=runs.notifier.renderer.tz,
        payout_id=payout.id,
    )
    person = await Person.filter(id=person_id).using_db(conn).get()
    fresh = await Payout.filter(id=payout.id).using_db(conn).get()
    await webhooks.emit(
        WebhookEventType.PAYOUT_PAID,
        webhooks.payout_data(payout.id, amount, paid.receipt, person, event, sheet.version),
        at=now,
        using_db=conn,
    )
    await runs.notifier.notify(
        person,
        NotificationKind.PAYSLIP,
        {
            "payout": fresh,
            "line": line,
            "sheet": sheet,
            "event": event,
            "person": person,
            "document": document,
        },
        dedupe_key=f"payslip:{payout.id}",
        using_db=conn,
        attachment=(DocumentSeries.RECEIPT, document.id),
    )
    return True


async def mark_failed(
    runs: PayRuns,
    payout: Payout,
    code: str | None,
    desc: str,
    reason: str,
    conn: BaseDBAsyncClient,
    *,
    states: tuple[PayoutStatus, ...] = CAN_FAIL,
) -> bool:
    now = runs.clock.now()
    moved = (
        await Payout.filter(id=payout.id, status__in=states)
        .using_db(conn)
        .update(
            status=PayoutStatus.FAILED,
            result_code=code,
            result_desc=desc[:255] or None,
            reason=reason[:255],
            finished_at=now,
            updated_at=now,
        )
    )
    if moved:
        await audit.record(
            AuditAction.PAYOUT_FAILED,
            "payout",
            payout.id,
            at=now,
            actor_label="M-Pesa",
            details={"code": code, "reason": reason[:200]},
            using_db=conn,
        )
    return bool(moved)


async def mark_unknown(runs: PayRuns, payout: Payout, why: str, conn: BaseDBAsyncClient) -> bool:
    now = runs.clock.now()
    moved = (
        await Payout.filter(id=payout.id, status=PayoutStatus.SENT)
        .using_db(conn)
        .update(status=PayoutStatus.UNKNOWN, reason=why[:255], updated_at=now)
    )
    if moved:
        await audit.record(
            AuditAction.PAYOUT_UNKNOWN,
            "payout",
            payout.id,
            at=now,
            actor_label="M-Pesa",
            details={"why": why[:200]},
            using_db=conn,
        )
    return bool(moved)


async def stop(
    runs: PayRuns,
    sheet_id: int,
    reason: str,
    conn: BaseDBAsyncClient,
    *,
    states: tuple[PaySheetStatus, ...] = (PaySheetStatus.CHECKING, PaySheetStatus.PAYING),
    alert: bool = True,
) -> bool:
    """Stop the run (the queued payouts wait), and tell every manager why and what to do."""
    now = runs.clock.now()
    moved = (
        await PaySheet.filter(id=sheet_id, status__in=states)
        .using_db(conn)
        .update(status=PaySheetStatus.STOPPED, stop_reason=reason[:300], updated_at=now)
    )
    if not moved:
        return False
    sheet = await PaySheet.filter(id=sheet_id).using_db(conn).get()
    await audit.record(
        AuditAction.PAYROLL_STOPPED,
        "pay_sheet",
        sheet_id,
        at=now,
        actor_label="M-Pesa",
        details={"reason": reason[:200]},
        using_db=conn,
    )
    if alert:
        # Once per stop: the conditional update above lets one applier through.
        event = await Event.filter(id=sheet.event_id).using_db(conn).get()  # type: ignore[attr-defined]
        context: dict[str, Any] = {"sheet": sheet, "event": event, "reason": reason}
        for manager in await Person.filter(access=Access.MANAGER, active=True).using_db(conn):
            await runs.notifier.notify(
                manager, NotificationKind.PAYROLL_STOPPED, context, using_db=conn
            )

    await runs.publish(sheet, conn)
    return True


async def settle_sheet(runs: PayRuns, sheet_id: int, conn: BaseDBAsyncClient) -> None:
    """After a payout moved. While payouts are open, the live summary is only marked for the
    sender's next refresh (at most one a second: a run of 1,000 lines would otherwise render
    the sheet 2,000 times). Once none is open: PAID when every line with something to pay
    was paid, and the summary published in this transaction either way (Retry failed)."""
    if await Payout.filter(sheet_id=sheet_id, status__in=OPEN).using_db(conn).exists():
        runs.refresh_soon(sheet_id)
        return
    sheet = await PaySheet.filter(id=sheet_id).using_db(conn).get()
    payouts = (
        await Payout.filter(sheet_id=sheet_id).exclude(status=PayoutStatus.CANCELLED).using_db(conn)
    )
    paid_lines = {p.line_id for p in payouts if p.status is PayoutStatus.PAID}  # type: ignore[attr-defined]
    all_lines = {p.line_id for p in payouts}  # type: ignore[attr-defined]
    now = runs.clock.now()
    if sheet.status is PaySheetStatus.PAYING and all_lines and paid_lines == all_lines:
        moved = (
            await PaySheet.filter(id=sheet_id, status=PaySheetStatus.PAYING)
            .using_db(conn)
            .update(status=PaySheetStatus.PAID, updated_at=now)
        )
        if moved:
            await audit.record(
                AuditAction.PAYROLL_PAID,
                "pay_sheet",
                sheet_id,
                at=now,
                actor_label="M-Pesa",
                details={
                    "payouts": len(paid_lines),
                    "net": sum(p.amount for p in payouts if p.status is PayoutStatus.PAID),
                },
                using_db=conn,
            )
            sheet.status = PaySheetStatus.PAID
    await runs.publish(sheet, conn)
