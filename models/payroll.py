"""Payroll tables: day rates, pay sheet versions and their lines, and one payout per attempt.

Money is whole shillings in integer columns; times are aware UTC from the caller's clock.
"""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model

from models.enums import CallbackStatus, PayoutStatus, PaySheetStatus


class DayRate(Model):
    """A day rate for a role, or a person's own rate for a role (which wins)."""

    id = fields.IntField(primary_key=True)
    # "rigger" for the role's rate, "rigger#12" for person #12's own: unique either way
    # (a NULL person would not be unique in SQL).
    scope = fields.CharField(max_length=80, unique=True)
    role = fields.CharField(max_length=60)  # lower case, single spaces, as assignments store it
    person: fields.ForeignKeyNullableRelation[Any] = fields.ForeignKeyField(
        "models.Person", related_name="day_rates", null=True, on_delete=fields.CASCADE
    )
    amount = fields.IntField()
    set_by: fields.ForeignKeyNullableRelation[Any] = fields.ForeignKeyField(
        "models.Person", related_name="rates_set", null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "day_rate"


class PaySheet(Model):
    """One version of an event's pay sheet. Approved versions never change: a change makes
    the next version (a draft), and approving it supersedes this one."""

    id = fields.IntField(primary_key=True)
    event: fields.ForeignKeyRelation[Any] = fields.ForeignKeyField(
        "models.Event", related_name="pay_sheets", on_delete=fields.RESTRICT
    )
    version = fields.IntField()
    status = fields.CharEnumField(PaySheetStatus, max_length=16, default=PaySheetStatus.DRAFT)
    supersedes: fields.ForeignKeyNullableRelation[PaySheet] = fields.ForeignKeyField(
        "models.PaySheet", related_name="superseded_by", null=True, on_delete=fields.NO_ACTION
    )
    prepared_by: fields.ForeignKeyRelation[Any] = fields.ForeignKeyField(
        "models.Person", related_name="sheets_prepared", on_delete=fields.RESTRICT
    )
    submitted_by: fields.ForeignKeyNullableRelation[Any] = fields.ForeignKeyField(
        "models.Person", related_name="sheets_submitted", null=True, on_delete=fields.RESTRICT
    )
    submitted_at = fields.DatetimeField(null=True)
    approved_by: fields.ForeignKeyNullableRelation[Any] = fields.ForeignKeyField(
        "models.Person", related_name="sheets_approved", null=True, on_delete=fields.RESTRICT
    )
    approved_at = fields.DatetimeField(null=True)
    # Paying: who pressed Pay last (they get the live summary), when the Account Balance
    # query went out and Daraja's id for it, and why the run stopped, in words.
    pay_started_by: fields.ForeignKeyNullableRelation[Any] = fields.ForeignKeyField(
        "models.Person", related_name="pay_runs_started", null=True, on_delete=fields.RESTRICT
    )
    balance_asked_at = fields.DatetimeField(null=True)
    balance_conversation_id = fields.CharField(max_length=64, null=True)
    stop_reason = fields.CharField(max_length=300, null=True)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "pay_sheet"
        unique_together = (("event", "version"),)
        indexes = (("status", "event_id"),)


class PayLine(Model):
    """One confirmed crew member on one sheet version. `gross` and `net` are kept in step
    with the rate, adjustments and deduction by the payroll service on every change."""

    id = fields.IntField(primary_key=True)
    sheet: fields.ForeignKeyRelation[PaySheet] = fields.ForeignKeyField(
        "models.PaySheet", related_name="lines", on_delete=fields.CASCADE
    )
    person: fields.ForeignKeyRelation[Any] = fields.ForeignKeyField(
        "models.Person", related_name="pay_lines", on_delete=fields.RESTRICT
    )
    role = fields.CharField(max_length=60)
    rate = fields.IntField(null=True)  # None: no rate for this role or person yet
    own_rate = fields.BooleanField(default=False)  # the person's own rate, not the role's
    # [{"amount": 1000, "reason": "overtime"}, {"amount": -500, "reason": "advance"}]
    adjustments: Any = fields.JSONField(default=list)
    owed = fields.BigIntField(default=0)  # their balance when last read (frozen on approval)
    deduction = fields.IntField(default=0)
    left_out = fields.BooleanField(default=False)
    gross = fields.IntField(default=0)  # rate + adjustments
    net = fields.IntField(default=0)  # gross - deduction, never negative
    updated_at = fields.DatetimeField()

    class Meta:
        table = "pay_line"
        unique_together = (("sheet", "person"),)


class Payout(Model):
    """One B2C attempt to pay one line. Ours is the OriginatorConversationID, written before
    the request is sent, so a lost answer is looked up, never paid again."""

    id = fields.IntField(primary_key=True)
    # The line's sheet, kept here so the sender claims without a join (and locks one row).
    sheet: fields.ForeignKeyRelation[PaySheet] = fields.ForeignKeyField(
        "models.PaySheet", related_name="payouts", on_delete=fields.RESTRICT
    )
    line: fields.ForeignKeyRelation[PayLine] = fields.ForeignKeyField(
        "models.PayLine", related_name="payouts", on_delete=fields.RESTRICT
    )
    attempt = fields.IntField()
    status = fields.CharEnumField(PayoutStatus, max_length=16, default=PayoutStatus.QUEUED)
    originator_conversation_id = fields.CharField(max_length=64, unique=True)
    amount = fields.IntField()  # the line's net when queued
    phone = fields.CharField(max_length=16)  # E.164, the person's phone when queued
    conversation_id = fields.CharField(max_length=64, null=True)
    transaction_id = fields.CharField(max_length=20, null=True, unique=True)  # M-Pesa receipt
    result_code = fields.CharField(max_length=20, null=True)  # kept as Daraja sends it
    result_desc = fields.CharField(max_length=255, null=True)
    reason = fields.CharField(max_length=255, null=True)  # why it failed, for the manager
    checked_at = fields.DatetimeField(null=True)  # Transaction Status last asked

    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()
    sent_at = fields.DatetimeField(null=True)
    finished_at = fields.DatetimeField(null=True)

    class Meta:
        table = "payout"
        unique_together = (("line", "attempt"),)
        indexes = (("status", "sheet_id"),)


class OperatorResult(Model):
    """A result (or QueueTimeOut) post of an operator API, stored raw before Daraja hears
    200, then applied once by the pay sender (`services/payroll/results.py`)."""

    id = fields.IntField(primary_key=True)
    product = fields.CharField(max_length=24)  # services.daraja.Product
    timeout = fields.BooleanField(default=False)  # posted to the QueueTimeOutURL
    body = fields.TextField()  # the raw request body, as received
    remote_ip = fields.CharField(max_length=64, null=True)
    status = fields.CharEnumField(CallbackStatus, max_length=16, default=CallbackStatus.RECEIVED)
    note = fields.CharField(max_length=300, null=True)  # what applying it did, or why not
    received_at = fields.DatetimeField()
    applied_at = fields.DatetimeField(null=True)

    class Meta:
        table = "daraja_result"
        indexes = (("status", "received_at"),)
