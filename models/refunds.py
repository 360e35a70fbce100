"""Refunds: money given back to whoever paid a completed M-Pesa payment (/refund).

A whole payment goes back by Daraja's Reversal API, part of one by a B2C payment to the
payer's phone. A refund is never deleted and never sent twice: it is SENT from the moment the
sender claims it, so after a crash or a lost answer only Transaction Status settles it. The
refunds of one payment that are not rejected or failed never add up to more than it paid
(checked with the payment row locked). Times are aware UTC from the caller's clock.
"""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model

from models.enums import RefundMethod, RefundStatus


class Refund(Model):
    id = fields.IntField(primary_key=True)
    payment: fields.ForeignKeyRelation[Any] = fields.ForeignKeyField(
        "models.Payment", related_name="refunds", on_delete=fields.RESTRICT
    )
    # The payer when the refund was asked (None for a phone nobody on the list has).
    person: fields.ForeignKeyNullableRelation[Any] = fields.ForeignKeyField(
        "models.Person", related_name="refunds", null=True, on_delete=fields.SET_NULL
    )
    amount = fields.IntField()  # whole shillings given back
    method = fields.CharEnumField(RefundMethod, max_length=16)
    status = fields.CharEnumField(RefundStatus, max_length=16, default=RefundStatus.REQUESTED)
    reason = fields.CharField(max_length=200)
    phone = fields.CharField(max_length=16)  # E.164: where the money goes back
    # Ours, unique: "cs-ref-<payment>-<n>". B2C's OriginatorConversationID; a reversal's
    # Occasion (echoed in its result).
    originator_conversation_id = fields.CharField(max_length=64, unique=True)
    daraja_originator_id = fields.CharField(max_length=64, null=True)  # a reversal's, Daraja's
    conversation_id = fields.CharField(max_length=64, null=True)
    receipt = fields.CharField(max_length=20, null=True)  # M-Pesa's receipt of the refund
    result_code = fields.CharField(max_length=20, null=True)
    result_desc = fields.CharField(max_length=255, null=True)
    error = fields.CharField(max_length=300, null=True)  # why it failed, or what is checked
    requested_by: fields.ForeignKeyRelation[Any] = fields.ForeignKeyField(
        "models.Person", related_name="refunds_requested", on_delete=fields.RESTRICT
    )
    decided_by: fields.ForeignKeyNullableRelation[Any] = fields.ForeignKeyField(
        "models.Person", related_name="refunds_decided", null=True, on_delete=fields.RESTRICT
    )  # who approved it (the requester when one approval is enough), or rejected it
    entry: fields.OneToOneNullableRelation[Any] = fields.OneToOneField(
        "models.LedgerEntry", related_name="refund", null=True, on_delete=fields.RESTRICT
    )  # the REFUND entry it wrote on the payer's ledger once refunded
    # Of the charge the payment made for what it brought beyond what was owed, how much this
    # refund withdrew (an ADJUSTMENT beside its entry): money given back is that extra first.
    withdrawn = fields.IntField(default=0)
    requested_at = fields.DatetimeField()
    decided_at = fields.DatetimeField(null=True)
    sent_at = fields.DatetimeField(null=True)
    checked_at = fields.DatetimeField(null=True)  # last Transaction Status asked
    finished_at = fields.DatetimeField(null=True)  # refunded, failed or rejected
    updated_at = fields.DatetimeField()

    class Meta:
        table = "refund"
