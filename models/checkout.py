"""Client deposits paid from a checkout page (`/deposit`, `PUBLIC_BASE_URL/pay/<token>`).

A deposit is split into instalments; each is paid by M-Pesa STK push through the payments
package, and each push's Payment is linked to its instalment (`InstalmentPayment`), so what
is paid is always read from the payments themselves. Only the SHA-256 of a link's token is
kept (an invoice's link is also in the client's email, in the outbox like every email).
Times are aware UTC from the caller's clock.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model


class DepositStatus(StrEnum):
    OPEN = "open"  # something is still to pay
    PAID = "paid"  # every instalment paid


class Deposit(Model):
    id = fields.IntField(primary_key=True)
    event: fields.ForeignKeyRelation[Any] = fields.ForeignKeyField(
        "models.Event", related_name="deposits", on_delete=fields.RESTRICT
    )
    # The invoice this checkout pays (/invoice), or None for a deposit (/deposit).
    invoice: fields.OneToOneNullableRelation[Any] = fields.OneToOneField(
        "models.Invoice", related_name="checkout", null=True, on_delete=fields.RESTRICT
    )
    client_name = fields.CharField(max_length=100)
    # E.164: the phone the manager gave, then the one the client last paid from. Empty for an
    # invoice until the client types one on the page.
    phone = fields.CharField(max_length=16)
    total = fields.IntField()  # whole shillings
    created_by: fields.ForeignKeyRelation[Any] = fields.ForeignKeyField(
        "models.Person", related_name="deposits_made", on_delete=fields.RESTRICT
    )
    token_hash = fields.CharField(max_length=64, unique=True)  # sha256 hex of the link's token
    expires_at = fields.DatetimeField()
    status = fields.CharEnumField(DepositStatus, max_length=16, default=DepositStatus.OPEN)
    # Every push for the deposit claims the next value by a conditional update of this
    # counter: two presses (or two instances) never send two prompts at once.
    pushes = fields.IntField(default=0)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "deposit"
        indexes = (("status", "created_at"),)


class Instalment(Model):
    """One part of a deposit: pushed_at and missed_at claim its due-date push and its
    missed alert (conditional updates: once, whichever instance gets there first)."""

    id = fields.IntField(primary_key=True)
    deposit: fields.ForeignKeyRelation[Deposit] = fields.ForeignKeyField(
        "models.Deposit", related_name="instalments", on_delete=fields.CASCADE
    )
    number = fields.IntField()  # 1-based
    amount = fields.IntField()  # whole shillings
    due_at = fields.DatetimeField()
    pushed_at = fields.DatetimeField(null=True)
    missed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "instalment"
        unique_together = (("deposit", "number"),)
        indexes = (("pushed_at", "due_at"), ("missed_at", "due_at"))


class InstalmentPayment(Model):
    """A payment made for an instalment: each payment pays at most one instalment."""

    id = fields.IntField(primary_key=True)
    instalment: fields.ForeignKeyRelation[Instalment] = fields.ForeignKeyField(
        "models.Instalment", related_name="links", on_delete=fields.CASCADE
    )
    payment: fields.OneToOneRelation[Any] = fields.OneToOneField(
        "models.Payment", related_name="instalment_link", on_delete=fields.RESTRICT
    )
    scheduled = fields.BooleanField(default=False)  # pushed on its due date, not pressed
    created_at = fields.DatetimeField()

    class Meta:
        table = "instalment_payment"
