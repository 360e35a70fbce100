"""Numbered documents: receipts for money movements and invoices to clients.

Numbers are gapless within a (series, year): each comes from `document_counter`, whose row is
locked and incremented in the transaction that writes the document, so a rollback returns
the number and two instances never share one. PDFs are drawn from these rows on demand.
"""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model

from models.enums import DocumentSeries, InvoiceStatus, ReceiptKind


class DocumentCounter(Model):
    """The last number given in one series for one year (in the company timezone)."""

    id = fields.IntField(primary_key=True)
    series = fields.CharEnumField(DocumentSeries, max_length=8)
    year = fields.IntField()
    issued = fields.IntField(default=0)  # the last number given

    class Meta:
        table = "document_counter"
        unique_together = (("series", "year"),)


class Receipt(Model):
    """One receipt per money movement: a completed payment, a paid payout, or a payment
    recorded by hand (which keeps its receipt when undone: the undoing is its own entry)."""

    id = fields.IntField(primary_key=True)
    number = fields.CharField(max_length=20, unique=True)  # R-2026-000123
    year = fields.IntField()
    seq = fields.IntField()
    kind = fields.CharEnumField(ReceiptKind, max_length=16)
    payment: fields.OneToOneNullableRelation[Any] = fields.OneToOneField(
        "models.Payment", related_name="document", null=True, on_delete=fields.RESTRICT
    )
    payout: fields.OneToOneNullableRelation[Any] = fields.OneToOneField(
        "models.Payout", related_name="document", null=True, on_delete=fields.RESTRICT
    )
    recorded_payment: fields.OneToOneNullableRelation[Any] = fields.OneToOneField(
        "models.RecordedPayment", related_name="document", null=True, on_delete=fields.RESTRICT
    )
    refund: fields.OneToOneNullableRelation[Any] = fields.OneToOneField(
        "models.Refund", related_name="document", null=True, on_delete=fields.RESTRICT
    )
    # Who paid (money in) or was paid (money out); None for a phone nobody on the list has.
    person: fields.ForeignKeyNullableRelation[Any] = fields.ForeignKeyField(
        "models.Person", related_name="receipts", null=True, on_delete=fields.SET_NULL
    )
    amount = fields.IntField()  # whole shillings
    issued_at = fields.DatetimeField()

    class Meta:
        table = "receipt"
        unique_together = (("year", "seq"),)


class Invoice(Model):
    """An invoice to a client for an event, paid later through the checkout page or recorded."""

    id = fields.IntField(primary_key=True)
    number = fields.CharField(max_length=20, unique=True)  # INV-2026-000045
    year = fields.IntField()
    seq = fields.IntField()
    event: fields.ForeignKeyRelation[Any] = fields.ForeignKeyField(
        "models.Event", related_name="invoices", on_delete=fields.RESTRICT
    )
    client_name = fields.CharField(max_length=120)
    client_email = fields.CharField(max_length=254)
    total = fields.BigIntField()  # whole shillings, the sum of the lines
    status = fields.CharEnumField(InvoiceStatus, max_length=16, default=InvoiceStatus.OPEN)
    created_by: fields.ForeignKeyNullableRelation[Any] = fields.ForeignKeyField(
        "models.Person", related_name="invoices_created", null=True, on_delete=fields.SET_NULL
    )
    issued_at = fields.DatetimeField()
    paid_at = fields.DatetimeField(null=True)
    updated_at = fields.DatetimeField()

    class Meta:
        table = "invoice"
        unique_together = (("year", "seq"),)


class InvoiceLine(Model):
    id = fields.IntField(primary_key=True)
    invoice: fields.ForeignKeyRelation[Invoice] = fields.ForeignKeyField(
        "models.Invoice", related_name="lines", on_delete=fields.CASCADE
    )
    position = fields.IntField()  # 1, 2, … as typed
    description = fields.CharField(max_length=120)
    amount = fields.BigIntField()

    class Meta:
        table = "invoice_line"
        unique_together = (("invoice", "position"),)
