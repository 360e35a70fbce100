"""DocumentService: a receipt's or an invoice's PDF for whoever may see it, and new invoices."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from models import (
    AuditAction,
    Deposit,
    DocumentSeries,
    Event,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    NotificationKind,
    PayLine,
    Payment,
    PaymentStatus,
    Payout,
    PaySheet,
    Person,
    Receipt,
    ReceiptKind,
    RecordedPayment,
    Refund,
    RefundMethod,
)
from services import audit
from services.clock import Clock
from services.documents.errors import BadReference, DocumentNotFound, NotPaidYet, NotYours
from services.documents.invoices import parse_invoice
from services.documents.numbers import (
    format_number,
    issue_receipt,
    parse_number,
    take_number,
)
from services.documents.pdf import Line, Sheet, document_date, draw
from services.errors import require_manager
from services.ids import parse_id
from services.notifications import Renderer, email_client
from services.outbox import Attachment, Outbox, Permanent
from services.phones import display_phone

log = logging.getLogger(__name__)

PDF = "application/pdf"
RECEIPT_USAGE = (
    "Send /receipt with a payment number, like /receipt 12 (see /payments or /balance), "
    "or a receipt number, like /receipt R-2026-000123."
)


# Opens the checkout of a new invoice in its transaction: the link, or None (too big).
InvoiceCheckout = Callable[[BaseDBAsyncClient, Invoice, Event, Person], Awaitable[str | None]]


@dataclass(frozen=True)
class NewInvoice:
    invoice: Invoice
    pdf: Attachment
    link: str | None  # the checkout page the client pays it on
    online: bool  # M-Pesa is set up: a link was made unless the total is too big for it


class DocumentService:
    def __init__(self, renderer: Renderer, outbox: Outbox, clock: Clock) -> None:
        self.renderer = renderer
        self.outbox = outbox
        self.clock = clock

    @property
    def tz(self) -> ZoneInfo:
        return self.renderer.tz

    # Receipts

    async def receipt_for(self, actor: Person, ref: str) -> tuple[Receipt, Attachment]:
        """The receipt `ref` names (a payment number, or a receipt number): managers may
        have any, crew only their own."""
        text = ref.strip()
        parsed = parse_number(text)
        if parsed is not None:
            series, _, _ = parsed
            if series is not DocumentSeries.RECEIPT:
                raise BadReference(f"{text.upper()} is an invoice. {RECEIPT_USAGE}")
            receipt = await Receipt.get_or_none(number=text.upper())
            if receipt is None:
                raise DocumentNotFound(f"There is no receipt {text.upper()}.")
            if not actor.is_manager and receipt.person_id != actor.id:  # type: ignore[attr-defined]
                raise NotYours(f"Receipt {receipt.number} is not yours.")
            return receipt, await self.receipt_pdf(receipt)
        payment_id = parse_id(text.lstrip("#"))
        if payment_id is None:
            raise BadReference(RECEIPT_USAGE)
        payment = await Payment.get_or_none(id=payment_id)
        if payment is None:
            raise DocumentNotFound(f"There is no payment #{payment_id}. {RECEIPT_USAGE}")
        if not actor.is_manager and payment.person_id != actor.id:  # type: ignore[attr-defined]
            raise NotYours(
                f"Payment #{payment_id} is not yours: you can get the receipts of your own "
                "payments (see /balance)."
            )
        if payment.status is not PaymentStatus.COMPLETED:
            raise NotPaidYet(
                f"Payment #{payment.id} is not paid ({payment.status.value}): "
                "its receipt comes once it is paid."
            )
        receipt = await self._payment_receipt(payment)
        return receipt, await self.receipt_pdf(receipt)

    async def _payment_receipt(self, payment: Payment) -> Receipt:
        """The payment's receipt; one completed before receipts existed gets one now."""
        found = await Receipt.get_or_none(payment_id=payment.id)
        if found is not None:
            return found
        async with in_transaction() as conn:
            locked = await Payment.filter(id=payment.id).select_for_update().using_db(conn).get()
            receipt = await issue_receipt(
                conn,
                kind=ReceiptKind.PAYMENT,
                person_id=locked.person_id,  # type: ignore[attr-defined]
                amount=locked.paid_amount or locked.amount,
                at=locked.resolved_at or self.clock.now(),  # the year the money moved
                tz=self.tz,
                payment_id=locked.id,
            )
        log.info("payment %s receipt %s issued late", payment.id, receipt.number)
        return receipt

    async def receipt_pdf(self, receipt: Receipt) -> Attachment:
        person = (
            await Person.get_or_none(id=receipt.person_id)  # type: ignore[attr-defined]
            if receipt.person_id  # type: ignore[attr-defined]
            else None
        )
        company = self.renderer.company_name
        thanks = f"Thank you. {company} received this payment in full."

        def party(phone: str | None) -> list[str]:
            """The payer or payee: name and phone, or the phone of someone not on the list."""
            if person is not None:
                return [person.name, display_phone(phone or person.phone)]
            return [display_phone(phone)] if phone else ["(removed)"]

        def sheet(**what: Any) -> Sheet:
            return Sheet(
                company=company,
                title="Receipt",
                number=receipt.number,
                issued_at=receipt.issued_at,
                tz=self.tz,
                **what,
            )

        if receipt.kind is ReceiptKind.PAYMENT:
            payment = await Payment.get(id=receipt.payment_id)  # type: ignore[attr-defined]
            # A client's deposit (/deposit): the client is named, not only their phone.
            client = await Deposit.filter(instalments__links__payment_id=payment.id).first()
            paid_from = payment.paid_phone or payment.phone
            drawn = sheet(
                party_label="Received from",
                party=[client.client_name, display_phone(paid_from)]
                if client is not None and person is None
                else party(paid_from),
                lines=[Line(payment.purpose, receipt.amount)],
                total_label="Total received",
                details=[
                    ("Paid by", "M-Pesa"),
                    ("M-Pesa receipt", payment.receipt or "not yet known"),
                    ("Payment", f"#{payment.id}"),
                ],
                footer=thanks,
            )
        elif receipt.kind is ReceiptKind.RECORDED:
            record = await RecordedPayment.get(id=receipt.recorded_payment_id)  # type: ignore[attr-defined]
            details = [
                ("Paid", record.how_paid),
                ("Reference", record.reference),
                ("Record", f"#{record.id}"),
            ]
            if record.undone_at is not None:
                details.append(("Undone", document_date(record.undone_at, self.tz)))
            drawn = sheet(
                party_label="Received from",
                party=party(None),
                lines=[Line(f"Payment received {record.how_paid}", receipt.amount)],
                total_label="Total received",
                details=details,
                footer=thanks,
            )
        elif receipt.kind is ReceiptKind.REFUND:
            refund = await Refund.get(id=receipt.refund_id)  # type: ignore[attr-defined]
            payment = await Payment.get(id=refund.payment_id)  # type: ignore[attr-defined]
            how = "M-Pesa reversal" if refund.method is RefundMethod.REVERSAL else "M-Pesa"
            drawn = sheet(
                party_label="Refunded to",
                party=party(refund.phone),
                lines=[Line(f"Refund: {payment.purpose} · {refund.reason}", receipt.amount)],
                total_label="Total refunded",
                details=[
                    ("Paid back by", how),
                    ("M-Pesa receipt", refund.receipt or "not given by M-Pesa"),
                    ("Refund of", f"payment #{payment.id} · M-Pesa {payment.receipt}"),
                ],
            )
        else:
            payout = await Payout.get(id=receipt.payout_id)  # type: ignore[attr-defined]
            line = await PayLine.get(id=payout.line_id)  # type: ignore[attr-defined]
            pay_sheet = await PaySheet.get(id=payout.sheet_id)  # type: ignore[attr-defined]
            event = await Event.get(id=pay_sheet.event_id)  # type: ignore[attr-defined]
            drawn = sheet(
                party_label="Paid to",
                party=party(payout.phone),
                lines=[Line(f"Pay: {line.role} · #{event.id} {event.title}", receipt.amount)],
                total_label="Total paid",
                details=[
                    ("Paid by", "M-Pesa"),
                    ("M-Pesa receipt", payout.transaction_id or "not yet known"),
                    ("Payout", f"#{payout.id} · pay sheet v{pay_sheet.version}"),
                ],
            )
        return Attachment(f"{receipt.number}.pdf", PDF, draw(drawn))

    # Invoices

    async def create_invoice(
        self, actor: Person, text: str, *, checkout: InvoiceCheckout | None = None
    ) -> NewInvoice:
        """A client's invoice from the typed line; its PDF is emailed to the client, with the
        link to pay it when `checkout` opens one (in the invoice's transaction)."""
        require_manager(actor, "make invoices")
        draft = parse_invoice(text)
        event = await Event.get_or_none(id=draft.event_id)
        if event is None:
            raise DocumentNotFound(f"There is no event #{draft.event_id} (see /events).")
        now = self.clock.now()
        year = now.astimezone(self.tz).year
        async with in_transaction() as conn:
            seq = await take_number(conn, DocumentSeries.INVOICE, year)
            invoice = await Invoice.create(
                number=format_number(DocumentSeries.INVOICE, year, seq),
                year=year,
                seq=seq,
                event=event,
                client_name=draft.client_name,
                client_email=draft.client_email,
                total=draft.total,
                created_by=actor,
                issued_at=now,
                updated_at=now,
                using_db=conn,
            )
            await InvoiceLine.bulk_create(
                [
                    InvoiceLine(
                        invoice=invoice,
                        position=n,
                        description=line.description,
                        amount=line.amount,
                    )
                    for n, line in enumerate(draft.lines, 1)
                ],
                using_db=conn,
            )
            await audit.record(
                AuditAction.INVOICE_CREATED,
                "invoice",
                invoice.id,
                at=now,
                actor=actor,
                details={"number": invoice.number, "event": event.id, "total": invoice.total},
                using_db=conn,
            )
            link = await checkout(conn, invoice, event, actor) if checkout else None
            await email_client(
                self.renderer,
                NotificationKind.INVOICE,
                invoice.client_email,
                {"invoice": invoice, "lines": draft.lines, "event": event, "link": link},
                at=now,
                dedupe_key=f"invoice:{invoice.id}:mail",
                attachment=(DocumentSeries.INVOICE, invoice.id),
                using_db=conn,
            )
        self.outbox.wake()
        log.info("invoice %s for event %s: KES %s", invoice.number, event.id, invoice.total)
        pdf = await self.invoice_pdf(invoice)
        return NewInvoice(invoice, pdf, link, online=checkout is not None)

    async def invoice_pdf(self, invoice: Invoice) -> Attachment:
        event = await Event.get(id=invoice.event_id)  # type: ignore[attr-defined]
        lines = await InvoiceLine.filter(invoice_id=invoice.id).order_by("position")
        company = self.renderer.company_name
        paid_at = invoice.paid_at if invoice.status is InvoiceStatus.PAID else None
        paid = paid_at is not None
        sheet = Sheet(
            company=company,
            title="Invoice",
            number=invoice.number,
            issued_at=invoice.issued_at,
            tz=self.tz,
            party_label="Bill to",
            party=[invoice.client_name, invoice.client_email],
            lines=[Line(line.description, line.amount) for line in lines],
            total_label="Total paid" if paid else "Total due",
            details=[
                ("Event", f"#{event.id} {event.title}, {event.venue}"),
                ("Status", invoice.status.value.capitalize()),
                *([("Paid on", document_date(paid_at, self.tz))] if paid_at else []),
            ],
            footer=(
                f"Paid in full. Thank you from {company}."
                if paid
                else f"Please quote {invoice.number} with your payment to {company}."
            ),
        )
        return Attachment(f"{invoice.number}.pdf", PDF, draw(sheet))

    # The email dispatcher's AttachmentSource

    async def attachment(self, series: DocumentSeries, document_id: int) -> Attachment:
        if series is DocumentSeries.RECEIPT:
            receipt = await Receipt.get_or_none(id=document_id)
            if receipt is not None:
                return await self.receipt_pdf(receipt)
        else:
            invoice = await Invoice.get_or_none(id=document_id)
            if invoice is not None:
                return await self.invoice_pdf(invoice)
        # Nothing to retry: the row names a document that is not there.
        raise Permanent(f"there is no {series.name.lower()} #{document_id} to attach")
