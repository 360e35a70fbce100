"""Days off (/off) and broadcasts (/broadcast). Days are the company's calendar days (its
TIMEZONE); times are aware UTC from the caller's clock."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model


class DayOff(Model):
    """A person will not work from first_day to last_day, both included."""

    id = fields.IntField(primary_key=True)
    person: fields.ForeignKeyRelation[Any] = fields.ForeignKeyField(
        "models.Person", related_name="days_off", on_delete=fields.CASCADE
    )
    first_day = fields.DateField()
    last_day = fields.DateField()
    reason = fields.CharField(max_length=200, default="")
    created_at = fields.DatetimeField()

    class Meta:
        table = "day_off"
        indexes = (("person_id", "last_day"),)


class BroadcastStatus(StrEnum):
    DRAFT = "draft"  # previewed: nothing sent until Send
    SENDING = "sending"  # Send pressed: its messages are in the outbox
    DONE = "done"  # every message has an outcome
    CANCELLED = "cancelled"  # Cancel pressed on the preview


class Broadcast(Model):
    """One text to an audience. The recipients are fixed when the preview is shown, so Send
    sends to exactly the people it named."""

    id = fields.IntField(primary_key=True)
    sender: fields.ForeignKeyRelation[Any] = fields.ForeignKeyField(
        "models.Person", related_name="broadcasts", on_delete=fields.RESTRICT
    )
    audience = fields.CharField(max_length=100)  # as the preview names it: "riggers"
    text = fields.TextField()
    recipients: Any = fields.JSONField()  # person ids
    status = fields.CharEnumField(BroadcastStatus, max_length=16, default=BroadcastStatus.DRAFT)
    summary: Any = fields.JSONField(null=True)  # the counts last shown, so unchanged is quiet
    created_at = fields.DatetimeField()
    sent_at = fields.DatetimeField(null=True)
    done_at = fields.DatetimeField(null=True)

    class Meta:
        table = "broadcast"
        indexes = (("status", "id"),)
