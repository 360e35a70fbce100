"""Invoices paid through the checkout page (SPEC §9): `/invoice` opens a checkout for the
invoice's total, in as few payments as M-Pesa takes (at most KES 250,000 a prompt), all due
at once, and its link goes in the client's email. Once every part is paid the invoice is
PAID, its manager is told and the client thanked, once, whichever instance sees it first
(a conditional update of the invoice's status)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from models import (
    AuditAction,
    Deposit,
    DepositStatus,
    DocumentSeries,
    Event,
    Instalment,
    InstalmentPayment,
    Invoice,
    InvoiceStatus,
    NotificationKind,
    PaymentStatus,
    Person,
)
from services import audit
from services.checkout._plan import MAX_INSTALMENTS
from services.checkout._view import CheckoutView, load_view
from services.money import MAX_AMOUNT
from services.notifications import Notifier, email_client

log = logging.getLogger(__name__)

ONLINE_MAX = MAX_AMOUNT * MAX_INSTALMENTS  # above this an invoice gets no M-Pesa link


def parts(total: int) -> list[int]:
    """As few payments as M-Pesa takes, as even as whole shillings allow:
    600,000 is 200,000 × 3; 500,001 is 166,667 + 166,667 + 166,667."""
    count = -(-total // MAX_AMOUNT)
    share, rest = divmod(total, count)
    return [share + 1] * rest + [share] * (count - rest)


async def open_checkout(
    conn: BaseDBAsyncClient,
    invoice: Invoice,
    event: Event,
    actor: Person,
    now: datetime,
    *,
    digest: str,
    days: int,
) -> bool:
    """The invoice's checkout, in the invoice's own transaction; False when the total is more
    than M-Pesa can take from a link (the client pays it another way)."""
    if invoice.total > ONLINE_MAX:
        return False
    deposit = await Deposit.create(
        event=event,
        invoice=invoice,
        client_name=invoice.client_name[:100],
        phone="",  # the client types the number to pay from
        total=invoice.total,
        created_by=actor,
        token_hash=digest,
        expires_at=now + timedelta(days=days),
        created_at=now,
        updated_at=now,
        using_db=conn,
    )
    # All due now, asked by the link itself: no due-date prompt for any of them.
    await Instalment.bulk_create(
        [
            Instalment(deposit=deposit, number=n, amount=amount, due_at=now, pushed_at=now)
            for n, amount in enumerate(parts(invoice.total), 1)
        ],
        using_db=conn,
    )
    return True


async def close_paid(notifier: Notifier, now: datetime, limit: int = 50) -> int:
    """Every open invoice whose checkout is paid in full becomes PAID: its manager is told
    and the client thanked by email with the invoice (now marked paid) attached. Only the
    checkouts of open invoices with every part paid are read whole, oldest first."""
    started = set(
        await InstalmentPayment.filter(
            payment__status=PaymentStatus.COMPLETED,
            instalment__deposit__invoice__status=InvoiceStatus.OPEN,
        )
        .distinct()
        .values_list("instalment__deposit_id", flat=True)
    )
    # Only those with every part paid: a partly paid invoice (there may be many, for weeks)
    # must never stand in front of one that is paid.
    paid = set(
        await InstalmentPayment.filter(
            payment__status=PaymentStatus.COMPLETED,
            instalment__deposit_id__in=sorted(started) or [0],
        ).values_list("instalment_id", flat=True)
    )
    unpaid = {
        deposit_id
        for instalment_id, deposit_id in await Instalment.filter(
            deposit_id__in=sorted(started) or [0]
        ).values_list("id", "deposit_id")
        if instalment_id not in paid
    }
    closed = 0
    for deposit in (
        await Deposit.filter(id__in=sorted(started - unpaid) or [0]).order_by("id").limit(limit)
    ):
        try:
            view = await load_view(deposit, now)
            if view.invoice is None or any(line.paid_by is None for line in view.lines):
                continue
            closed += await _close(notifier, view, now)
        except Exception:  # one invoice's trouble must not keep the others open
            log.exception("deposit %s: closing its invoice failed; next round", deposit.id)
    return closed


async def _close(notifier: Notifier, view: CheckoutView, now: datetime) -> int:
    invoice = view.invoice
    assert invoice is not None
    async with in_transaction() as conn:
        won = (
            await Invoice.filter(id=invoice.id, status=InvoiceStatus.OPEN)
            .using_db(conn)
            .update(status=InvoiceStatus.PAID, paid_at=now, updated_at=now)
        )
        if not won:
            return 0  # another instance closed it
        await (
            Deposit.filter(id=view.deposit.id)
            .using_db(conn)
            .update(status=DepositStatus.PAID, updated_at=now)
        )
        invoice.status, invoice.paid_at = InvoiceStatus.PAID, now
        receipts = [line.receipt for line in view.lines if line.receipt]
        await audit.record(
            AuditAction.INVOICE_PAID,
            "invoice",
            invoice.id,
            at=now,
            actor_label=invoice.client_name[:100],  # who paid it
            details={"number": invoice.number, "total": invoice.total, "receipts": receipts},
            using_db=conn,
        )
        context = {"invoice": invoice, "event": view.event, "view": view, "receipts": receipts}
        manager = await Person.get(id=view.deposit.created_by_id).using_db(conn)  # type: ignore[attr-defined]
        await notifier.notify(
            manager,
            NotificationKind.INVOICE_PAID,
            {**context, "to_client": False},
            dedupe_key=f"invoice-paid:{invoice.id}",
            using_db=conn,
        )
        await email_client(
            notifier.renderer,
            NotificationKind.INVOICE_PAID,
            invoice.client_email,
            {**context, "to_client": True},
            at=now,
            dedupe_key=f"invoice-paid:{invoice.id}:client",
            attachment=(DocumentSeries.INVOICE, invoice.id),
            using_db=conn,
        )
    log.info("invoice %s paid in full through its checkout", invoice.number)
    return 1
