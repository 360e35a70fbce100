"""Book-keeping tables: reconciliations of M-Pesa's statement against our books.

Amounts from a statement are cents (fees are not always whole shillings); our own are
whole shillings elsewhere. Times are aware UTC.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model


class ReconGroup(StrEnum):
    """Where a reconciled row landed. Matched rows are counted, not kept one by one."""

    NOT_IN_BOOKS = "not_in_books"  # in the statement, not in our books
    NOT_IN_STATEMENT = "not_in_statement"  # completed in our books, missing from the statement
    AMOUNT_DIFFERS = "amount_differs"  # same receipt, another amount


class Reconciliation(Model):
    """One statement file reconciled: its period, balances, totals and counts. The file's
    SHA-256 is unique, so importing the same file again changes nothing."""

    id = fields.IntField(primary_key=True)
    sha256 = fields.CharField(max_length=64, unique=True)
    file_name = fields.CharField(max_length=200)
    short_code = fields.CharField(max_length=10, null=True)
    period_from = fields.DatetimeField()
    period_to = fields.DatetimeField()
    opening = fields.BigIntField(null=True)  # cents, as the statement says
    closing = fields.BigIntField(null=True)
    paid_in = fields.BigIntField()  # cents, the statement's rows other than fees
    withdrawn = fields.BigIntField()
    fees = fields.BigIntField()
    books_in = fields.BigIntField()  # cents, our completed payments in the period
    books_out = fields.BigIntField()  # cents, our paid payouts in the period
    rows = fields.IntField()  # completed rows read, fees included
    left_out = fields.IntField()  # rows not completed, not matched
    matched = fields.IntField()
    not_in_books = fields.IntField()
    not_in_statement = fields.IntField()
    amount_differs = fields.IntField()
    created_by: fields.ForeignKeyNullableRelation[Any] = fields.ForeignKeyField(
        "models.Person", related_name="reconciliations", null=True, on_delete=fields.SET_NULL
    )  # None: `callsheet reconcile` by an operator
    created_at = fields.DatetimeField()

    class Meta:
        table = "reconciliation"


class ReconciliationRow(Model):
    """A row that did not match, with what each side says."""

    id = fields.IntField(primary_key=True)
    reconciliation: fields.ForeignKeyRelation[Reconciliation] = fields.ForeignKeyField(
        "models.Reconciliation", related_name="exceptions", on_delete=fields.CASCADE
    )
    kind = fields.CharEnumField(ReconGroup, max_length=20)
    receipt = fields.CharField(max_length=20)
    completed_at = fields.DatetimeField()
    statement_amount = fields.BigIntField(null=True)  # cents; None: not in the statement
    books_amount = fields.BigIntField(null=True)  # cents; None: not in our books
    direction = fields.CharField(max_length=3)  # "in" or "out"
    other_party = fields.CharField(max_length=120, default="")
    line = fields.IntField(null=True)  # the statement's row number
    person: fields.ForeignKeyNullableRelation[Any] = fields.ForeignKeyField(
        "models.Person", related_name="reconciliation_rows", null=True, on_delete=fields.SET_NULL
    )  # the payer when the statement shows the phone whole, or ours
    payment_id = fields.IntField(null=True)
    payout_id = fields.IntField(null=True)

    class Meta:
        table = "reconciliation_row"
        indexes = (("reconciliation_id", "kind"),)
