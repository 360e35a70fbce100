"""Money recorded by hand (/record): cash, bank, Airtel Money, cheques, and M-Pesa paid
straight to the paybill (found by a statement reconciliation).

A recorded payment is never deleted: /unrecord writes a reversing ledger entry and fills in
who undid it, when and why. Times are aware UTC from the caller's clock.
"""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model

from models.enums import PaymentMethod

HOW_PAID = {
    PaymentMethod.CASH: "in cash",
    PaymentMethod.BANK: "by bank transfer",
    PaymentMethod.AIRTEL: "by Airtel Money",
    PaymentMethod.CHEQUE: "by cheque",
    PaymentMethod.MPESA: "by M-Pesa to our paybill",
}


class RecordedPayment(Model):
    id = fields.IntField(primary_key=True)
    person: fields.ForeignKeyRelation[Any] = fields.ForeignKeyField(
        "models.Person", related_name="recorded_payments", on_delete=fields.RESTRICT
    )
    amount = fields.IntField()  # whole shillings received, positive
    method = fields.CharEnumField(PaymentMethod, max_length=16)
    reference = fields.CharField(max_length=60)  # as typed, single spaces
    # The reference without spaces, case-folded: "ABC 123" and "abc123" are one transfer.
    # NULL once undone (NULLs are never equal in a UNIQUE index): the reference is free to
    # be recorded again, right this time.
    reference_key = fields.CharField(max_length=60, null=True)
    recorded_by: fields.ForeignKeyRelation[Any] = fields.ForeignKeyField(
        "models.Person", related_name="payments_recorded", on_delete=fields.RESTRICT
    )
    recorded_at = fields.DatetimeField()
    entry: fields.OneToOneRelation[Any] = fields.OneToOneField(
        "models.LedgerEntry", related_name="recorded_payment", on_delete=fields.RESTRICT
    )  # the credit it wrote
    undone_by: fields.ForeignKeyNullableRelation[Any] = fields.ForeignKeyField(
        "models.Person", related_name="payments_unrecorded", null=True, on_delete=fields.RESTRICT
    )
    undone_at = fields.DatetimeField(null=True)
    undo_reason = fields.CharField(max_length=200, null=True)
    undo_entry: fields.OneToOneNullableRelation[Any] = fields.OneToOneField(
        "models.LedgerEntry",
        related_name="unrecorded_payment",
        null=True,
        on_delete=fields.RESTRICT,
    )  # the reversing entry /unrecord wrote

    @property
    def how_paid(self) -> str:
        """'in cash', 'by bank transfer', …, as the payer's receipt says it."""
        return HOW_PAID[self.method]

    class Meta:
        table = "recorded_payment"
        # Two managers recording one bank transfer at once: the second insert fails here.
        unique_together = (("method", "reference_key"),)
        indexes = (("person_id", "recorded_at"),)
